"""A paper stored without a version number (an import of daily listings) keeps its text
when arXiv later gives a numbered version: the paper page says what changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from pipeline.records import PaperRecord
from tests.conftest import client_for
from tests.harvest.fakes import ArxivListing, FakeServer, entry_id
from tracker.papers.harvest import source_harvest
from tracker.papers.models import UNNUMBERED_VERSION, Paper, PaperVersion
from tracker.papers.services import papers_upsert, source_create
from tracker.papers.versions import version_changes

Arxiv = tuple[FakeServer, ArxivListing]
OLD_ABSTRACT = "An earlier abstract, as the daily listing gave it."


def _import_listing_line(tmp_path: Path, arxiv_id: str) -> None:
    line = {
        "id": arxiv_id,
        "categories": ["cs.LG"],
        "authors": ["Ada Lovelace"],
        "title": "An earlier title",
        "comment": "",
        "summary": OLD_ABSTRACT,
    }
    path = tmp_path / "2025-03-01.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    call_command("import_papers", str(path), "--no-progress")


def test_imported_text_is_kept_when_a_harvest_brings_v2(
    cast, arxiv: Arxiv, entries: list[bytes], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    arxiv_id, version = next(entry_id(e) for e in entries if entry_id(e)[1] >= 2)
    _import_listing_line(tmp_path, arxiv_id)
    assert not PaperVersion.objects.exists()

    source_harvest(source_create(kind="arxiv", name="t", query="all:testing", window_days=10950))

    paper = Paper.objects.get(arxiv_id=arxiv_id)
    assert paper.version == version and paper.abstract != OLD_ABSTRACT
    history = list(paper.versions.order_by("version"))
    assert [v.version for v in history] == [UNNUMBERED_VERSION, version]
    assert (history[0].title, history[0].abstract) == ("An earlier title", OLD_ABSTRACT)
    newest, earliest = version_changes(history)
    assert "title changed" in newest.changes and newest.changes[1].startswith("abstract changed")
    assert earliest.changes == ["first text seen, imported without a version number"]

    page = client_for(cast.ada).get(reverse("papers:detail", args=[paper.pk]))
    html = page.content.decode()
    assert "v?" in html and "imported without a version number" in html
    assert f"v{version}</strong>" in html


@pytest.mark.django_db
def test_the_unnumbered_text_is_kept_once_and_only_when_replaced() -> None:
    def record(version: int | None, abstract: str) -> PaperRecord:
        return PaperRecord(arxiv_id="2503.00001", version=version, title="T", abstract=abstract)

    papers_upsert([record(None, "listing text")])
    papers_upsert([record(None, "listing text again")])  # no newer version: nothing kept
    assert not PaperVersion.objects.exists()

    papers_upsert([record(3, "v3 text")])
    papers_upsert([record(4, "v4 text")])  # v3 is in the history: nothing more to keep

    versions = dict(PaperVersion.objects.values_list("version", "abstract"))
    assert versions == {UNNUMBERED_VERSION: "listing text", 3: "v3 text", 4: "v4 text"}


@pytest.mark.django_db
def test_a_numbered_v1_after_an_import_keeps_both_texts() -> None:
    papers_upsert([PaperRecord(arxiv_id="2503.00002", title="T", abstract="listing")])
    papers_upsert([PaperRecord(arxiv_id="2503.00002", version=1, title="T", abstract="v1")])
    papers_upsert([PaperRecord(arxiv_id="2503.00002", version=2, title="T", abstract="v2")])

    assert dict(PaperVersion.objects.values_list("version", "abstract")) == {1: "v1", 2: "v2"}
    assert Paper.objects.get().abstract == "v2"
