"""The arXiv harvester against a fake API on loopback that replays recorded entries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from pipeline.errors import HarvestError
from tests.factories import PaperFactory
from tests.harvest.fakes import ArxivListing, FakeServer, entry_id, entry_updated, recorded
from tracker.papers.harvest import arxiv_query_validate, source_harvest
from tracker.papers.models import HarvestRun, Paper, PaperSource, PaperVersion, RunStatus, Source
from tracker.papers.services import source_create

pytestmark = pytest.mark.django_db

Arxiv = tuple[FakeServer, ArxivListing]


def _everything(name: str = "testing") -> Source:
    # A window reaching back before the oldest recorded entry (2001).
    return source_create(kind="arxiv", name=name, query="all:testing", window_days=365 * 30)


def _stored() -> set[tuple[str, int]]:
    return set(Paper.objects.values_list("arxiv_id", "version"))


def test_add_source_then_harvest_stores_exactly_the_recorded_entries(
    arxiv: Arxiv, entries: list[bytes]
) -> None:
    call_command(
        "add_source", "arxiv", "testing", "--query", "all:testing", "--window-days", "10950"
    )
    call_command("harvest", "testing")

    assert _stored() == {entry_id(e) for e in entries}
    assert PaperVersion.objects.count() == len(entries)
    assert PaperSource.objects.count() == len(entries)
    run = HarvestRun.objects.get()
    assert (run.status, run.fetched, run.new, run.updated) == (
        RunStatus.SUCCEEDED,
        len(entries),
        len(entries),
        0,
    )
    source = Source.objects.get()
    assert source.cursor == max(entry_updated(e) for e in entries)
    server, _ = arxiv
    first = server.requests[0].params
    assert first["sortBy"] == "lastUpdatedDate" and first["sortOrder"] == "descending"


def test_harvest_parses_every_field_of_a_recorded_entry(arxiv: Arxiv) -> None:
    source_harvest(_everything())
    paper = Paper.objects.get(arxiv_id="2202.12139")
    assert paper.title.startswith("Testing Deep Learning Models")
    assert paper.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert paper.categories == ["cs.SE", "cs.LG"] and paper.primary_category == "cs.SE"
    assert paper.doi == "10.1109/ICSTW55395.2022.00035"
    assert paper.journal_ref.startswith("Artificial Intelligence in Software Testing")
    assert paper.pdf_url == "https://arxiv.org/pdf/2202.12139v1"
    assert paper.published_at.isoformat() == "2022-02-24T15:05:19+00:00"


def test_harvest_stores_the_affiliations_arxiv_gives_and_the_lab_they_name(arxiv: Arxiv) -> None:
    from tracker.papers.labs import Evidence, papers_labs

    source_harvest(_everything())
    paper = Paper.objects.get(arxiv_id="0804.0970")
    assert paper.authors == ["Marie-Claude Gaudel", "Pascale Le Gall"]
    assert paper.affiliations == [["LRI"], ["IBISC"]]
    assert (papers_labs([paper])[paper.pk].lab, papers_labs([paper])[paper.pk].evidence) == (
        "LRI",
        Evidence.AFFILIATION,
    )
    # Every other recorded entry names none, and stores none.
    assert Paper.objects.exclude(affiliations=[]).count() == 1


def test_second_harvest_of_same_window_adds_nothing(arxiv: Arxiv) -> None:
    source = _everything()
    source_harvest(source)
    before = Paper.objects.count()
    server, _ = arxiv
    server.requests.clear()

    run = source_harvest(Source.objects.get(pk=source.pk))

    assert (run.status, run.new, run.updated) == (RunStatus.SUCCEEDED, 0, 0)
    assert Paper.objects.count() == before
    assert len(server.requests) == 1, "stops at the cursor on the first page"


def test_harvest_stops_at_the_cursor(arxiv: Arxiv, entries: list[bytes]) -> None:
    server, listing = arxiv
    ordered = sorted(entries, key=entry_updated, reverse=True)
    listing.replace(ordered[5:])
    source = _everything()
    source_harvest(source)
    listing.replace(ordered)
    server.requests.clear()

    run = source_harvest(Source.objects.get(pk=source.pk))

    assert (run.new, run.fetched) == (5, 10)
    assert len(server.requests) == 1
    assert Source.objects.get(pk=source.pk).cursor == entry_updated(ordered[0])


def test_first_harvest_takes_only_the_window(arxiv: Arxiv, entries: list[bytes]) -> None:
    ordered = sorted(entries, key=entry_updated, reverse=True)
    newest = entry_updated(ordered[0])
    source = source_create(kind="arxiv", name="w", query="all:testing", window_days=400)
    expected = {entry_id(e) for e in ordered if entry_updated(e) > newest - timedelta(days=399)}
    assert 0 < len(expected) < len(entries)

    with time_machine.travel(newest + timedelta(days=1), tick=False):
        source_harvest(source)

    assert _stored() == expected


def test_new_version_updates_the_paper_is_noted_and_never_duplicates(
    arxiv: Arxiv, entries: list[bytes]
) -> None:
    _server, listing = arxiv
    source = _everything()
    source_harvest(source)
    old = next(e for e in entries if entry_id(e) == ("2202.12139", 1))
    revised = (
        old.replace(b"2202.12139v1", b"2202.12139v2")
        .replace(b"<updated>2022-02-24T15:05:19Z", b"<updated>2026-05-01T00:00:00Z")
        .replace(b"Testing Deep Learning Models:", b"Testing Deep Learning Models (revised):")
    )
    listing.replace([*(e for e in entries if e is not old), revised])

    run = source_harvest(Source.objects.get(pk=source.pk))

    assert (run.new, run.updated) == (0, 1)
    paper = Paper.objects.get(arxiv_id="2202.12139")
    assert paper.version == 2 and paper.is_revised
    assert "(revised)" in paper.title
    assert list(paper.versions.values_list("version", flat=True)) == [1, 2]
    assert Paper.objects.filter(arxiv_id="2202.12139").count() == 1


def test_query_validation_reports_the_api_error(arxiv: Arxiv, shared_data: Path) -> None:
    server, _ = arxiv
    assert arxiv_query_validate("all:testing") == 100
    error = recorded(shared_data, "id_abc_")
    from tests.harvest.fakes import Reply

    server.fault(Reply(status=400, body=str(error["body"]).encode()))
    with pytest.raises(HarvestError, match="arXiv API error"):
        arxiv_query_validate("id:abc")


def test_harvest_command_reports_a_failure(arxiv: Arxiv) -> None:
    from django.core.management.base import CommandError

    from tests.harvest.fakes import Reply

    _everything()
    server, _ = arxiv
    server.fault(Reply(body=b"<feed"), times=None)
    with pytest.raises(CommandError, match="1 of 1 harvests failed"):
        call_command("harvest", "--all")
    assert "malformed" in HarvestRun.objects.get().error


def test_stored_papers_of_other_sources_are_left_alone(arxiv: Arxiv) -> None:
    mine = PaperFactory(arxiv_id="2202.12139", version=3, title="Kept as it is")
    source_harvest(_everything())
    mine.refresh_from_db()
    assert (mine.version, mine.title) == (3, "Kept as it is")


def test_hitting_the_result_cap_stores_what_came_and_says_what_is_missing(
    arxiv: Arxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import arxiv as arxiv_harvester

    monkeypatch.setattr(arxiv_harvester, "RESULT_CAP", 30)
    source = _everything()
    with pytest.raises(HarvestError, match="result cap"):
        source_harvest(source)
    run = HarvestRun.objects.get()
    assert run.status == RunStatus.FAILED and "OAI-PMH" in run.error
    assert Paper.objects.count() == 30
    assert Source.objects.get(pk=source.pk).cursor is not None
