"""Webhooks: a private address is refused when saved and when sent to; each alert reaches
each webhook once, signed, with a Slack-compatible text; failures are retried with a
doubling wait, kept in one plain line, and end as "failed" after the last attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import PaperFactory
from tests.follows.conftest import member
from tests.follows.receiver import webhook_receiver
from tests.listeners import closed_port
from tracker.follows.models import Delivery, DeliveryStatus, FollowKind, Webhook
from tracker.follows.services import (
    WEBHOOK_PRIVATE,
    alerts_create,
    alerts_create_for_code_events,
    deliveries_due,
    delivery_retry,
    delivery_retry_in,
    delivery_send,
    follow_add,
    webhook_add,
)
from tracker.papers.models import CodeEvent, CodeEventKind, CodeLink, Paper
from workers.tasks import deliver_alert_task

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:19400/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
    ],
)
def test_a_webhook_to_a_private_address_is_refused_with_one_plain_message(  # type: ignore[no-untyped-def]
    cast, settings, url: str
) -> None:
    settings.FETCH_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as caught:
        webhook_add(member(cast.ben, cast.vision), url)
    assert caught.value.messages == [WEBHOOK_PRIVATE]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://example.org/hook", "only http and https"),
        ("http://user:pw@example.org/", "user name or password"),
        ("not a url", "space"),
        ("  ", "Enter the URL"),
    ],
)
def test_a_malformed_webhook_url_says_what_is_wrong(  # type: ignore[no-untyped-def]
    cast, url: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        webhook_add(member(cast.ben, cast.vision), url)
    assert fragment in caught.value.messages[0]
    assert not Webhook.objects.exists()


def _alerted(cast, receiver_url: str, *, channel: bool = False) -> Webhook:  # type: ignore[no-untyped-def]
    """A followed author's new paper with a webhook of its owner (ben, or the channel)."""
    who = member(cast.ada if channel else cast.ben, cast.vision)
    follow_add(who, FollowKind.AUTHOR, "Yann LeCun", channel=channel)
    hook = webhook_add(who, receiver_url, channel=channel)
    PaperFactory(
        title="Joint <embedding> & prediction",
        authors=["Yann LeCun", "B", "C", "D"],
        created_at=timezone.now(),
    )
    return hook


@pytest.fixture
def loopback(settings):  # type: ignore[no-untyped-def]
    settings.FETCH_ALLOW_PRIVATE = True  # the receiver is on loopback
    settings.SITE_URL = "https://tracker.example.org"


