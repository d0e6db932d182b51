"""Digests through a real SMTP server on loopback: content, headers, links, exactly once."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import resolve

from tests.digests.conftest import NOW, build_week, free_port, week_key
from tests.factories import MembershipFactory, UserFactory
from tracker.digests.models import DigestPreference, DigestSend, SendStatus
from tracker.digests.services import (
    digest_send,
    digests_claim_due,
    digests_enqueue_due,
    digests_release_stuck,
    preference_update,
)

pytestmark = pytest.mark.django_db


def _links(text: str) -> set[str]:
    return set(re.findall(r"https?://[^\s\"<>]+", text))


def test_digest_arrives_with_both_parts_headers_and_working_links(cast, smtp) -> None:
    w = build_week(cast)
    send = digest_send(cast.ada.pk, week_key(), NOW)

    assert send is not None and send.status == SendStatus.SENT
    [envelope] = smtp.handler.envelopes
    assert envelope.rcpt_tos == ["ada@example.org"]
    [message] = smtp.handler.messages
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == (
        "5 new papers in 2 topics, 1 assignment overdue, 2 reproductions finished"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith("https://tracker.example.org/digest/unsubscribe/")
    assert message["Message-ID"] == f"<digest.{cast.ada.pk}.2026-11-30@tracker.example.org>"

    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "<script" not in html.lower()
    assert not re.search(r"<img[^>]+src=\"https?:", html)
    for title in ("Ring attention at 10M tokens", "LoRA without regret", "FlashAttention-4"):
        assert title in text
        assert title in html
    assert "OVERDUE by 3 days" in text
    assert text.index("A 7B model that beats") < text.index("Chinchilla scaling laws")

    # Every link in either part points into the app and resolves there.
    links = _links(text) | _links(html)
    paper_link = f"https://tracker.example.org/papers/{w.papers['ring'].pk}/"
    assert paper_link in links
    names = set()
    for link in links:
        parts = urlsplit(link)
        assert parts.netloc == "tracker.example.org", link
        names.add(resolve(parts.path).view_name)
    assert names == {
        "papers:detail",
        "reproductions:detail",
        "triage:inbox",
        "reproductions:board",
        "digests:settings",
        "digests:unsubscribe",
    }

    # The unsubscribe link works without a login: GET asks, POST (one-click) unsubscribes.
    anonymous = Client(enforce_csrf_checks=True)
    path = urlsplit(unsubscribe).path
    assert anonymous.get(path).status_code == 200
    response = anonymous.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    pref = DigestPreference.objects.get(user=cast.ada)
    assert not pref.enabled and pref.unsubscribed_at is not None


def test_a_quiet_week_records_empty_and_sends_nothing(cast, smtp) -> None:
    send = digest_send(cast.ben.pk, week_key(), NOW)
    assert send is not None and send.status == SendStatus.EMPTY
    assert smtp.handler.envelopes == []


def test_second_send_of_the_same_week_sends_nothing(cast, smtp) -> None:
    build_week(cast)
    assert digest_send(cast.ada.pk, week_key(), NOW).status == SendStatus.SENT  # type: ignore[union-attr]
    assert digest_send(cast.ada.pk, week_key(), NOW + timedelta(hours=2)) is None
    assert len(smtp.handler.envelopes) == 1


def test_smtp_down_on_the_first_attempt_sends_exactly_once_later(cast, smtp, settings) -> None:
    build_week(cast)
    settings.EMAIL_PORT = free_port()  # nothing listens there: connection refused
    with pytest.raises(OSError):
        digest_send(cast.ada.pk, week_key(), NOW)
    row = DigestSend.objects.get(user=cast.ada)
    assert row.status == SendStatus.FAILED and "Connection" in row.error

    settings.EMAIL_PORT = smtp.port
    smtp.handler.refuse_next = 1  # then the server is up but busy once: 451
    with pytest.raises(Exception, match="451"):
        digest_send(cast.ada.pk, week_key(), NOW + timedelta(seconds=1))
    assert digest_send(cast.ada.pk, week_key(), NOW + timedelta(seconds=3)).status == "sent"  # type: ignore[union-attr]
    assert digest_send(cast.ada.pk, week_key(), NOW + timedelta(seconds=9)) is None

    assert len(smtp.handler.envelopes) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.error) == (SendStatus.SENT, 3, "")


def test_an_error_on_quit_after_the_server_accepted_does_not_resend(
    cast, smtp, monkeypatch
) -> None:
    import smtplib

    build_week(cast)

    def quit_badly(self) -> None:  # type: ignore[no-untyped-def]
        self.close()
        raise smtplib.SMTPResponseException(421, b"closing, bye")

    monkeypatch.setattr(smtplib.SMTP, "quit", quit_badly)
    send = digest_send(cast.ada.pk, week_key(), NOW)
    assert send is not None and send.status == SendStatus.SENT
    assert digest_send(cast.ada.pk, week_key(), NOW) is None
    assert len(smtp.handler.envelopes) == 1


def test_a_digest_that_fails_to_build_can_be_sent_by_a_rerun(cast, smtp, monkeypatch) -> None:
    from tracker.digests import services

    build_week(cast)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(services, "digest_preview", broken)
    with pytest.raises(ZeroDivisionError):
        digest_send(cast.ada.pk, week_key(), NOW)
    assert DigestSend.objects.get(user=cast.ada).status == SendStatus.FAILED
    monkeypatch.undo()
    assert digest_send(cast.ada.pk, week_key(), NOW).status == SendStatus.SENT  # type: ignore[union-attr]
    assert len(smtp.handler.envelopes) == 1


def test_unsubscribed_member_gets_nothing(cast, smtp) -> None:
    build_week(cast)
    preference_update(cast.ada, enabled=False, weekday=0, hour=8, tz_name="UTC", now=NOW)
    assert digest_send(cast.ada.pk, week_key(), NOW) is None
    assert smtp.handler.envelopes == []


@pytest.mark.django_db(transaction=True)
def test_two_sends_started_at_once_deliver_one_message(cast, smtp) -> None:
    if connections["default"].vendor == "sqlite":
        # The in-memory test database is shared between threads through SQLite's shared
        # cache, which fails a second writer at once instead of waiting; the interleaved
        # test below covers SQLite, and this one runs on PostgreSQL.
        pytest.skip("concurrent writers need PostgreSQL (DATABASE_URL)")
    build_week(cast)
    barrier = threading.Barrier(2)
    results: list[object] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(digest_send(cast.ada.pk, week_key(), NOW))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(r.status if r else "lost" for r in results) == ["lost", "sent"]  # type: ignore[attr-defined]
    assert len(smtp.handler.envelopes) == 1
    assert DigestSend.objects.filter(user=cast.ada).count() == 1


def test_a_second_worker_arriving_mid_send_sends_nothing(cast, smtp, monkeypatch) -> None:
    """Worker B starts while worker A is inside its SMTP conversation for the same week."""
    from django.core.mail.backends.smtp import EmailBackend

    build_week(cast)
    real_send = EmailBackend.send_messages
    second: list[object] = []

    def send_while_another_starts(self, messages):  # type: ignore[no-untyped-def]
        if not second:
            second.append(digest_send(cast.ada.pk, week_key(), NOW))
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_while_another_starts)
    first = digest_send(cast.ada.pk, week_key(), NOW)
    assert first is not None and first.status == SendStatus.SENT
    assert second == [None]
    assert len(smtp.handler.envelopes) == 1


def test_two_beats_claiming_at_once_claim_each_member_once(cast) -> None:
    preference_update(
        cast.ada, enabled=True, weekday=0, hour=8, tz_name="UTC", now=NOW - timedelta(days=1)
    )
    first = digests_claim_due(NOW + timedelta(minutes=1))
    second = digests_claim_due(NOW + timedelta(minutes=1))
    assert [(c.user_id, c.week) for c in first] == [(cast.ada.pk, week_key())]
    assert second == []
    pref = DigestPreference.objects.get(user=cast.ada)
    assert pref.next_send_at == NOW + timedelta(days=7)


def test_a_tick_claims_every_due_member_in_batches(cast) -> None:
    for user in (cast.ada, cast.ben, cast.carol):
        preference_update(
            user, enabled=True, weekday=0, hour=8, tz_name="UTC", now=NOW - timedelta(days=1)
        )
    assert len(digests_claim_due(NOW, batch=2)) == 3
    assert digests_claim_due(NOW, batch=2) == []


def test_a_digest_whose_message_was_lost_is_queued_again_by_a_later_tick(
    cast, smtp, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """Redis restarted between the claim and the send: the member's next send time has
    moved on, yet the database still says the week's digest is owed."""
    import workers.tasks

    build_week(cast)
    for user in (cast.ben, cast.carol):
        preference_update(user, enabled=False, weekday=0, hour=8, tz_name="UTC", now=NOW)
    preference_update(
        cast.ada, enabled=True, weekday=0, hour=8, tz_name="UTC", now=NOW - timedelta(days=1)
    )
    queued: list[tuple[int, str]] = []
    monkeypatch.setattr(workers.tasks.send_digest_task, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_enqueue_due(NOW + timedelta(minutes=1)) == 1
    assert queued == [(cast.ada.pk, week_key().isoformat())]
    queued.clear()  # ...and the broker lost that message.
    assert DigestSend.objects.get(user=cast.ada).status == SendStatus.QUEUED

    with django_capture_on_commit_callbacks(execute=True):
        assert digests_enqueue_due(NOW + timedelta(minutes=6)) == 0  # could still be in flight
        assert digests_enqueue_due(NOW + timedelta(minutes=20)) == 1
        assert digests_enqueue_due(NOW + timedelta(minutes=21)) == 0  # taken over once
    assert queued == [(cast.ada.pk, week_key().isoformat())]
    sent = digest_send(cast.ada.pk, week_key(), NOW + timedelta(minutes=20))
    assert sent is not None and sent.status == SendStatus.SENT and sent.attempts == 1
    assert len(smtp.handler.envelopes) == 1
    # A late duplicate of the lost message finds the week done.
    assert digest_send(cast.ada.pk, week_key(), NOW + timedelta(minutes=25)) is None
    assert len(smtp.handler.envelopes) == 1


def test_a_send_stuck_after_a_crash_is_resent_only_once_released(cast, smtp) -> None:
    build_week(cast)
    DigestSend.objects.create(user=cast.ada, week=week_key(), status=SendStatus.CLAIMED)
    assert digest_send(cast.ada.pk, week_key(), NOW) is None
    assert digests_release_stuck(DigestSend.objects.all()) == 1
    assert digest_send(cast.ada.pk, week_key(), NOW).status == SendStatus.SENT  # type: ignore[union-attr]
    assert len(smtp.handler.envelopes) == 1


def test_members_without_a_preference_get_the_default_monday_digest(cast) -> None:
    with time_machine.travel(NOW - timedelta(days=2), tick=False):  # a Saturday
        assert digests_claim_due(NOW - timedelta(days=2)) == []
    prefs = DigestPreference.objects.order_by("user__username")
    assert [(p.user.username, p.enabled, p.weekday, p.hour) for p in prefs] == [
        ("ada", True, 0, 8),
        ("ben", True, 0, 8),
        ("carol", True, 0, 8),
    ]
    assert {p.next_send_at for p in prefs} == {NOW}
    assert len(digests_claim_due(NOW)) == 3


def test_each_member_gets_theirs_at_their_own_eight_oclock(cast, smtp) -> None:
    build_week(cast)
    shanghai = UserFactory(username="mei", email="mei@example.org")
    los_angeles = UserFactory(username="sam", email="sam@example.org")
    MembershipFactory(team=cast.vision, user=shanghai)
    MembershipFactory(team=cast.vision, user=los_angeles)
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    preference_update(
        shanghai, enabled=True, weekday=0, hour=8, tz_name="Asia/Shanghai", now=sunday
    )
    preference_update(
        los_angeles, enabled=True, weekday=0, hour=8, tz_name="America/Los_Angeles", now=sunday
    )
    for user in (cast.ada, cast.ben, cast.carol):
        preference_update(user, enabled=False, weekday=0, hour=8, tz_name="UTC", now=sunday)

    def tick(at: datetime) -> list[str]:
        with time_machine.travel(at, tick=False):
            before = len(smtp.handler.envelopes)
            call_command("send_digests", stdout=StringIO())
            return [e.rcpt_tos[0] for e in smtp.handler.envelopes[before:]]

    # Monday 08:00 in Shanghai is Monday 00:00 UTC; in Los Angeles, Monday 16:00 UTC.
    assert tick(datetime(2026, 11, 29, 23, 55, tzinfo=UTC)) == []
    assert tick(datetime(2026, 11, 30, 0, 0, tzinfo=UTC)) == ["mei@example.org"]
    assert tick(datetime(2026, 11, 30, 8, 0, tzinfo=UTC)) == []
    assert tick(datetime(2026, 11, 30, 15, 55, tzinfo=UTC)) == []
    assert tick(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == ["sam@example.org"]
    assert tick(datetime(2026, 11, 30, 16, 5, tzinfo=UTC)) == []
    weeks = dict(DigestSend.objects.values_list("user__username", "week"))
    assert weeks == {"mei": week_key(), "sam": week_key()}


def test_send_digests_for_one_user_leaves_the_others_due(cast, smtp) -> None:
    build_week(cast)
    for user in (cast.ada, cast.ben):
        preference_update(
            user, enabled=True, weekday=0, hour=8, tz_name="UTC", now=NOW - timedelta(days=1)
        )
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        call_command("send_digests", "--user", "ada", stdout=StringIO())
        assert [e.rcpt_tos for e in smtp.handler.envelopes] == [["ada@example.org"]]
        # ben is still due; carol's default row, made by that tick, starts next Monday.
        assert [c.user_id for c in digests_claim_due(NOW + timedelta(minutes=1))] == [cast.ben.pk]


@time_machine.travel(NOW, tick=False)  # the command reads the clock; the week is NOW's
def test_send_digests_now_and_dry_run(cast, smtp) -> None:
    build_week(cast)
    out = StringIO()
    call_command("send_digests", "--dry-run", "--user", "ada", stdout=out)
    assert "5 new papers in 2 topics" in out.getvalue()
    assert smtp.handler.envelopes == [] and not DigestSend.objects.exists()

    out = StringIO()
    call_command("send_digests", "--now", stdout=out)
    assert sorted(e.rcpt_tos[0] for e in smtp.handler.envelopes) == [
        "ada@example.org",
        "ben@example.org",
        "carol@example.org",
    ]
    assert "3 sent" in out.getvalue()
    assert set(DigestSend.objects.values_list("week", flat=True)) == {week_key()}
    call_command("send_digests", "--now", stdout=StringIO())
    assert len(smtp.handler.envelopes) == 3
