"""Every fault of the arXiv API, on page 2 of a harvest: the run is recorded failed (or
retried) with a clear error, stored papers are untouched, and the cursor does not move
past what was committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.errors import HarvestError, TransientHarvestError
from tests.factories import PaperFactory
from tests.harvest.fakes import (
    ArxivListing,
    FakeServer,
    Reply,
    Request,
    entry_updated,
    feed,
    recorded,
)
from tracker.papers.harvest import source_harvest
from tracker.papers.models import HarvestRun, Paper, RunStatus, Source
from tracker.papers.services import source_create

pytestmark = pytest.mark.django_db

Arxiv = tuple[FakeServer, ArxivListing]

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol4;</title></feed>"""


def _page_two(request: Request) -> bool:
    return request.params.get("start") == "10"


def _invalid_dates(entries: list[bytes]) -> bytes:
    ordered = sorted(entries, key=entry_updated, reverse=True)[10:20]
    broken = (
        ordered[3]
        .replace(b"<updated>", b"<updated>2024-13-45T99:00:00Z<!--", 1)
        .replace(b"</updated>", b"--></updated>", 1)
    )
    return feed([*ordered[:3], broken, *ordered[4:]], total=100, start=10)


def _non_utf8(entries: list[bytes]) -> bytes:
    ordered = sorted(entries, key=entry_updated, reverse=True)[10:20]
    body = feed(ordered, total=100, start=10)
    return body.replace(b"Testing", "Tésting".encode("latin-1"), 1).replace(
        b"<title>", "<title>caf\xe9 ".encode("latin-1"), 2
    )


# name: (reply on page 2, expected error, is transient)
FAULTS: dict[str, tuple[Callable[[list[bytes], Path], Reply], str, bool]] = {
    "http_500": (lambda e, d: Reply(status=500, body=b"oops"), "HTTP 500", True),
    "http_503_retry_after": (
        lambda e, d: Reply(status=503, headers={"Retry-After": "7"}),
        "HTTP 503",
        True,
    ),
    "http_429": (lambda e, d: Reply(status=429, headers={"Retry-After": "2"}), "HTTP 429", True),
    "connection_reset": (lambda e, d: Reply(action="reset"), "connection failed", True),
    "timeout": (lambda e, d: Reply(action="hang", delay=1.0), "timed out", True),
    "truncated_body": (
        lambda e, d: Reply(body=feed(e[:10], total=100, start=10), action="truncate"),
        "cut short",
        True,
    ),
    "empty_page_mid_paging": (
        lambda e, d: Reply(body=feed([], total=100, start=10)),
        "empty page at start=10 of 100",
        True,
    ),
    "malformed_xml": (
        lambda e, d: Reply(body=feed(e[10:20], total=100, start=10)[:-200] + b"<entry><id>"),
        "malformed XML",
        False,
    ),
    "entity_bomb": (lambda e, d: Reply(body=BOMB), "declares a DTD or entities", False),
    "non_utf8_body": (lambda e, d: Reply(body=_non_utf8(e)), "not valid UTF-8", False),
    "over_size_cap": (
        lambda e, d: Reply(body=feed(e[10:20], total=100, start=10) + b" " * 300_000),
        "cap",
        False,
    ),
    "api_error_feed": (
        lambda e, d: Reply(status=400, body=str(recorded(d, "id_abc_")["body"]).encode()),
        "arXiv API error: incorrect id format for abc",
        False,
    ),
    "invalid_dates": (lambda e, d: Reply(body=_invalid_dates(e)), "invalid date", False),
}


@pytest.fixture
def prior(arxiv: Arxiv) -> tuple[Source, dict[str, tuple[int, str]]]:
    """A source with a committed earlier harvest, and an unrelated stored paper."""
    source = source_create(kind="arxiv", name="testing", query="all:testing", window_days=10950)
    PaperFactory(arxiv_id="1999.00001", title="Stored before")
    server, listing = arxiv
    full = listing.entries
    listing.replace(sorted(full, key=entry_updated)[:20])  # the 20 oldest, harvested first
    source_harvest(source)
    listing.replace(full)
    server.requests.clear()
    source.refresh_from_db()
    snapshot = {p.arxiv_id: (p.version, p.title) for p in Paper.objects.all()}
    return source, snapshot


