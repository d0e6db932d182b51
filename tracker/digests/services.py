"""Writes for digests: preferences, claiming the members who are due, sending one digest once.

Two guards make a digest go out at most once per member and week:

1. `digests_claim_due` moves a member's `next_send_at` forward with a conditional UPDATE
   (`WHERE next_send_at = <the value read>`), so of two beats reading the same due row
   only one updates it and enqueues a send.
2. `digest_send` first inserts the (member, week) DigestSend row; the unique constraint
   lets exactly one worker win, and a loser's IntegrityError means someone else has it.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from tracker.digests.emails import (
    RenderedDigest,
    digest_message,
    digest_render,
    message_id,
)
from tracker.digests.models import DigestPreference, DigestSend, SendStatus
from tracker.digests.schedule import next_send_after, week_of, zone
from tracker.digests.selectors import Digest, DigestWeek, digest_for

logger = logging.getLogger(__name__)

# Errors a later attempt can fix: the server is down, busy (4xx), or the network dropped.
RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPException,
    ConnectionError,
    OSError,
)
CLAIM_BATCH = 500
# A queued send whose task has not started by then lost its message (a send takes seconds,
# the email queue is short); the beat tick that notices queues it again.
DIGEST_QUEUE_LOST_AFTER = timedelta(minutes=15)


def _default_next(pref: DigestPreference, now: datetime) -> datetime:
    return next_send_after(weekday=pref.weekday, hour=pref.hour, tz_name=pref.timezone, after=now)


def preference_get_or_create(user: User, now: datetime | None = None) -> DigestPreference:
    """The member's preference; made with the defaults (on, Monday 08:00) the first time."""
    now = now or timezone.now()
    pref = DigestPreference.objects.filter(user=user).first()
    if pref is not None:
        return pref
    pref = DigestPreference(user=user)
    pref.next_send_at = _default_next(pref, now)
    try:
        with transaction.atomic():
            pref.save()
    except IntegrityError:
        # Made by a concurrent request or tick between our read and our insert.
        return DigestPreference.objects.get(user=user)
    return pref


def preferences_ensure(now: datetime) -> int:
    """Give every active member without a preference row the default one.

    A member who never opened the settings page still gets the digest: this runs on
    every tick, so rows exist before the due-members query reads them.
    """
    missing = (
        User.objects.filter(
            is_active=True, memberships__isnull=False, digest_preference__isnull=True
        )
        .exclude(email="")
        .values_list("pk", flat=True)
        .distinct()
    )
    template = DigestPreference()
    first = _default_next(template, now)
    rows = [DigestPreference(user_id=pk, next_send_at=first) for pk in missing]
    DigestPreference.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows)


def preference_update(
    user: User,
    *,
    enabled: bool,
    weekday: int,
    hour: int,
    tz_name: str,
    now: datetime | None = None,
) -> DigestPreference:
    now = now or timezone.now()
    pref = preference_get_or_create(user, now)
    pref.enabled = enabled
    pref.weekday = weekday
    pref.hour = hour
    pref.timezone = tz_name
    if enabled:
        pref.unsubscribed_at = None
        pref.next_send_at = _default_next(pref, now)
    else:
        pref.next_send_at = None
    pref.save()
    return pref


def preference_unsubscribe(user: User, now: datetime | None = None) -> None:
    now = now or timezone.now()
    pref = preference_get_or_create(user, now)
    DigestPreference.objects.filter(pk=pref.pk).update(
        enabled=False, unsubscribed_at=now, next_send_at=None
    )


@dataclass(frozen=True)
class Claimed:
    user_id: int
    week: date


