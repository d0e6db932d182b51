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


def test_a_killed_workers_message_is_redelivered_within_15_minutes_and_no_task_outlives_it() -> (
    None
):
    from django.conf import settings

    if not settings.REDIS_URL:
        pytest.skip("the visibility timeout is Redis's")
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    # kombu restores unacknowledged messages older than this every 10 s.
    assert visibility + 10 <= 15 * 60
    # A task still running when its message comes back would run twice at once.
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT < visibility
    # A redelivered harvest must find its killed run already closed, not the source taken.
    assert visibility > settings.HARVEST_RUN_LOST_SECONDS
    # The worker keeps reconnecting through an outage instead of giving up and exiting.
    assert settings.CELERY_BROKER_CONNECTION_RETRY is True
    assert settings.CELERY_BROKER_CONNECTION_MAX_RETRIES is None


def test_work_lost_with_the_broker_is_found_again_from_the_database_by_a_sweep() -> None:
    from django.conf import settings

    sweeps = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for task in (
        "workers.tasks.harvest_due_sources_task",  # due sources (next_run_at)
        "workers.tasks.embed_pending_papers_task",  # papers without a vector
        "workers.tasks.send_due_digests_task",  # preferences whose next_send_at passed
        "workers.tasks.reap_lost_harvests_task",  # runs whose worker was killed
        "workers.tasks.deliver_lost_alerts_task",  # alert deliveries lost or cut short
    ):
        assert sweeps[task] <= 5 * 60, task
