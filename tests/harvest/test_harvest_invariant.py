"""The harvest's invariant under random faults: whatever the fake arXiv does to its pages
(503 with and without Retry-After, 429, empty pages stating the real total or 0, bodies
cut short, connections reset), once the runs have completed (a failed run is run again,
as beat would), every paper served is stored exactly once, with its version."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from lxml import etree

from pipeline import http as fetch
from pipeline.errors import TransientHarvestError
from tests.harvest.fakes import ATOM, ArxivListing, FakeServer, Reply, Request, feed
from tracker.papers.harvest import source_harvest
from tracker.papers.models import Paper, PaperSource, PaperVersion, RunStatus, Source
from tracker.papers.services import source_create

pytestmark = pytest.mark.django_db

Arxiv = tuple[FakeServer, ArxivListing]
CORPUS = 300
ADDED = 60
MAX_RUNS = 40


def _entry(template: bytes, number: int, version: int, updated: datetime) -> bytes:
    """A recorded entry under another id, version and update time."""
    entry = etree.fromstring(template)
    arxiv_id = f"2601.{number:05d}"
    entry.find(f"{ATOM}id").text = f"http://arxiv.org/abs/{arxiv_id}v{version}"
    entry.find(f"{ATOM}updated").text = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    for link in entry.iterfind(f"{ATOM}link"):
        if link.get("title") == "pdf":
            link.set("href", f"https://arxiv.org/pdf/{arxiv_id}v{version}")
    return etree.tostring(entry)


class Faulty:
    """The listing, with a seeded random fault on some of its pages."""

    def __init__(self, listing: ArxivListing, seed: int, rate: float) -> None:
        self.listing = listing
        self.random = random.Random(seed)
        self.rate = rate
        self.lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def __call__(self, request: Request) -> Reply:
        reply = self.listing(request)
        with self.lock:
            if request.params.get("id_list") or self.random.random() >= self.rate:
                return reply
            name, fault = self.random.choice(list(self._faults(request, reply).items()))
            self.injected[name] += 1
            return fault

    def _faults(self, request: Request, reply: Reply) -> dict[str, Reply]:
        start = int(request.params.get("start", 0))
        total = len(self.listing.entries)
        faults = {
            "503_retry_after": Reply(status=503, headers={"Retry-After": "5"}),
            "503": Reply(status=503, body=b"Service Unavailable"),
            "429": Reply(status=429, headers={"Retry-After": "3"}),
            "empty_page_with_total": Reply(body=feed([], total=total, start=start)),
            "truncated_body": Reply(body=reply.body, action="truncate"),
            "connection_reset": Reply(action="reset"),
        }
        if start > 0:
            # On the first page an empty answer saying 0 is arXiv's own "nothing new": no
            # harvester can tell it from a hiccup, and the next scheduled run fetches again.
            faults["empty_page_saying_0"] = Reply(body=feed([], total=0, start=start))
        return faults


def _harvest_until_done(source: Source) -> int:
    """Runs the source as beat would, again after each failed run; returns how many runs."""
    for run_number in range(1, MAX_RUNS + 1):
        try:
            run = source_harvest(Source.objects.get(pk=source.pk))
        except TransientHarvestError:
            continue
        assert run.status == RunStatus.SUCCEEDED
        return run_number
    raise AssertionError(f"no run succeeded in {MAX_RUNS}")


def _assert_stored_exactly_once(served: dict[str, int]) -> None:
    stored = dict(Paper.objects.values_list("arxiv_id", "version"))
    assert stored == served
    assert Paper.objects.count() == len(served)
    assert PaperSource.objects.count() == len(served)
    history = Counter(PaperVersion.objects.values_list("paper__arxiv_id", "version"))
    assert all(count == 1 for count in history.values())
    assert {arxiv_id for arxiv_id, _ in history} == set(served)
    assert all((arxiv_id, version) in history for arxiv_id, version in served.items())


@pytest.mark.parametrize("seed", [2, 3])
def test_every_paper_served_is_stored_once_with_its_version_whatever_the_faults(
    seed: int,
    entries: list[bytes],
    settings,  # type: ignore[no-untyped-def]
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Waits are real here (all tiny), and recorded: the gate must not spin.
    monkeypatch.setattr(
        fetch, "sleep", lambda seconds: (sleeps.append(seconds), time.sleep(seconds))
    )
    # The polite gate stays on, with a tiny interval. The process's own cache keeps
    # sub-second expiries as they are: the database cache rounds them to whole seconds
    # and Redis drops them to none.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.ARXIV_DELAY_SECONDS = 0.001
    settings.ARXIV_PAGE_SIZE = 10
    settings.HARVEST_RETRY_ATTEMPTS = 4
    settings.HARVEST_MAX_RETRY_AFTER_SECONDS = 0.01
    settings.FETCH_TIMEOUT_SECONDS = 2.0
    rng = random.Random(seed)
    # Dated from the clock, inside the source's window whatever the day the test runs.
    start = (timezone.now() - timedelta(days=200)).replace(microsecond=0)
    versions = {n: rng.randint(1, 3) for n in range(CORPUS)}
    updated = {n: start + timedelta(minutes=7 * n) for n in range(CORPUS)}

    def corpus() -> list[bytes]:
        return [
            _entry(entries[n % len(entries)], n, versions[n], updated[n]) for n in sorted(versions)
        ]

    def served() -> dict[str, int]:
        return {f"2601.{n:05d}": v for n, v in versions.items()}

    listing = ArxivListing(corpus())
    faulty = Faulty(listing, seed, rate=0.35)
    with FakeServer(faulty) as server:
        settings.ARXIV_API_URL = f"{server.url}/api/query"
        source = source_create(kind="arxiv", name="cs", query="cat:cs.LG", window_days=365)

        _harvest_until_done(source)
        _assert_stored_exactly_once(served())

        # Later: a third of the papers get a new version, and new papers arrive.
        later = start + timedelta(days=60)
        for n in rng.sample(range(CORPUS), CORPUS // 3):
            versions[n] += 1
            updated[n] = later + timedelta(minutes=n)
        for n in range(CORPUS, CORPUS + ADDED):
            versions[n] = 1
            updated[n] = later + timedelta(minutes=3 * n)
        listing.replace(corpus())

        _harvest_until_done(source)
        _assert_stored_exactly_once(served())

    assert Source.objects.get(pk=source.pk).cursor == max(updated.values())
    # The faults were really there, and Retry-After was honoured (up to its cap).
    assert sum(faulty.injected.values()) >= 5, faulty.injected
    assert 0.01 in sleeps
