"""Semantic search: the papers nearest a question's meaning, within filters.

With filters, the semantic side ranks within them by masking the rows on the paper facts
loaded with the vectors, then checking its best few hundred in the database
(semantic_within).
"""

from __future__ import annotations

import numpy as np
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from tracker.papers.embeddings import search_model_name, stored_model_name
from tracker.papers.models import Paper
from tracker.search.backends import InProcessStore, vector_store
from tracker.search.filters import SearchFilters
from tracker.search.index import (
    VectorIndex,
    active_index,
    encoding_pool,
    query_vector,
    top_finite,
)
from tracker.search.keyword import CANDIDATES

# With filters, the semantic side ranks this many times CANDIDATES before they are checked.
FILTER_OVERFETCH = 5


def semantic_search(query: str, limit: int = CANDIDATES) -> list[tuple[int, float]]:
    """(paper id, cosine) of the papers nearest to the query's meaning."""
    store = vector_store()
    if store.name != InProcessStore.name:
        model_name = search_model_name(stored_model_name())
        if model_name is None or not query.strip():
            return []
        vector = encoding_pool().submit(query_vector, model_name, query.strip()).result()
        return store.nearest(model_name, vector, SearchFilters(), limit)
    index = active_index()
    if index is None or not query.strip() or not len(index.ids):
        return []
    vector = encoding_pool().submit(query_vector, index.model_name, query.strip()).result()
    return best_of(index, index.scores(vector), limit, None)


def best_of(
    index: VectorIndex, scores: np.ndarray, limit: int, allowed: set[int] | None
) -> list[tuple[int, float]]:
    if allowed is not None:
        mask = np.isin(index.ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
        scores = np.where(mask, scores, -np.inf)
    order = top_finite(scores, limit)
    return list(zip(index.ids[order].tolist(), scores[order].tolist(), strict=True))


def semantic_within(
    papers: QuerySet[Paper], index: VectorIndex, scores: np.ndarray, filters: SearchFilters
) -> list[tuple[int, float]]:
    """The semantic ranking within what the filters allow, as if only those papers existed.

    Dates, category and kind are first applied to the rows in memory (rows_allowed). The
    database then has the last word on the best few hundred rows left, in one query on
    their ids: it also knows which papers are hidden or merged. When fewer than
    CANDIDATES of them pass (a narrow topic filter), the ranking is made within every
    paper the filters allow. Loading every id a broad filter allows ("cs.CL only") took
    most of a filtered search's time at 100k papers."""
    rows = filters.rows_allowed(index)
    if rows is not None:
        scores = np.where(rows, scores, -np.inf)
    wide = best_of(index, scores, CANDIDATES * FILTER_OVERFETCH, None)
    allowed = _among(papers, {pk for pk, _ in wide})
    semantic = [(pk, score) for pk, score in wide if pk in allowed][:CANDIDATES]
    if rows is None and len(semantic) < CANDIDATES and len(wide) < len(scores):
        semantic = best_of(index, scores, CANDIDATES, set(papers.values_list("pk", flat=True)))
    return semantic


def _among(papers: QuerySet[Paper], ids: set[int]) -> set[int]:
    """Which of `ids` are in `papers`. PostgreSQL takes the ids as one array: two thousand
    of them as an IN list cost 5x more, in building the query and in planning it. SQLite
    looks each id up and checks the filters on that row alone: with the filters beside
    the IN list it walked an index of a filter instead ("arXiv only": every paper)."""
    if connection.vendor == "postgresql":
        papers = papers.filter(pk__among=ids)
    else:
        papers = Paper.objects.filter(pk__in=ids).filter(Exists(papers.filter(pk=OuterRef("pk"))))
    return set(papers.order_by().values_list("pk", flat=True))
