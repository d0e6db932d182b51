"""Harvest tests: fast retries, no real sleeping, a fake arXiv on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import http as fetch
from tests.harvest.fakes import (
    ArxivListing,
    FakeServer,
    Reply,
    Request,
    arxiv_server,
    recorded_entries,
)
from tracker.papers.models import Source
from tracker.papers.services import source_create


@pytest.fixture(autouse=True)
def _fast_harvest(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ARXIV_DELAY_SECONDS = 0
    settings.ARXIV_PAGE_SIZE = 10
    settings.HARVEST_RETRY_ATTEMPTS = 3
    settings.HARVEST_RETRY_DELAY_SECONDS = 0.001
    settings.FETCH_TIMEOUT_SECONDS = 2.0
    settings.FETCH_ALLOW_PRIVATE = False


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits are recorded, not slept: a test can check Retry-After was honoured."""
    recorded: list[float] = []
    monkeypatch.setattr(fetch, "sleep", recorded.append)
    return recorded


@pytest.fixture
def entries(shared_data: Path) -> list[bytes]:
    """The recorded entries of the `testing` query series, one per paper (60 or so)."""
    return recorded_entries(shared_data)


@pytest.fixture
def arxiv(entries: list[bytes], settings) -> Iterator[tuple[FakeServer, ArxivListing]]:  # type: ignore[no-untyped-def]
    with arxiv_server(entries) as (server, listing):
        settings.ARXIV_API_URL = f"{server.url}/api/query"
        yield server, listing


@pytest.fixture
def feeds(settings) -> Iterator[dict[str, bytes]]:  # type: ignore[no-untyped-def]
    """A server for feed files: path -> body."""
    files: dict[str, bytes] = {}

    def respond(request: Request) -> Reply:
        if request.path in files:
            return Reply(body=files[request.path], headers={"Content-Type": "application/rss+xml"})
        return Reply(status=404, body=b"not found")

    settings.FETCH_ALLOW_PRIVATE = True
    with FakeServer(respond) as server:
        files["__url__"] = server.url.encode()
        yield files


def feed_source(feeds: dict[str, bytes], path: str, body: bytes, lab: str = "Lab") -> Source:
    """A feed source for `body`, served at `path` by the `feeds` server."""
    feeds[path] = body
    url = feeds["__url__"].decode() + path
    return source_create(kind="feed", name=f"{lab} feed", url=url, lab=lab)
