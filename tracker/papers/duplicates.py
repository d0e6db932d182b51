"""Duplicate candidates: proposed by harvests, decided by curators, never proposed twice."""

from __future__ import annotations

from pipeline.records import normalize_title
from tracker.papers.models import CandidateStatus, DuplicateCandidate, Paper

# The title match key is plain text work, kept with the records; named here too because
# duplicates are matched by it.
__all__ = ["duplicate_candidate_propose", "normalize_title"]


def duplicate_candidate_propose(
    first: Paper, second: Paper, *, reason: str, score: float = 1.0
) -> DuplicateCandidate | None:
    """Propose that two papers are one work. Returns None for the same paper.

    The ordered pair is unique, so a pair a curator already rejected (or merged) keeps its
    decision: proposing it again finds the old row and changes nothing.
    """
    if first.pk == second.pk:
        return None
    low, high = sorted((first.pk, second.pk))
    candidate, _ = DuplicateCandidate.objects.get_or_create(
        paper_a_id=low,
        paper_b_id=high,
        defaults={"reason": reason, "score": score, "status": CandidateStatus.OPEN},
    )
    return candidate
