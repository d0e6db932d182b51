"""An empty page in the middle of a paging run is a hiccup, whatever total it states: the
run trusts the total its earlier pages gave, retries the page, and fails (cursor kept)
when it stays empty. Only an empty first page that says 0 means "nothing new"."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import TransientHarvestError
from tests.harvest.fakes import ArxivListing, FakeServer, Reply, Request, feed, recorded
from tracker.papers.harvest import source_harvest
from tracker.papers.models import HarvestRun, Paper, RunStatus, Source
from tracker.papers.services import source_create

pytestmark = pytest.mark.django_db

Arxiv = tuple[FakeServer, ArxivListing]


def _source() -> Source:
    return source_create(kind="arxiv", name="testing", query="all:testing", window_days=10950)


def _page_at(start: int) -> object:
    return lambda request: request.params.get("start") == str(start)


def _empty_saying_zero(shared_data: Path) -> Reply:
    # arXiv's own answer with no entries and totalResults 0, as recorded.
    return Reply(body=str(recorded(shared_data, "id_0000.0000_")["body"]).encode())


def _empty_page(variant: str, shared_data: Path, total: int) -> Reply:
    if variant == "says_zero":
        return _empty_saying_zero(shared_data)
    return Reply(body=feed([], total=total, start=10))


@pytest.mark.parametrize("variant", ["says_zero", "repeats_total"])
def test_empty_middle_page_that_stays_empty_fails_the_run_and_keeps_the_cursor(
    variant: str, arxiv: Arxiv, entries: list[bytes], shared_data: Path
) -> None:
    server, _ = arxiv
    source = _source()
    reply = _empty_page(variant, shared_data, len(entries))
    server.fault(reply, when=_page_at(10), times=None)

    with pytest.raises(TransientHarvestError, match=f"empty page at start=10 of {len(entries)}"):
        source_harvest(source)

    run = HarvestRun.objects.get()
    assert run.status == RunStatus.FAILED and "temporary failure" in run.error
    assert Paper.objects.count() == 10
    assert Source.objects.get(pk=source.pk).cursor is None
    assert sum(1 for r in server.requests if r.params.get("start") == "10") == 3


@pytest.mark.parametrize("variant", ["says_zero", "repeats_total"])
def test_empty_middle_page_once_is_retried_and_every_paper_is_stored(
    variant: str, arxiv: Arxiv, entries: list[bytes], shared_data: Path, sleeps: list[float]
) -> None:
    server, _ = arxiv
    source = _source()
    reply = _empty_page(variant, shared_data, len(entries))
    server.fault(reply, when=_page_at(10))

    run = source_harvest(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Paper.objects.count() == len(entries)
    assert len(sleeps) == 1


def test_the_run_after_a_failed_one_stores_what_the_failed_one_missed(
    arxiv: Arxiv, entries: list[bytes], shared_data: Path
) -> None:
    server, _ = arxiv
    source = _source()
    server.fault(_empty_saying_zero(shared_data), when=_page_at(10), times=3)
    with pytest.raises(TransientHarvestError):
        source_harvest(source)

    run = source_harvest(Source.objects.get(pk=source.pk))

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Paper.objects.count() == len(entries)


def test_a_later_page_saying_zero_does_not_end_the_run_early(
    arxiv: Arxiv, entries: list[bytes]
) -> None:
    """A full page whose totalResults says 0 is not the last page either."""
    server, listing = arxiv

    def page_two_says_zero(request: Request) -> bool:
        return request.params.get("start") == "10"

    body = feed(listing.sorted()[10:20], total=0, start=10)
    server.fault(Reply(body=body), when=page_two_says_zero)

    run = source_harvest(_source())

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Paper.objects.count() == len(entries)


def test_an_empty_first_page_saying_zero_is_nothing_new(
    arxiv: Arxiv, shared_data: Path, sleeps: list[float]
) -> None:
    server, _ = arxiv
    source = _source()
    server.fault(_empty_saying_zero(shared_data), times=None)

    run = source_harvest(source)

    assert (run.status, run.fetched, run.new) == (RunStatus.SUCCEEDED, 0, 0)
    assert Source.objects.get(pk=source.pk).cursor is None
    assert len(server.requests) == 1 and sleeps == []
