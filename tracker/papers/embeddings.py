"""Writes and reads of paper embeddings: claims, storing, and which model answers search.

Every paper gets exactly one vector per model: the unique (paper, model_name) constraint
plus `ignore_conflicts` make a duplicate impossible, and claims keep two workers from
spending time on the same papers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from tracker.papers.models import Embedding, Paper

# A claim outlives any one chunk's work; if its worker dies the claim lapses, and a
# redelivered task (same owner) takes it back at once.
CLAIM_SECONDS = 30 * 60
# Which model answers search changes only when a re-embedding completes; a short
# memory spares every search two counting queries.
SEARCH_MODEL_TTL = 30.0


def papers_missing_embedding(model_name: str) -> QuerySet[Paper]:
    has_vector = Embedding.objects.filter(paper=OuterRef("pk"), model_name=model_name)
    return Paper.objects.filter(~Exists(has_vector))


def _claim_key(model_name: str, paper_id: int) -> str:
    model_key = hashlib.sha1(model_name.encode(), usedforsecurity=False).hexdigest()[:12]
    return f"embed-claim:{model_key}:{paper_id}"


def embedding_claims_take(model_name: str, paper_ids: Iterable[int], owner: str) -> list[int]:
    """The ids this owner may embed now: unclaimed ones, or ones it claimed before."""
    taken = []
    for paper_id in paper_ids:
        key = _claim_key(model_name, paper_id)
        if cache.add(key, owner, timeout=CLAIM_SECONDS) or cache.get(key) == owner:
            taken.append(paper_id)
    return taken


def embedding_claims_release(model_name: str, paper_ids: Iterable[int]) -> None:
    cache.delete_many([_claim_key(model_name, paper_id) for paper_id in paper_ids])


def embeddings_store(model_name: str, paper_ids: Sequence[int], vectors: np.ndarray) -> None:
    """Store one vector per paper; a paper that got one meanwhile keeps it."""
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    Embedding.objects.bulk_create(
        [
            Embedding(
                paper_id=paper_id,
                model_name=model_name,
                dimension=int(vector.shape[0]),
                vector=vector.tobytes(),
            )
            for paper_id, vector in zip(paper_ids, vectors, strict=True)
        ],
        ignore_conflicts=True,
    )


_search_model: dict[str, tuple[float, str | None]] = {}


def search_model_name(configured: str) -> str | None:
    """The model whose vectors answer search: the configured one once every paper has a
    vector for it, until then the model with the most vectors (the previous one)."""
    remembered = _search_model.get(configured)
    if remembered and time.monotonic() - remembered[0] < SEARCH_MODEL_TTL:
        return remembered[1]
    if not papers_missing_embedding(configured).exists():
        chosen: str | None = configured
    else:
        counts = dict(
            Embedding.objects.values_list("model_name").annotate(n=Count("id")).order_by()
        )
        chosen = max(counts, key=lambda name: (counts[name], name == configured), default=None)
    _search_model[configured] = (time.monotonic(), chosen)
    return chosen


def search_model_forget() -> None:
    """Drop the remembered choice (after an embedding run, and in tests)."""
    _search_model.clear()


# The rate of embedding is read off this many of the newest vectors, and only while the
# newest of them is this recent: a finished backlog has no rate.
RATE_SAMPLE = 500
RATE_FRESH_SECONDS = 180


@dataclass(frozen=True)
class Progress:
    """How far one step of the pipeline is: `done` of `total`, and at what pace."""

    done: int
    total: int
    per_second: float | None = None

    @property
    def remaining(self) -> int:
        return max(self.total - self.done, 0)

    @property
    def finished(self) -> bool:
        return self.remaining == 0

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))

    @property
    def eta_seconds(self) -> float | None:
        if self.finished or not self.per_second:
            return None
        return self.remaining / self.per_second


def embedding_progress(model_name: str) -> Progress:
    """Papers with a vector for `model_name` out of all papers, and the recent pace: three
    queries, each on an index (the newest vectors by id)."""
    total = Paper.objects.count()
    missing = papers_missing_embedding(model_name).count()
    newest = list(
        Embedding.objects.filter(model_name=model_name)
        .order_by("-id")
        .values_list("created_at", flat=True)[:RATE_SAMPLE]
    )
    per_second = None
    if len(newest) > 1 and (timezone.now() - newest[0]).total_seconds() < RATE_FRESH_SECONDS:
        span = (newest[0] - newest[-1]).total_seconds()
        if span > 0:
            per_second = (len(newest) - 1) / span
    return Progress(done=total - missing, total=total, per_second=per_second)


def paper_embedding_wait(paper: Paper, model_name: str) -> Progress | None:
    """Where embedding stands while `paper` still waits for its vector; None once it has
    one (its similar papers are then simply few)."""
    if Embedding.objects.filter(paper=paper, model_name=model_name).exists():
        return None
    return embedding_progress(model_name)
