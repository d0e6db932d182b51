"""Thin tasks: each takes ids, loads rows, calls one domain function, and owns its retries."""

from __future__ import annotations

import smtplib
from datetime import date

from celery import Task, shared_task

from tracker.core.heartbeat import heartbeat_record
from workers.harvest.errors import HarvestError, TransientHarvestError


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


@shared_task(
    name="workers.tasks.harvest_source_task",
    # Only what a later try can fix: network failures, 5xx, 429/503, an empty page. A
    # malformed response or a bad query fails the run for a person to look at instead.
    autoretry_for=(TransientHarvestError,),
    retry_backoff=60,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=5,
    # An expected failure, already recorded on the run: logged without a traceback.
    throws=(HarvestError,),
)
def harvest_source_task(source_id: int) -> int | None:
    """Harvest one source; returns the run id. Safe twice: upserts are idempotent and the
    cursor only moves forward. A source deleted or disabled meanwhile is skipped."""
    from tracker.papers.models import Source
    from workers.harvest.run import source_harvest

    source = Source.objects.enabled().filter(pk=source_id).first()
    if source is None:
        return None
    return source_harvest(source).pk


@shared_task(name="workers.tasks.harvest_due_sources_task")
def harvest_due_sources_task() -> list[int]:
    """Beat sends this every few minutes; each due source is claimed once, then queued."""
    from tracker.papers.services import sources_due_claim

    claimed = sources_due_claim()
    for source_id in claimed:
        harvest_source_task.delay(source_id)
    return claimed
