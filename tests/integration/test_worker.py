"""A task goes through a real worker, on Redis and on the embedded folder broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import celery_app, folder_broker_app, running_worker
from tracker.core.heartbeat import heartbeat_last

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _round_trip(app) -> None:  # type: ignore[no-untyped-def]
    task = app.tasks["workers.tasks.record_heartbeat_task"]
    with running_worker(app):
        stamp = task.apply_async(args=["integration"]).get(timeout=60)
    assert heartbeat_last() == {"at": stamp, "hostname": "integration"}


def test_task_runs_on_a_real_worker_over_redis(redis_url: str) -> None:
    _round_trip(celery_app(redis_url, redis_url))


def test_task_runs_on_a_real_worker_over_the_folder_broker(tmp_path: Path) -> None:
    _round_trip(folder_broker_app(tmp_path))


def test_every_scheduled_task_is_registered() -> None:
    from django.conf import settings

    app = celery_app("memory://", "cache+memory://")
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