def digests_claim_due(
    now: datetime, batch: int = CLAIM_BATCH, user_ids: Collection[int] | None = None
) -> list[Claimed]:
    """Claim members whose digest is due by moving next_send_at on, one conditional UPDATE
    each: a row another beat already moved updates nothing here, so it is not claimed twice.

    The week is taken from the slot that fell due, on the member's calendar, so a tick that
    runs late still files the digest under the week it was meant for. Reads in batches
    until nobody due is left, so a Monday 08:00 shared by thousands is one tick's work.
    `user_ids` limits the claim to those members (an operator's `send_digests --user`).
    """
    preferences_ensure(now)
    due_now = DigestPreference.objects.filter(
        enabled=True, unsubscribed_at__isnull=True, next_send_at__lte=now
    )
    if user_ids is not None:
        due_now = due_now.filter(user_id__in=list(user_ids))
    claimed = []
    while True:
        due = list(
            due_now.order_by("next_send_at", "pk").only(
                "pk", "user_id", "weekday", "hour", "timezone", "next_send_at"
            )[:batch]
        )
        for pref in due:
            slot = pref.next_send_at
            assert slot is not None
            following = next_send_after(
                weekday=pref.weekday, hour=pref.hour, tz_name=pref.timezone, after=max(now, slot)
            )
            won = DigestPreference.objects.filter(pk=pref.pk, next_send_at=slot).update(
                next_send_at=following
            )
            if won:
                claimed.append(Claimed(pref.user_id, week_of(slot, pref.timezone)))
        # Every row read is now past `now`, moved here or by another beat: none comes back.
        if len(due) < batch:
            return claimed


def digests_release_stuck(sends: QuerySet[DigestSend]) -> int:
    """Let sends left "claimed" by a worker that died be retried (`send_digests --now`).

    Only for an operator who has checked the member did not get the message: the send may
    have reached the mail server before the worker died (see digest_send).
    """
    return sends.filter(status=SendStatus.CLAIMED).update(
        status=SendStatus.FAILED, error="released by an operator after the worker died"
    )


def digests_enqueue_due(now: datetime | None = None) -> int:
    """The beat tick: claim the due members, record a "queued" send for each, queue the
    sends after commit, and queue again the sends whose message was lost on the way.

    The claim moves each member's next send time forward, so without the "queued" row a
    message lost with a broker that keeps nothing (Redis restarted) would lose that week's
    digest; with it, the database still knows the send is owed.
    """
    from workers.tasks import send_digest_task  # task object only, to enqueue

    now = now or timezone.now()
    with transaction.atomic():
        claimed = digests_claim_due(now)
        DigestSend.objects.bulk_create(
            [
                DigestSend(
                    user_id=item.user_id,
                    week=item.week,
                    status=SendStatus.QUEUED,
                    claimed_at=now,
                    queued_at=now,
                )
                for item in claimed
            ],
            ignore_conflicts=True,
        )
        lost = _sends_lost_in_queue(now)
        for user_id, week in [(item.user_id, item.week) for item in claimed] + lost:
            # Celery's Django task class has it; the celery-types stubs do not.
            send_digest_task.delay_on_commit(user_id, week.isoformat())  # type: ignore[attr-defined]
    return len(claimed) + len(lost)


def _sends_lost_in_queue(now: datetime) -> list[tuple[int, date]]:
    """Sends still "queued" long after their message should have run: take each over with a
    conditional UPDATE (one beat wins) and hand them back to be queued again."""
    stale = DigestSend.objects.filter(
        status=SendStatus.QUEUED,
        queued_at__lt=now - DIGEST_QUEUE_LOST_AFTER,
        # A week's digest found lost a week later is news nobody wants.
        claimed_at__gte=now - timedelta(days=7),
    ).values_list("pk", "user_id", "week", "queued_at")
    taken = []
    for pk, user_id, week, queued_at in stale[:500]:
        if DigestSend.objects.filter(pk=pk, queued_at=queued_at).update(queued_at=now):
            taken.append((user_id, week))
    return taken


def digest_preview(
    user: User, now: datetime | None = None, shared: DigestWeek | None = None
) -> tuple[Digest, RenderedDigest]:
    """Exactly what a send at `now` would build and render; writes nothing but the default
    preference row."""
    now = now or timezone.now()
    pref = preference_get_or_create(user, now)
    digest = digest_for(user, now, shared=shared, today=now.astimezone(zone(pref.timezone)).date())
    return digest, digest_render(digest, pref.timezone)


def _queued_send_drop(user_id: int, week: date) -> None:
    """Nothing is owed any more (the member left or unsubscribed since the claim)."""
    DigestSend.objects.filter(user_id=user_id, week=week, status=SendStatus.QUEUED).delete()


