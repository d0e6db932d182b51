"""A curator's writes on papers and duplicate candidates (the admin's actions call these)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from tracker.papers.models import CandidateStatus, DuplicateCandidate, Embedding, Paper


def papers_hidden_set(papers: QuerySet[Paper], hidden: bool) -> int:
    """Hidden papers leave the inbox, search and digests; their data stays."""
    return papers.exclude(hidden=hidden).update(hidden=hidden, updated_at=timezone.now())


def papers_pinned_set(papers: QuerySet[Paper], pinned: bool) -> int:
    """Pinned papers go into the next digest whatever their score."""
    return papers.exclude(pinned_for_digest=pinned).update(
        pinned_for_digest=pinned, updated_at=timezone.now()
    )


def papers_embeddings_reset(papers: QuerySet[Paper]) -> int:
    """Drop the current model's vectors; the embedding task re-embeds papers that lack one."""
    deleted, _ = Embedding.objects.filter(
        paper__in=papers.values("pk"), model_name=settings.EMBEDDING_MODEL
    ).delete()
    return deleted


def duplicate_candidate_reject(
    candidate: DuplicateCandidate, by: User | None
) -> DuplicateCandidate:
    """Not one work: the row stays, so proposing the pair again finds this decision."""
    candidate.status = CandidateStatus.REJECTED
    candidate.decided_by = by
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    return candidate
