"""The beat tick and the send task on a real Celery worker over Redis, with a flaky mail server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.digests.conftest import build_week
from tests.integration.conftest import celery_app, running_worker
from tracker.digests.models import DigestSend, SendStatus
from tracker.digests.services import preference_update

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_tick_claims_and_a_busy_server_gets_the_digest_once_after_a_retry(
    cast, smtp, redis_url: str
) -> None:
    now = timezone.now()
    build_week(cast, now)
    preference_update(cast.ada, enabled=True, weekday=0, hour=8, tz_name="UTC", now=now)
    for user in (cast.ben, cast.carol):
        preference_update(user, enabled=False, weekday=0, hour=8, tz_name="UTC", now=now)
    # Due a minute ago.
    from tracker.digests.models import DigestPreference

    DigestPreference.objects.filter(user=cast.ada).update(next_send_at=now - timedelta(minutes=1))
    smtp.handler.refuse_next = 1  # the first attempt meets "451 try again later"

    app = celery_app(redis_url, redis_url)
    app.conf.task_default_queue = "default"
    tick = app.tasks["workers.tasks.send_due_digests_task"]
    with running_worker(app):
        assert tick.apply_async().get(timeout=60) == 1
        _wait_for(lambda: DigestSend.objects.filter(user=cast.ada, status=SendStatus.SENT).exists())
        # A second tick finds nobody due; a repeated send task finds the week done.
        assert tick.apply_async().get(timeout=60) == 0
        send = DigestSend.objects.get(user=cast.ada)
        again = app.tasks["workers.tasks.send_digest_task"]
        assert again.apply_async(args=[cast.ada.pk, send.week.isoformat()]).get(timeout=60) is None

    assert len(smtp.handler.envelopes) == 1
    assert smtp.handler.envelopes[0].rcpt_tos == ["ada@example.org"]
    assert send.attempts == 2