@pytest.mark.parametrize("name", list(FAULTS))
def test_persistent_fault_fails_the_run_and_loses_nothing(
    name: str,
    arxiv: Arxiv,
    prior: tuple[Source, dict[str, tuple[int, str]]],
    entries: list[bytes],
    shared_data: Path,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    make, message, transient = FAULTS[name]
    settings.FETCH_TIMEOUT_SECONDS = 0.3
    settings.FETCH_MAX_BYTES = 200_000
    server, _ = arxiv
    source, before = prior
    cursor = source.cursor
    ordered = sorted(entries, key=entry_updated, reverse=True)
    server.fault(make(ordered, shared_data), when=_page_two, times=None)

    with pytest.raises(TransientHarvestError if transient else HarvestError) as raised:
        source_harvest(source)
    assert isinstance(raised.value, TransientHarvestError) == transient

    run = HarvestRun.objects.order_by("-id").first()
    assert run.status == RunStatus.FAILED
    assert message in run.error
    assert ("temporary failure" in run.error) == transient
    tries = sum(1 for r in server.requests if _page_two(r))
    assert tries == (settings.HARVEST_RETRY_ATTEMPTS if transient else 1)
    # Page 1 was committed; nothing stored before changed; the cursor did not move.
    after = {p.arxiv_id: (p.version, p.title) for p in Paper.objects.all()}
    assert {k: after[k] for k in before} == before
    assert len(after) == len(before) + 10
    assert run.new == 10
    assert Source.objects.get(pk=source.pk).cursor == cursor


@pytest.mark.parametrize("name", [n for n, (_, _, transient) in FAULTS.items() if transient])
def test_transient_fault_once_is_retried_within_the_run(
    name: str,
    arxiv: Arxiv,
    prior: tuple[Source, dict[str, tuple[int, str]]],
    entries: list[bytes],
    shared_data: Path,
    sleeps: list[float],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    make, _, _ = FAULTS[name]
    settings.FETCH_TIMEOUT_SECONDS = 0.3
    server, _ = arxiv
    source, _ = prior
    server.fault(
        make(sorted(entries, key=entry_updated, reverse=True), shared_data), when=_page_two
    )

    run = source_harvest(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Paper.objects.filter(arxiv_id__isnull=False).count() == 101
    assert Source.objects.get(pk=source.pk).cursor == max(entry_updated(e) for e in entries)
    assert len(sleeps) == 1


def test_retry_after_is_honoured(
    arxiv: Arxiv, prior: tuple[Source, dict[str, tuple[int, str]]], sleeps: list[float]
) -> None:
    server, _ = arxiv
    server.fault(Reply(status=503, headers={"Retry-After": "7"}), when=_page_two)
    source_harvest(prior[0])
    assert sleeps == [7.0]


def test_retry_after_beyond_the_cap_is_left_to_the_task_retry(
    arxiv: Arxiv,
    prior: tuple[Source, dict[str, tuple[int, str]]],
    sleeps: list[float],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.HARVEST_MAX_RETRY_AFTER_SECONDS = 30
    server, _ = arxiv
    server.fault(Reply(status=429, headers={"Retry-After": "3600"}), when=_page_two)
    source_harvest(prior[0])
    assert sleeps == [30]


def test_cursor_does_not_move_when_the_window_start_fails(arxiv: Arxiv) -> None:
    source = source_create(kind="arxiv", name="t", query="all:testing", window_days=10950)
    server, _ = arxiv
    server.fault(Reply(status=500), times=None)
    with pytest.raises(TransientHarvestError):
        source_harvest(source)
    assert Source.objects.get(pk=source.pk).cursor is None
    assert Paper.objects.count() == 0


def test_a_run_left_running_by_a_killed_worker_is_marked_failed(arxiv: Arxiv) -> None:
    from django.utils import timezone

    source = source_create(kind="arxiv", name="t", query="all:testing", window_days=10950)
    long_ago = timezone.now() - timedelta(days=1)
    stale = HarvestRun.objects.create(source=source, started_at=long_ago, heartbeat_at=long_ago)
    source_harvest(source)
    stale.refresh_from_db()
    assert stale.status == RunStatus.FAILED and "worker lost" in stale.error
