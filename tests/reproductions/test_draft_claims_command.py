"""manage.py draft_claims: JSON lines in, drafted claims out; bad lines skipped and reported."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.pipeline.examples import ACCURACY_CLAIM, SENTENCE
from tests.pipeline.fake_llm import fake_llm

GOOD = {
    "id": "2501.00001",
    "title": "Foo",
    "abstract": "We use 7B parameters. Foo achieves 84.2% accuracy on ImageNet.",
    "comment": "12 pages",
}


def _run(tmp_path: Path, lines: list[str]) -> tuple[list[dict], str, str]:  # type: ignore[type-arg]
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("draft_claims", input=str(source), output=str(target), stdout=out, stderr=err)
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    return rows, out.getvalue(), err.getvalue()


def test_each_good_line_gets_its_claims_and_bad_lines_are_counted(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD),
        "{not json",
        json.dumps({"title": "no id"}),
        json.dumps({"id": "2", "title": "Bar", "abstract": 42}),
        json.dumps(["a", "list"]),
        "",
        json.dumps(
            {"id": 3, "title": "Nothing measured", "abstract": "A survey.", "comment": None}
        ),
    ]
    rows, out, err = _run(tmp_path, lines)
    assert rows == [
        {
            "id": "2501.00001",
            "claims": [{**ACCURACY_CLAIM, "quote": SENTENCE}],
        },
        {"id": 3, "claims": []},
    ]
    assert out.strip() == "2 papers, 1 claims drafted; 4 bad lines skipped"
    assert "line 2: skipped, not JSON" in err
    assert 'line 3: skipped, no "id"' in err
    assert 'line 4: skipped, "abstract" is not text' in err
    assert "line 5: skipped, not a JSON object" in err
    assert "Traceback" not in err


def test_missing_input_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such input file"):
        call_command("draft_claims", input=str(tmp_path / "nope"), output=str(tmp_path / "o"))


def test_with_an_llm_endpoint_its_validated_claims_are_written(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    with fake_llm() as llm:
        settings.LLM_BASE_URL, settings.LLM_MODEL = llm.url, "m"
        good = {**ACCURACY_CLAIM, "metric": "top-1 accuracy", "quote": SENTENCE}
        invented = {**good, "value": 99.0, "quote": "Foo achieves 99% on everything."}
        llm.content = json.dumps({"claims": [good, invented]})
        rows, out, _ = _run(tmp_path, [json.dumps(GOOD)])
    assert rows[0]["claims"] == [good]
    assert "1 LLM items dropped as unsupported by the text" in out
    assert "0 papers drafted by the rules after an LLM failure" in out
