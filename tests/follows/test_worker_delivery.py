"""On a real Celery worker over Redis and PostgreSQL: a followed author's new paper reaches a
loopback receiver once, signed, after the receiver failed once; re-running the tasks sends
nothing twice."""

from __future__ import annotations

import pytest
from django.db import transaction

from pipeline.records import PaperRecord
from tests.follows.conftest import member
from tests.follows.receiver import webhook_receiver
from tests.integration.conftest import celery_app, running_worker, wait_for
from tracker.follows.models import Alert, Delivery, DeliveryStatus, FollowKind
from tracker.follows.services import follow_add, webhook_add
from tracker.papers.services import papers_upsert

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_followed_authors_paper_is_delivered_once_signed_after_a_retry(  # type: ignore[no-untyped-def]
    cast, settings, redis_url: str, postgres_url: str
) -> None:
    settings.FETCH_ALLOW_PRIVATE = True  # the receiver is on loopback
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.5
    ben = member(cast.ben, cast.vision)
    follow_add(ben, FollowKind.AUTHOR, "Yann LeCun")
    app = celery_app(redis_url, redis_url)
    app.conf.task_default_queue = "default"
    with webhook_receiver() as receiver, running_worker(app):
        hook = webhook_add(ben, receiver.url)
        receiver.secret = hook.secret
        receiver.answers = [503]  # the first attempt meets a busy receiver
        record = PaperRecord(
            arxiv_id="2603.04242",
            version=1,
            title="A path to autonomous machine intelligence",
            authors=["Yann LeCun"],
        )
        with transaction.atomic():
            papers_upsert([record])
        delivered = receiver.wait_for(1, timeout=60)
        assert len(delivered) == 1
        assert wait_for(
            lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).exists(), timeout=30
        )
        # Every task again, as a redelivered message or a second harvest would: nothing new.
        alert = Alert.objects.get()
        delivery = Delivery.objects.get()
        match = app.tasks["workers.tasks.match_follows_task"]
        deliver = app.tasks["workers.tasks.deliver_alert_task"]
        sweep = app.tasks["workers.tasks.deliver_lost_alerts_task"]
        assert match.apply_async(args=[[alert.paper_id]]).get(timeout=60) == 0
        assert deliver.apply_async(args=[delivery.pk]).get(timeout=60) is None
        assert sweep.apply_async().get(timeout=60) == []

    assert [r.status for r in receiver.received] == [503, 200]
    assert all(r.signed for r in receiver.received)
    body = receiver.received[-1].payload
    assert body["paper"]["arxiv_id"] == "2603.04242"
    assert "you follow Yann LeCun" in body["text"]
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (2, 200, "")
