"""Thin tasks: each takes ids, loads rows, calls one domain function, and owns its retries."""

from __future__ import annotations

import smtplib
from datetime import date

from celery import Task, shared_task

from tracker.core.heartbeat import heartbeat_record


@shared_task(name="workers.tasks.record_heartbeat_task")
def record_heartbeat_task(hostname: str = "") -> str:
    """Beat sends this every minute; /health/ reports when a worker last ran one."""
    return heartbeat_record(hostname)


@shared_task(name="workers.tasks.send_due_digests_task")
def send_due_digests_task() -> int:
    """Beat sends this every few minutes: claim the members whose digest is due, queue sends."""
    from tracker.digests.services import digests_enqueue_due

    return digests_enqueue_due()


@shared_task(
    name="workers.tasks.send_digest_task",
    bind=True,
    # Only what a later attempt can fix: SMTP 4xx/5xx replies, refused or dropped
    # connections, timeouts. A bug in building the digest is not retried.
    autoretry_for=(smtplib.SMTPException, ConnectionError, OSError),
    # Waits of up to 1, 2, 4 ... s, capped at 10 min, randomised so a mail server coming
    # back is not hit by every queued digest at once: about 40 minutes of attempts in all
    # before the row stays "failed".
    retry_backoff=True,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=12,
)
def send_digest_task(self: Task, user_id: int, week: str) -> str | None:
    """Send one member's digest for one ISO week (its Monday); safe to run twice."""
    from tracker.digests.services import digest_send

    send = digest_send(user_id, date.fromisoformat(week))
    return send.status if send else None
