"""Thin tasks: each takes ids, loads rows, calls one domain function, and owns its retries."""

from __future__ import annotations

from celery import shared_task

from tracker.core.heartbeat import heartbeat_record
from workers.embedder import EmbeddingModelError, embed_papers, embed_pending


@shared_task(name="workers.tasks.record_heartbeat_task")
def record_heartbeat_task(hostname: str = "") -> str:
    """Beat sends this every minute; /health/ reports when a worker last ran one."""
    return heartbeat_record(hostname)


# A model that cannot load is a configuration error: no retry, the error is the result.
@shared_task(name="workers.tasks.embed_papers_task", bind=True, throws=(EmbeddingModelError,))
def embed_papers_task(self, paper_ids: list[int]) -> int:  # type: ignore[no-untyped-def]
    """Embed these papers if they still lack a vector; a redelivered copy resumes its claims."""
    return embed_papers(paper_ids, owner=self.request.id or "eager")


@shared_task(
    name="workers.tasks.embed_pending_papers_task", bind=True, throws=(EmbeddingModelError,)
)
def embed_pending_papers_task(self) -> int:  # type: ignore[no-untyped-def]
    """Beat: embed every paper without a vector for the configured model (also re-embeds
    everything in the background after a model change)."""
    return embed_pending(owner=self.request.id or "eager")


@shared_task(name="workers.tasks.cluster_papers_task")
def cluster_papers_task() -> int | None:
    """Beat, nightly (and the admin's "re-run clustering"): fit topics on every embedded
    paper. Returns the run's id, or None when there is nothing to cluster."""
    from tracker.topics.services import clustering_run_create

    run = clustering_run_create()
    return run.pk if run else None