def test_an_alert_reaches_the_webhook_once_signed_with_slack_text(  # type: ignore[no-untyped-def]
    cast, loopback, time_machine
) -> None:
    time_machine.move_to("2026-03-02 09:00Z", tick=True)
    with webhook_receiver() as receiver:
        hook = _alerted(cast, receiver.url)
        receiver.secret = hook.secret
        paper = Paper.objects.get()
        assert alerts_create([paper.pk]) == 1
        delivery = Delivery.objects.get()
        assert delivery_send(delivery.pk) == DeliveryStatus.SENT
        # A re-run of the task, or a redelivered message, finds it sent.
        assert delivery_send(delivery.pk) is None
        assert deliver_alert_task.apply(args=[delivery.pk]).get() is None
        assert alerts_create([paper.pk]) == 0

    [got] = receiver.received
    assert got.signed
    assert got.headers["X-Tracker-Delivery"] == str(delivery.pk)
    assert got.headers["Content-Type"] == "application/json"
    body = got.payload
    url = f"https://tracker.example.org/papers/{paper.pk}/"
    assert body["text"] == (
        f"New paper: <{url}|Joint &lt;embedding&gt; &amp; prediction> by Yann LeCun, B, C "
        "et al. (you follow Yann LeCun)"
    )
    assert body["event"] == "paper.matched"
    assert body["paper"]["url"] == url and body["follow"] == {
        "kind": "author",
        "label": "Yann LeCun",
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("sent", 1, 200)


def test_a_tampered_body_or_another_secret_does_not_verify(cast, loopback) -> None:  # type: ignore[no-untyped-def]
    with webhook_receiver(secret="not the webhook's secret") as receiver:
        _alerted(cast, receiver.url)
        alerts_create([Paper.objects.get().pk])
        delivery_send(Delivery.objects.get().pk)
    assert receiver.received and not receiver.received[0].signed


def test_a_failing_receiver_is_retried_with_backoff_then_delivered_once(  # type: ignore[no-untyped-def]
    cast, loopback, eager_tasks
) -> None:
    with webhook_receiver() as receiver:
        hook = _alerted(cast, receiver.url)
        receiver.secret = hook.secret
        receiver.answers = [500, 503]
        alerts_create([Paper.objects.get().pk])
        delivery = Delivery.objects.get()
        # Eager, a retry runs at once (the countdown is the worker's to honour).
        deliver_alert_task.apply(args=[delivery.pk])
    assert [r.status for r in receiver.received] == [500, 503, 200]
    assert receiver.received[-1].signed
    assert len({r.headers["X-Tracker-Delivery"] for r in receiver.received}) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")


def test_the_wait_between_attempts_doubles_up_to_a_cap(settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_RETRY_MAX_SECONDS = 600
    assert [delivery_retry_in(n) for n in range(7)] == [30, 60, 120, 240, 480, 600, 600]


def test_a_receiver_that_keeps_failing_ends_failed_with_one_plain_line(  # type: ignore[no-untyped-def]
    cast, loopback, eager_tasks, settings, django_capture_on_commit_callbacks
) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    with webhook_receiver() as receiver:
        _alerted(cast, receiver.url)
        receiver.answers = [500] * 10
        alerts_create([Paper.objects.get().pk])
        delivery = Delivery.objects.get()
        deliver_alert_task.apply(args=[delivery.pk])
        assert len(receiver.received) == 3
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("failed", 3)
        assert delivery.last_error == "the receiver answered HTTP 500"
        # Sent again by hand from the log: its attempts start over, and this time it works.
        receiver.answers = []
        with django_capture_on_commit_callbacks(execute=True):
            assert delivery_retry(member(cast.ben, cast.vision), delivery.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("sent", 1)
        # Someone else's delivery cannot be sent again.
        assert delivery_retry(member(cast.carol, cast.language), delivery.pk) is None


def test_a_receiver_that_does_not_answer_reads_plainly(cast, loopback, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.FETCH_TIMEOUT_SECONDS = 2
    _alerted(cast, f"http://127.0.0.1:{closed_port()}/hook")
    alerts_create([Paper.objects.get().pk])
    delivery = Delivery.objects.get()
    assert delivery_send(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.last_error == "no answer: the connection failed or timed out"
    assert "127.0.0.1" not in delivery.last_error and "Traceback" not in delivery.last_error


def test_a_webhook_that_now_resolves_privately_is_refused_at_send_without_retry(  # type: ignore[no-untyped-def]
    cast, loopback, settings
) -> None:
    with webhook_receiver() as receiver:
        _alerted(cast, receiver.url)
        settings.FETCH_ALLOW_PRIVATE = False  # as if the name had been rebound since
        alerts_create([Paper.objects.get().pk])
        delivery = Delivery.objects.get()
        assert delivery_send(delivery.pk) == DeliveryStatus.FAILED
    assert receiver.received == []
    delivery.refresh_from_db()
    assert delivery.last_error == "refused: the URL points to a private or local address"
    assert delivery.attempts == 1


def test_channel_alerts_go_to_channel_webhooks_member_alerts_to_the_members(  # type: ignore[no-untyped-def]
    cast, loopback
) -> None:
    with webhook_receiver() as channel_receiver, webhook_receiver() as bens:
        _alerted(cast, channel_receiver.url, channel=True)
        webhook_add(member(cast.ben, cast.vision), bens.url)
        alerts_create([Paper.objects.get().pk])
        for delivery in Delivery.objects.all():
            delivery_send(delivery.pk)
    assert len(channel_receiver.received) == 1 and bens.received == []
    assert channel_receiver.received[0].payload["reason"] == "the team follows Yann LeCun"


def test_the_sweep_finds_deliveries_lost_with_the_broker_or_their_worker(  # type: ignore[no-untyped-def]
    cast, loopback, time_machine
) -> None:
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    with webhook_receiver() as receiver:
        _alerted(cast, receiver.url)
        alerts_create([Paper.objects.get().pk])
        delivery = Delivery.objects.get()
        assert deliveries_due() == []  # just queued: its message is on its way
        time_machine.shift(3 * 60)
        assert deliveries_due() == [delivery.pk]
        # A worker claimed it and died: found again once its claim ran out.
        Delivery.objects.update(
            status=DeliveryStatus.SENDING, claimed_until=timezone.now() + timedelta(minutes=2)
        )
        assert deliveries_due() == []
        time_machine.shift(3 * 60)
        assert deliveries_due() == [delivery.pk]
        assert delivery_send(delivery.pk) == DeliveryStatus.SENT
        assert deliveries_due() == []
    assert len(receiver.received) == 1


def test_a_code_release_is_delivered_with_its_event_and_link(cast, loopback) -> None:  # type: ignore[no-untyped-def]
    with webhook_receiver() as receiver:
        _alerted(cast, receiver.url)
        paper = Paper.objects.get()
        alerts_create([paper.pk])
        link = CodeLink.objects.create(
            paper=paper, url="https://github.com/fair/jepa", kind="github"
        )
        event = CodeEvent.objects.create(
            paper=paper, link=link, kind=CodeEventKind.CODE_RELEASED, at=timezone.now()
        )
        assert alerts_create_for_code_events([event.pk]) == 1
        for delivery in Delivery.objects.order_by("id"):
            delivery_send(delivery.pk)
    first, second = (r.payload for r in receiver.received)
    assert first["event"] == "paper.matched" and first["code"] is None
    assert second["event"] == "code.code_released"
    assert second["code"]["url"] == "https://github.com/fair/jepa"
    assert second["text"].startswith("Code released: <")


def test_a_delivery_another_worker_holds_is_not_sent_twice(cast, loopback) -> None:  # type: ignore[no-untyped-def]
    with webhook_receiver() as receiver:
        _alerted(cast, receiver.url)
        alerts_create([Paper.objects.get().pk])
        delivery = Delivery.objects.get()
        # Another attempt has claimed it and is sending right now.
        Delivery.objects.update(
            status=DeliveryStatus.SENDING, claimed_until=timezone.now() + timedelta(minutes=2)
        )
        assert delivery_send(delivery.pk) is None
        assert deliver_alert_task.apply(args=[delivery.pk]).get() is None
    assert receiver.received == []


def test_the_admin_delivery_log_shows_the_last_error(cast, loopback) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    from tests.conftest import client_for

    _alerted(cast, f"http://127.0.0.1:{closed_port()}/hook")
    alerts_create([Paper.objects.get().pk])
    Delivery.objects.update(
        status=DeliveryStatus.FAILED, attempts=8, last_error="the receiver answered HTTP 500"
    )
    root = get_user_model().objects.create_superuser("root", "root@example.org", "x")
    page = client_for(root).get("/admin/follows/delivery/").content.decode()
    assert "the receiver answered HTTP 500" in page and "Failed" in page
