"""Harvests through real Celery workers on Redis and PostgreSQL.

A worker process killed with SIGKILL in the middle of a harvest, then started again, ends
with every paper stored once (acks_late: the unacknowledged message is delivered again);
two harvests of one source at the same time store every paper once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from tests.harvest.fakes import ArxivListing, FakeServer, Reply, entry_updated
from tests.integration.conftest import celery_app, running_worker
from tracker.papers.models import HarvestRun, Paper, PaperSource, PaperVersion, RunStatus, Source
from tracker.papers.services import source_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
# The restarted worker takes back a message unacknowledged for this long.
VISIBILITY_TIMEOUT = 2


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _slow_pages(server: FakeServer, listing: ArxivListing, delay: float) -> None:
    server.responder = lambda request: _delayed(listing(request), delay)


def _delayed(reply: Reply, delay: float) -> Reply:
    reply.delay = delay
    return reply


def _start_worker(redis_url: str, api_url: str, log: Path) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "ARXIV_API_URL": api_url,
        "ARXIV_DELAY_SECONDS": "0",
        "ARXIV_PAGE_SIZE": "10",
        "HARVEST_RETRY_DELAY_SECONDS": "0.01",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        # Below the visibility timeout, as in production: the redelivered harvest finds the
        # killed run silent for longer than this and closes it.
        "HARVEST_RUN_LOST_SECONDS": "1",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "-Q",
            "harvest",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def _source() -> Source:
    return source_create(kind="arxiv", name="testing", query="all:testing", window_days=10950)


def _assert_each_paper_once(entries: list[bytes], source: Source) -> None:
    assert Paper.objects.count() == len(entries)
    assert PaperVersion.objects.count() == len(entries)
    assert PaperSource.objects.filter(source=source).count() == len(entries)
    source.refresh_from_db()
    assert source.cursor == max(entry_updated(e) for e in entries)


def test_worker_killed_mid_harvest_then_restarted_stores_every_paper_once(
    redis_url: str,
    postgres_url: str,
    arxiv: tuple[FakeServer, ArxivListing],
    entries: list[bytes],
    tmp_path: Path,
) -> None:
    server, listing = arxiv
    _slow_pages(server, listing, 0.4)
    source = _source()
    app = celery_app(redis_url, redis_url)
    app.control.purge()
    log = tmp_path / "worker.log"

    worker = _start_worker(redis_url, f"{server.url}/api/query", log)
    try:
        app.send_task("workers.tasks.harvest_source_task", args=[source.pk])
        _wait_for(lambda: Paper.objects.count() >= 20, 60, "two committed pages")
        _stop(worker, signal.SIGKILL)
        partial = Paper.objects.count()
        assert 20 <= partial < len(entries), "killed in the middle of the harvest"
        assert Source.objects.get(pk=source.pk).cursor is None

        time.sleep(VISIBILITY_TIMEOUT + 1)
        _slow_pages(server, listing, 0.0)
        worker = _start_worker(redis_url, f"{server.url}/api/query", log)
        _wait_for(
            lambda: HarvestRun.objects.filter(status=RunStatus.SUCCEEDED).exists(),
            90,
            "the redelivered harvest to finish",
        )
    finally:
        _stop(worker)
        _stop(worker, signal.SIGKILL)

    _assert_each_paper_once(entries, source)
    killed = HarvestRun.objects.exclude(status=RunStatus.SUCCEEDED).get()
    assert killed.status == RunStatus.FAILED and killed.new >= 20
    assert killed.error.startswith("worker lost")
    assert not HarvestRun.objects.filter(status=RunStatus.RUNNING).exists()


def test_second_harvest_of_a_source_already_being_harvested_skips_and_fetches_nothing(
    redis_url: str,
    postgres_url: str,
    arxiv: tuple[FakeServer, ArxivListing],
    entries: list[bytes],
) -> None:
    server, listing = arxiv
    _slow_pages(server, listing, 0.05)
    source = _source()
    app = celery_app(redis_url, redis_url)
    app.control.purge()
    task = app.tasks["workers.tasks.harvest_source_task"]

    with running_worker(app):
        results = [task.apply_async(args=[source.pk]) for _ in range(2)]
        run_ids = [result.get(timeout=90) for result in results]

    # One ran, the other found the source taken and skipped.
    assert sorted(run_ids, key=bool)[0] is None
    run = HarvestRun.objects.get()
    assert run.pk in run_ids and run.status == RunStatus.SUCCEEDED
    starts = [request.params.get("start") for request in server.requests]
    assert len(starts) == len(set(starts)), f"pages fetched twice: {sorted(starts)}"
    _assert_each_paper_once(entries, source)