def _claim_send(user: User, week: date, now: datetime) -> DigestSend | None:
    """Own this member's send for this week, or None when it is done or in other hands."""
    # The beat recorded it as queued: the first copy of the message to get here takes it.
    if DigestSend.objects.filter(user=user, week=week, status=SendStatus.QUEUED).update(
        status=SendStatus.CLAIMED, attempts=F("attempts") + 1, claimed_at=now
    ):
        return DigestSend.objects.get(user=user, week=week)
    try:
        with transaction.atomic():
            return DigestSend.objects.create(
                user=user, week=week, status=SendStatus.CLAIMED, attempts=1, claimed_at=now
            )
    except IntegrityError:
        pass
    # The row exists. Only a failed attempt (SMTP refused or down) may be taken over, and
    # only by one retry: the conditional UPDATE decides. A row still "claimed" is being sent
    # by another worker right now, or its worker died mid-send (see digest_send).
    taken = DigestSend.objects.filter(user=user, week=week, status=SendStatus.FAILED).update(
        status=SendStatus.CLAIMED, attempts=F("attempts") + 1, claimed_at=now
    )
    if not taken:
        return None
    return DigestSend.objects.get(user=user, week=week)


def _deliver(message: EmailMultiAlternatives) -> None:
    """Hand the message to the mail server; errors before it accepts the message propagate.

    The connection is opened and closed here rather than by send(): once the server has
    accepted the message, an error on QUIT must not look like a failed send, or the retry
    would deliver a second copy.
    """
    connection = get_connection(fail_silently=False)
    connection.open()
    try:
        connection.send_messages([message])
    finally:
        try:
            connection.close()
        except RETRYABLE_ERRORS:
            logger.info("mail server closed the connection uncleanly after the send")


def _mark(send: DigestSend, status: str, **fields: object) -> None:
    DigestSend.objects.filter(pk=send.pk).update(status=status, **fields)
    send.status = status


def digest_send(
    user_id: int, week: date, now: datetime | None = None, shared: DigestWeek | None = None
) -> DigestSend | None:
    """Build and send one member's digest for one week, at most once.

    Where the "sent" mark goes: the row is committed as "claimed" before the SMTP call and
    marked "sent" right after the server accepts the message. So:

    - An SMTP error (server down, 4xx, dropped connection) marks the row "failed" and
      re-raises; the task retries with backoff, the retry takes the failed row over, and no
      message exists yet, so no second copy is made.
    - Residual: if the process dies after the server accepted the message but before the
      "sent" update commits, the row stays "claimed" and nothing resends it: that week's
      digest is at most once, never twice. Likewise, if the connection breaks after the
      server queued the message but before its reply reached us, the retry can deliver a
      second copy (at least once in that narrow window); both copies carry the same
      Message-ID, so most clients show one. We prefer losing a weekly digest in a crash to
      sending two; an operator who finds a stuck "claimed" row releases it (admin
      action) and reruns `send_digests --now --user`.
    """
    now = now or timezone.now()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        _queued_send_drop(user_id, week)
        return None
    pref = preference_get_or_create(user, now)
    if not pref.enabled or pref.unsubscribed_at is not None:
        _queued_send_drop(user_id, week)
        return None
    send = _claim_send(user, week, now)
    if send is None:
        return None
    try:
        digest, rendered = digest_preview(user, now, shared)
    except Exception as exc:
        # A bug, not a mail problem: the task does not retry it, and the row must not look
        # like a send in progress, or a fixed rerun would skip it.
        _mark(send, SendStatus.FAILED, error=f"building failed: {exc!r}"[:2000])
        raise
    if digest.is_empty:
        _mark(send, SendStatus.EMPTY, error="")
        return send
    msg_id = message_id(user, week)
    DigestSend.objects.filter(pk=send.pk).update(subject=rendered.subject, message_id=msg_id)
    try:
        _deliver(digest_message(rendered, user.email, msg_id))
    except smtplib.SMTPRecipientsRefused as exc:
        # The server refused this address outright: retrying cannot help.
        _mark(send, SendStatus.FAILED, error=f"recipient refused: {exc}"[:2000])
        return send
    except RETRYABLE_ERRORS as exc:
        _mark(send, SendStatus.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:2000])
        logger.warning("digest for user %s week %s not sent yet: %s", user_id, week, exc)
        raise
    _mark(send, SendStatus.SENT, sent_at=timezone.now(), error="")
    send.subject = rendered.subject
    return send
