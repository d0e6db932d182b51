"""Offline: a harvest that cannot reach its server is recorded as a network failure, and
when every source's latest run is one, the home and Sources pages say how to import."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC

import pytest
from django.urls import reverse

from pipeline.errors import HarvestError, TransientHarvestError
from tests.conftest import Cast, client_for
from tests.factories import SourceFactory
from tests.harvest.fakes import FakeServer, Reply, Request
from tracker.papers.harvest import source_harvest
from tracker.papers.models import HarvestRun, RunErrorKind, RunStatus, Source, SourceKind
from tracker.papers.selectors import sources_all_offline
from tracker.papers.services import harvest_runs_reap

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused at once, as offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def busy_server() -> Iterator[str]:
    def respond(request: Request) -> Reply:
        return Reply(status=503, body=b"down for maintenance")

    with FakeServer(respond) as server:
        yield server.url


def _arxiv_at(url: str, settings, name: str = "arXiv") -> Source:  # type: ignore[no-untyped-def]
    settings.ARXIV_API_URL = f"{url}/api/query"
    return SourceFactory(name=name, kind=SourceKind.ARXIV)


def test_unreachable_arxiv_is_recorded_as_network(closed_port: int, settings) -> None:  # type: ignore[no-untyped-def]
    source = _arxiv_at(f"http://127.0.0.1:{closed_port}", settings)
    with pytest.raises(TransientHarvestError):
        source_harvest(source)
    run = HarvestRun.objects.get()
    assert run.status == RunStatus.FAILED and run.error_kind == RunErrorKind.NETWORK


def test_unreachable_feed_is_network_though_its_message_is_plain(  # type: ignore[no-untyped-def]
    closed_port: int, settings
) -> None:
    settings.FETCH_ALLOW_PRIVATE = True
    source = SourceFactory(kind=SourceKind.FEED, url=f"http://127.0.0.1:{closed_port}/feed.xml")
    with pytest.raises(HarvestError):
        source_harvest(source)
    run = HarvestRun.objects.get()
    assert "could not fetch that URL" in run.error
    assert run.error_kind == RunErrorKind.NETWORK


def test_a_server_error_is_not_offline(busy_server: str, settings) -> None:  # type: ignore[no-untyped-def]
    source = _arxiv_at(busy_server, settings)
    with pytest.raises(TransientHarvestError):
        source_harvest(source)
    assert HarvestRun.objects.get().error_kind == RunErrorKind.BAD_RESPONSE
    assert not sources_all_offline()


def test_a_lost_worker_is_recorded_as_such(settings) -> None:  # type: ignore[no-untyped-def]
    import time_machine

    with time_machine.travel("2026-03-02 10:00Z", tick=False):
        run = HarvestRun.objects.create(source=SourceFactory())
    with time_machine.travel("2026-03-02 12:00Z", tick=False):
        harvest_runs_reap()
    run.refresh_from_db()
    assert run.error_kind == RunErrorKind.WORKER_LOST


def _run(source: Source, status: str, kind: str = "", minute: int = 0) -> HarvestRun:
    from datetime import datetime

    return HarvestRun.objects.create(
        source=source,
        status=status,
        error="temporary failure: connection failed: HTTPSConnectionPool(...)" if kind else "",
        error_kind=kind,
        started_at=datetime(2026, 3, 2, 10, minute, tzinfo=UTC),
    )


def test_offline_only_when_every_enabled_source_last_failed_for_network() -> None:
    arxiv, feed, off = SourceFactory(), SourceFactory(), SourceFactory(enabled=False)
    assert not sources_all_offline()  # never harvested: nothing to say yet
    _run(arxiv, RunStatus.FAILED, RunErrorKind.NETWORK)
    assert not sources_all_offline()  # the feed has not run
    _run(feed, RunStatus.SUCCEEDED, minute=1)
    _run(off, RunStatus.SUCCEEDED, minute=1)
    assert not sources_all_offline()
    _run(feed, RunStatus.FAILED, RunErrorKind.NETWORK, minute=2)
    assert sources_all_offline()  # the disabled source does not count
    HarvestRun.objects.create(source=feed, status=RunStatus.RUNNING)
    assert sources_all_offline()  # a run under way has not said anything yet
    _run(arxiv, RunStatus.SUCCEEDED, minute=3)
    assert not sources_all_offline()


def test_banner_on_home_and_sources_links_to_the_readme_section(cast: Cast) -> None:
    client = client_for(cast.ben)
    source = SourceFactory()
    _run(source, RunStatus.FAILED, RunErrorKind.BAD_RESPONSE)
    assert b"offline-banner" not in client.get(reverse("home")).content

    _run(source, RunStatus.FAILED, RunErrorKind.NETWORK, minute=1)
    for name in ("home", "papers:sources"):
        page = client.get(reverse(name)).content.decode()
        assert 'id="offline-banner"' in page
        assert "manage.py import_papers" in page
        assert reverse("offline_help") in page
    help_page = client.get(reverse("offline_help")).content.decode()
    assert "import_papers" in help_page and "daily-listing JSONL" in help_page


def test_sources_page_shows_one_line_with_the_detail_on_demand(cast: Cast) -> None:
    source = SourceFactory()
    _run(source, RunStatus.FAILED, RunErrorKind.NETWORK)
    page = client_for(cast.ben).get(reverse("papers:sources")).content.decode()
    assert "<summary" in page and "Could not reach the server (no network?)" in page
    # The raw reason is kept, behind the summary.
    assert '<pre class="detail">temporary failure: connection failed' in page
