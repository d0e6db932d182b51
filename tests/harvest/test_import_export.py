"""import_papers (snapshot and daily-listing JSONL) and export_papers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.factories import LabReportFactory
from tracker.papers.models import Paper, PaperVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot(shared_data: Path) -> Path:
    return (
        shared_data / "arxiv_corpus" / "kaggle_snapshot_head" / "arxiv-metadata-oai-snapshot.json"
    )


@pytest.fixture
def daily(shared_data: Path) -> Path:
    return shared_data / "arxiv_corpus" / "daily_listings" / "2025-03-18.jsonl"


def _import(*args: str) -> str:
    out = io.StringIO()
    call_command("import_papers", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_snapshot_import_is_idempotent(snapshot: Path) -> None:
    first = _import(str(snapshot))
    second = _import(str(snapshot))

    assert first.strip() == "arxiv-metadata-oai-snapshot.json: 200 lines: 200 new"
    assert second.strip() == "arxiv-metadata-oai-snapshot.json: 200 lines: 0 new, 200 already seen"
    assert Paper.objects.count() == 200
    paper = Paper.objects.get(arxiv_id="0704.0001")
    assert paper.title.startswith("Calculation of prompt diphoton production")
    assert paper.authors[1:3] == ["E. L. Berger", "P. M. Nadolsky"]
    assert paper.version == PaperVersion.objects.get(paper=paper).version == 2
    assert paper.published_at.isoformat() == "2007-04-02T19:18:42+00:00"


def test_import_filters_by_category_and_date(snapshot: Path) -> None:
    _import(str(snapshot), "--category", "math", "--since", "2008-01-01")
    papers = list(Paper.objects.all())
    assert 0 < len(papers) < 73
    for paper in papers:
        assert any(c == "math" or c.startswith("math.") for c in paper.categories)
        assert paper.updated_at_source.date().isoformat() >= "2008-01-01"


def test_daily_listing_import_dedupes_on_id(daily: Path) -> None:
    out = _import(str(daily), "--category", "cs.CL")
    assert "465 lines: 17 new, 4 already seen, 444 filtered out" in out
    assert Paper.objects.count() == len(set(Paper.objects.values_list("arxiv_id", flat=True)))
    assert Paper.objects.filter(published_at__date="2025-03-18").count() == Paper.objects.count()


def test_bad_lines_are_reported_and_the_rest_imported(tmp_path: Path, snapshot: Path) -> None:
    lines = snapshot.read_text(encoding="utf-8").splitlines()[:3]
    bad = tmp_path / "mixed.jsonl"
    bad.write_text("\n".join([lines[0], "{not json", '{"id": "x"}', lines[1]]) + "\n")
    err = io.StringIO()
    out = io.StringIO()
    call_command("import_papers", str(bad), "--no-progress", stdout=out, stderr=err)
    assert "4 lines: 2 new, 2 skipped (1 not JSON, 1 not a paper record)" in out.getvalue()
    assert "mixed.jsonl:2" in err.getvalue() and "mixed.jsonl:3" in err.getvalue()


def test_export_formats(snapshot: Path, tmp_path: Path) -> None:
    _import(str(snapshot))
    LabReportFactory(title="Qwen3 report", lab="Qwen")

    target = tmp_path / "papers.jsonl"
    call_command("export_papers", "--format", "jsonl", "--output", str(target))
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == 201
    assert set(rows[0]) == {
        "arxiv_id", "title", "abstract", "authors", "categories",
        "primary_category", "version", "kind", "lab", "sources",
    }  # fmt: skip
    assert rows[-1]["kind"] == "lab_report" and rows[-1]["lab"] == "Qwen"

    out = io.StringIO()
    call_command("export_papers", "--format", "csv", stdout=out)
    assert len(list(csv.DictReader(io.StringIO(out.getvalue())))) == 201

    out = io.StringIO()
    call_command("export_papers", "--format", "bibtex", stdout=out)
    text = out.getvalue()
    assert text.count("@article{") == 200 and text.count("@misc{") == 1
    assert "eprint = {0704.0001}" in text


def test_import_queues_embedding_of_new_papers_only(snapshot: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The worker embeds an import at once, not at the beat's next sweep minutes later."""
    from workers.tasks import embed_pending_papers_task

    queued: list[tuple] = []
    monkeypatch.setattr(embed_pending_papers_task, "delay", lambda *a: queued.append(a))

    _import(str(snapshot))
    assert queued == [()]
    _import(str(snapshot))  # nothing new: nothing to embed
    assert queued == [()]
