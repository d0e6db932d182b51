"""Thin tasks: each takes ids, calls one tracker service, and owns its retry policy.

The services are imported inside the tasks: the tracker imports this module for the task
objects it enqueues, so importing the services here at load time would make a circle.
"""

from __future__ import annotations

import smtplib
from contextlib import suppress
from datetime import date

from celery import Task, shared_task

from pipeline.embedding import EmbeddingModelError
from pipeline.errors import HarvestError, TransientHarvestError


@shared_task(name="workers.tasks.record_heartbeat_task")
def record_heartbeat_task(hostname: str = "") -> str:
    """Beat sends this every minute; /health/ reports when a worker last ran one."""
    from tracker.core.heartbeat import heartbeat_record

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
    from tracker.papers.harvest import SERVICE_ERRORS, source_harvest_by_id

    run = source_harvest_by_id(source_id)
    if run is None:
        return None
    if run.new or run.updated:
        # New or revised text is committed: embed it now rather than at the next beat tick.
        # With the broker down the beat's pending sweep finds these papers instead.
        with suppress(*SERVICE_ERRORS):
            embed_pending_papers_task.delay()
    return run.pk


@shared_task(name="workers.tasks.harvest_due_sources_task")
def harvest_due_sources_task() -> list[int]:
    """Beat sends this every few minutes; each due source is claimed once, then queued."""
    from tracker.papers.services import sources_due_claim

    # Outside any transaction (the claim has committed): queued at once.
    claimed = sources_due_claim()
    for source_id in claimed:
        harvest_source_task.delay(source_id)
    return claimed


@shared_task(name="workers.tasks.reap_lost_harvests_task")
def reap_lost_harvests_task() -> list[int]:
    """Beat, every minute: close the runs whose worker was killed and queue their sources
    again at once. Returns the reaped runs' ids."""
    from tracker.papers.selectors import reaped_runs_sources
    from tracker.papers.services import harvest_runs_reap

    reaped = harvest_runs_reap()
    for source_id in reaped_runs_sources(reaped):
        harvest_source_task.delay(source_id)
    return reaped


# A model that cannot load is a configuration error: no retry, the error is the result.
@shared_task(name="workers.tasks.embed_papers_task", bind=True, throws=(EmbeddingModelError,))
def embed_papers_task(self: Task, paper_ids: list[int]) -> int:
    """Embed these papers if they still lack a vector; a redelivered copy resumes its claims."""
    from tracker.papers.embeddings import embed_papers

    embedded = embed_papers(paper_ids, owner=self.request.id or "eager")
    if embedded:
        cluster_papers_if_due_task.delay()
    return embedded


@shared_task(
    name="workers.tasks.embed_pending_papers_task", bind=True, throws=(EmbeddingModelError,)
)
def embed_pending_papers_task(self: Task) -> int:
    """Beat: embed every paper without a vector for the configured model (also re-embeds
    everything in the background after a model change)."""
    from tracker.papers.embeddings import embed_pending

    embedded = embed_pending(owner=self.request.id or "eager")
    if embedded:
        cluster_papers_if_due_task.delay()
    return embedded


# No retries: the rules draft when an LLM endpoint fails, and a paper that cannot be
# drafted at all is logged and skipped inside the service.
@shared_task(name="workers.tasks.draft_claims_task")
def draft_claims_task(paper_ids: list[int]) -> int:
    """Draft claims for new papers; papers drafted already are skipped (safe twice)."""
    from tracker.reproductions.services import claim_drafts_create

    return claim_drafts_create(paper_ids)


# No retries: flagging is one UPDATE per claim; a failed notice email is logged, and the
# flag it announces is on the reproduction's page anyway.
@shared_task(name="workers.tasks.flag_claim_rechecks_task")
def flag_claim_rechecks_task(paper_ids: list[int]) -> int:
    """Flag the claims of revised papers for a re-check; flagged ones are skipped (safe twice)."""
    from tracker.reproductions.services import claims_recheck_flag

    return claims_recheck_flag(paper_ids)


# No retries: each link's failure is kept on the link and it is checked again at its next
# time; a whole run that fails is simply the next hour's run.
@shared_task(name="workers.tasks.watch_code_task")
def watch_code_task() -> int:
    """Beat, hourly: find the code links of recent papers and check those that are due."""
    from tracker.papers.codewatch import code_watch_run

    return code_watch_run()


@shared_task(name="workers.tasks.cluster_papers_task")
def cluster_papers_task() -> int | None:
    """Beat, nightly (and the admin's "re-run clustering"): fit topics on every embedded
    paper. Returns the run's id, or None when there is nothing to cluster."""
    from tracker.topics.services import clustering_run_create

    run = clustering_run_create()
    return run.pk if run else None


