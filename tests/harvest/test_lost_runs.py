"""Runs killed with their worker are closed ("worker lost") and their source queued again;
one running run per source at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings

from tracker.papers.models import HarvestRun, RunStatus, Source
from tracker.papers.services import (
    SourceBusyError,
    harvest_run_progress,
    harvest_run_start,
    source_create,
)
from workers.tasks import reap_lost_harvests_task

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _source(name: str = "testing") -> Source:
    return source_create(kind="arxiv", name=name, query="all:testing", window_days=7)


def test_beat_reaper_marks_a_silent_run_worker_lost_and_queues_its_source_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[int] = []
    monkeypatch.setattr("workers.tasks.harvest_source_task.delay", queued.append)
    killed_source, live_source = _source("killed"), _source("live")
    with time_machine.travel(T0, tick=False):
        killed = harvest_run_start(killed_source)
        live = harvest_run_start(live_source)
        Source.objects.update(next_run_at=T0 + timedelta(hours=6))
    lost_after = timedelta(seconds=settings.HARVEST_RUN_LOST_SECONDS)
    with time_machine.travel(T0 + lost_after - timedelta(minutes=1), tick=False):
        harvest_run_progress(live, fetched=10)  # the live run keeps committing pages
    with time_machine.travel(T0 + lost_after + timedelta(minutes=1), tick=False):
        assert reap_lost_harvests_task() == [killed.pk]
    killed.refresh_from_db()
    live.refresh_from_db()
    assert killed.status == RunStatus.FAILED and killed.error.startswith("worker lost")
    assert live.status == RunStatus.RUNNING
    assert queued == [killed_source.pk]
    killed_source.refresh_from_db()
    assert killed_source.next_run_at == T0 + lost_after + timedelta(minutes=1)


def test_a_later_run_closes_the_killed_one_and_a_live_one_keeps_the_source() -> None:
    source = _source()
    with time_machine.travel(T0, tick=False):
        killed = harvest_run_start(source)
        with pytest.raises(SourceBusyError):
            harvest_run_start(source)
    later = T0 + timedelta(seconds=settings.HARVEST_RUN_LOST_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        run = harvest_run_start(source)
    killed.refresh_from_db()
    assert killed.status == RunStatus.FAILED and killed.error.startswith("worker lost")
    assert list(HarvestRun.objects.filter(status=RunStatus.RUNNING)) == [run]
