"""import_papers: a line that cannot be stored is skipped and counted with its reason, and
never stops the lines around it; the summary accounts for every line read. These run on
SQLite and, with DATABASE_URL, on PostgreSQL (which refuses NUL in text and JSON)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.papers.imports import snapshot_import
from tracker.papers.models import Paper

pytestmark = pytest.mark.django_db

DAILY = Path("arxiv_corpus") / "daily_listings"


def _import(*paths: Path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_papers", *map(str, paths), "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _good_lines(shared_data: Path, count: int = 4) -> list[str]:
    path = shared_data / DAILY / "2025-12-01.jsonl"
    if not path.is_file():
        path = sorted((shared_data / DAILY).glob("*.jsonl"))[-1]
    return path.read_text(encoding="utf-8").splitlines()[:count]


def _with(line: str, **changes: object) -> str:
    return json.dumps({**json.loads(line), **changes})


BAD_LINES = {
    "nul_in_the_abstract": (
        lambda good: _with(good, summary="before\u0000after"),
        "NUL or unpaired surrogate",
    ),
    "lone_surrogate_in_an_author": (
        # json.dumps writes it as the escape \ud800, the way such lines arrive.
        lambda good: _with(good, authors=["Ada \ud800 Lovelace"]),
        "NUL or unpaired surrogate",
    ),
    "nested_100000_deep": (lambda good: "[" * 100_000 + "]" * 100_000, "nested too deep"),
    "value_nested_100000_deep": (
        lambda good: good[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "nested too deep",
    ),
}


@pytest.mark.parametrize("name", list(BAD_LINES))
def test_a_bad_line_is_skipped_and_counted_and_its_batch_is_stored(
    name: str, shared_data: Path, tmp_path: Path
) -> None:
    make, reason = BAD_LINES[name]
    good = _good_lines(shared_data)
    bad = make(good[0].replace(json.loads(good[0])["id"], "2512.99999"))
    path = tmp_path / "2025-12-01.jsonl"
    path.write_text("\n".join([good[0], good[1], bad, good[2], good[3]]) + "\n", "utf-8")

    out, err = _import(path)

    assert Paper.objects.count() == 4
    assert not Paper.objects.filter(arxiv_id="2512.99999").exists()
    assert f"5 lines: 4 new, 1 skipped (1 {reason}" in out
    assert "2025-12-01.jsonl:3" in err

    # A second run stores nothing more and fails nowhere.
    out, _ = _import(path)
    assert f"5 lines: 0 new, 4 already seen, 1 skipped (1 {reason}" in out


def test_the_summary_accounts_for_every_line_across_files(shared_data: Path) -> None:
    paths = sorted((shared_data / DAILY).glob("*.jsonl"))[:3]
    lines = [line for p in paths for line in p.read_text("utf-8").splitlines() if line.strip()]
    unique = len({json.loads(line)["id"] for line in lines})

    out, _ = _import(*paths)

    total = out.strip().splitlines()[-1]
    assert total == (
        f"all 3 files: {len(lines):,} lines: {unique:,} new, {len(lines) - unique:,} already seen"
    )
    assert Paper.objects.count() == unique


def test_the_whole_daily_corpus_adds_up(shared_data: Path) -> None:
    """The 19 daily listings: 5,036 lines, 4,212 distinct papers."""
    paths = sorted((shared_data / DAILY).glob("*.jsonl"))
    if len(paths) != 19:
        pytest.skip("the daily-listing corpus is not the one of 19 files")

    out, _ = _import(*paths)

    assert out.strip().splitlines()[-1] == (
        "all 19 files: 5,036 lines: 4,212 new, 824 already seen"
    )


# --- property: whatever the lines, the command stores the valid ones and counts the rest ----

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
_TITLE = _TEXT.filter(lambda t: bool(t.split()))
_VALID = st.builds(
    lambda n, title, summary, authors, cats: {
        "id": f"2601.{n:05d}",
        "title": title,
        "summary": summary,
        "authors": authors,
        "categories": cats,
        "comment": None,
    },
    st.integers(0, 30),
    _TITLE,
    _TEXT,
    st.lists(_TEXT, max_size=3),
    st.lists(st.sampled_from(["cs.CL", "cs.LG", "cs.CV"]), max_size=2),
)


def _line(obj: dict[str, object]) -> str:
    return json.dumps(obj, ensure_ascii=True)


def _bad_lines() -> st.SearchStrategy[str]:
    poisoned = st.tuples(_VALID, st.sampled_from(["\x00", "\ud800", "\udfff"])).map(
        lambda vs: _line({**vs[0], "title": vs[0]["title"] + vs[1]})
    )
    wrong_types = st.tuples(
        _VALID, st.sampled_from([("authors", 5), ("categories", 7), ("id", 12), ("title", "")])
    ).map(lambda vk: _line({**vk[0], vk[1][0]: vk[1][1]}))
    not_json = st.text(max_size=30).map(lambda t: "{" + t).filter(lambda t: "\n" not in t)
    nested = st.integers(1_000, 100_000).map(lambda d: "[" * d + "]" * d)
    not_an_object = st.sampled_from(["[]", "42", '"2601.00001"', "null", "true"])
    return st.one_of(poisoned, wrong_types, not_json, nested, not_an_object)


@settings(
    max_examples=40,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(
        st.one_of(_VALID.map(lambda v: ("valid", v)), _bad_lines().map(lambda b: ("bad", b))),
        max_size=25,
    ),
    batch_size=st.sampled_from([1, 3, 1000]),
)
def test_import_never_crashes_stores_the_valid_lines_and_counts_the_rest(
    lines: list[tuple[str, object]], batch_size: int, tmp_path: Path
) -> None:
    Paper.objects.all().delete()
    text = [_line(v) if kind == "valid" else str(v) for kind, v in lines]
    text = [t for t in text if t.strip()]
    path = tmp_path / "generated.jsonl"
    path.write_text("\n".join(text) + "\n", encoding="utf-8", errors="surrogatepass")
    valid_ids = {v["id"] for kind, v in lines if kind == "valid"}  # type: ignore[index]
    valid_lines = sum(1 for kind, _ in lines if kind == "valid")

    result = snapshot_import(path, batch_size=batch_size)

    assert set(Paper.objects.values_list("arxiv_id", flat=True)) == valid_ids
    assert result.lines == len(text)
    assert result.bad == len(text) - valid_lines
    assert (result.new, result.seen, result.updated, result.filtered) == (
        len(valid_ids),
        valid_lines - len(valid_ids),
        0,
        0,
    )
    assert sum(result.bad_reasons.values()) == result.bad
    summary = result.summary()
    assert summary.startswith(f"{result.lines:,} lines: {result.new:,} new")
    assert (f"{result.bad:,} skipped (" in summary) == bool(result.bad)