@shared_task(name="workers.tasks.sync_vector_indexes_task")
def sync_vector_indexes_task() -> dict[str, int]:
    """Beat, nightly after clustering: on pgvector, each broad primary category gets an
    HNSW index of its own, and one that shrank loses it. Nothing elsewhere."""
    from tracker.papers.vectors import category_indexes_sync

    done = category_indexes_sync()
    return {
        "made": len(done.made),
        "dropped": len(done.dropped),
        "kept": done.kept,
        "busy": int(done.busy),
    }


@shared_task(name="workers.tasks.sync_newest_text_index_task")
def sync_newest_text_index_task() -> dict[str, int | None]:
    """Beat, nightly: on PostgreSQL, the newest papers' own full-text index, built again
    once it has grown (tracker.papers.newest_text). Nothing on SQLite."""
    from tracker.papers.newest_text import newest_text_sync

    done = newest_text_sync()
    return {
        "made": done.made,
        "dropped": len(done.dropped),
        "kept": int(done.kept),
        "busy": int(done.busy),
    }


@shared_task(name="workers.tasks.cluster_papers_if_due_task")
def cluster_papers_if_due_task() -> int | None:
    """After embedding, and on beat: fit topics when none exist yet or a fifth of the papers
    arrived since the last run. Cheap when nothing is due (three counts)."""
    from tracker.topics.services import clustering_run_create_if_due

    run = clustering_run_create_if_due()
    return run.pk if run else None


@shared_task(name="workers.tasks.share_papers_task")
def share_papers_task(paper_ids: list[int]) -> int:
    """Share newly arrived papers in every team that shares its reading; safe to run twice
    (a shared paper keeps its readers)."""
    from tracker.triage.sharing import papers_share_everywhere

    return papers_share_everywhere(paper_ids)


@shared_task(name="workers.tasks.sweep_shares_task")
def sweep_shares_task() -> int:
    """Beat: share what no round shared yet, move the shares of members away today."""
    from tracker.triage.sharing import shares_sweep

    return shares_sweep()


@shared_task(name="workers.tasks.rebalance_shares_task")
def rebalance_shares_task(team_id: int, user_ids: list[int]) -> int:
    """Give these members' unread shares to the others (they left the team); safe twice."""
    from tracker.triage.sharing import shares_rebalance

    return shares_rebalance(team_id, user_ids=user_ids)


# No retries: a lost warm-up costs the member's next load its fit, nothing more.
@shared_task(name="workers.tasks.rank_inbox_task", ignore_result=True)
def rank_inbox_task(team_id: int, user_id: int) -> int | None:
    """Fit a member's inbox order after they rated or skipped, so that their next load finds
    it kept; safe to run twice (the second finds it kept), nothing for a member who left."""
    from tracker.triage.selectors import inbox_order_warm

    return inbox_order_warm(team_id, user_id)


# No retries: matching is a few queries and a unique constraint per alert; a paper that
# cannot be matched is logged and skipped inside the service.
@shared_task(name="workers.tasks.match_follows_task")
def match_follows_task(paper_ids: list[int]) -> int:
    """Raise the alerts of new (or newly embedded) papers; pairs alerted are skipped (safe
    twice). Returns how many alerts were raised."""
    from tracker.follows.services import alerts_create

    return alerts_create(paper_ids)


@shared_task(name="workers.tasks.alert_code_events_task")
def alert_code_events_task(event_ids: list[int]) -> int:
    """Alert the followers of papers whose code or weights appeared (safe twice)."""
    from tracker.follows.services import alerts_create_for_code_events

    return alerts_create_for_code_events(event_ids)


# Retried by hand rather than with autoretry: the wait doubles from a setting (tests shorten
# it) and the number of attempts is kept on the delivery row, which decides when to stop, so
# a failed delivery that a member sends again starts over.
@shared_task(name="workers.tasks.deliver_alert_task", bind=True, max_retries=None)
def deliver_alert_task(self: Task, delivery_id: int) -> str | None:
    """One attempt at delivering an alert to a webhook; a delivery sent, under way or gone is
    left alone (safe twice). Failures a retry may fix come back after a backoff."""
    from tracker.follows.services import delivery_retry_in, delivery_send

    try:
        return delivery_send(delivery_id)
    except TransientHarvestError as exc:
        raise self.retry(exc=exc, countdown=delivery_retry_in(self.request.retries)) from exc


@shared_task(name="workers.tasks.deliver_lost_alerts_task")
def deliver_lost_alerts_task() -> list[int]:
    """Beat: queue again the deliveries whose message was lost or whose worker died; each
    attempt claims its delivery first, so one queued twice is still sent once."""
    from tracker.follows.services import deliveries_due

    due = deliveries_due()
    for delivery_id in due:
        deliver_alert_task.delay(delivery_id)
    return due
