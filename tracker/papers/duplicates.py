"""Duplicate candidates: proposed by harvests, decided by curators, never proposed twice."""

from __future__ import annotations

import re
import unicodedata

from tracker.papers.models import CandidateStatus, DuplicateCandidate, Paper

_NON_WORD = re.compile(r"[^\w]+")


def normalize_title(title: str) -> str:
    """Lower-case, accents and punctuation folded, spaces collapsed: the title match key."""
    folded = unicodedata.normalize("NFKD", title)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", folded.casefold()).strip()[:500]


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
