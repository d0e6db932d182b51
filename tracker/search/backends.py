"""Where search finds the nearest vectors: the vector store interface and its two backends.

- `InProcessStore`: each process loads one model's vectors into a matrix and scans it
  (tracker.search.index). The embedded default on SQLite, and on a PostgreSQL without
  the `vector` extension.
- `PgvectorStore`: the database answers from the pgvector column and its per-model HNSW
  index (tracker.papers.vectors), filters included, in one query; the web process holds
  no vectors. Used once the column exists and holds every vector (vector_store_ready).

`vector_store()` picks one per call; callers use only the `VectorStore` methods:

    store = vector_store()
    store.similar_papers(paper, limit)                   # [(Paper, cosine)], visible only
    store.nearest(model_name, vector, filters, limit)    # [(paper id, cosine)], visible
                                                         # papers within the filters

`filters` are the search filters (SearchFilters); hidden and merged papers are always
left out. Both backends return at most
`limit` rows, best first, with exact cosines on the in-process side and the index's
approximate ranking (recall@10 about 0.99) on pgvector. There the filters are tested on
the vector's own row (the paper's facts kept beside it, EmbeddingVector), so the HNSW
walk looks no paper up; only a topic filter joins the paper's topic.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from django.db.models import F, FloatField, OuterRef, QuerySet, Subquery, Value
from django.db.models.expressions import Expression
from pgvector import HalfVector
from pgvector.django import CosineDistance

from tracker.core.db import planned_rows, planner_settings
from tracker.papers.embeddings import search_model_name, stored_model_name
from tracker.papers.models import EmbeddingVector, Paper
from tracker.papers.vectors import (
    CATEGORY_INDEX_ROWS,
    indexed_vector,
    of_dimension,
    vector_store_ready,
)
from tracker.search import index as in_process
from tracker.search.filters import SearchFilters

# How many candidates the HNSW scan keeps (hnsw.ef_search): 100 holds recall@10 above 0.99
# at 100k vectors where the default 40 gives about 0.95 (bench/vector_store.py).
EF_SEARCH = 100
# With a filter the scan goes on past ef_search until `limit` rows pass it (pgvector's
# iterative index scan), reading at most this many tuples before it gives up; a narrower
# filter is better answered exactly, which the planner picks on its own when it can.
MAX_SCAN_TUPLES = 50_000
# A short list is asked for this long and cut after the exact sort: the graph's first few
# rows are its most approximate, more so under a filter (recall@10 with a category filter
# 0.89-0.93 at 50k-100k papers when asked for 10), and the longer walk costs little.
FETCHED_AT_LEAST = 40
# The walk keeps this many candidates per row asked, up to pgvector's ceiling of 1000. A
# walk that keeps only as many as it returns loses the deep end of a long list: the search
# box fuses 200 rows, and at 100k papers ef_search 200 found 0.80 of the exact 200 (the box
# agreed with the exact box on 0.84 of its first ten), ef_search 1000 found 0.97 (0.93).
EF_PER_ROW = 5
EF_SEARCH_CEILING = 1000
# A filter that the planner expects to leave fewer rows than this is answered exactly (the
# rows it allows read through the filter columns' btree indexes and sorted), not by the
# graph: the HNSW walk would have to pass over about `fetched / share` rows to find its
# rows, at 25-30 us each, and the sparser the rows it wants, the worse the graph connects
# them. At 300k papers a category of 4,427 papers (1.5%) took p50 124 / p95 259 ms on the
# graph with recall@10 0.71; one of 715 papers, answered exactly, 6 / 9 ms and 1.00. A
# category broad enough for the graph has a graph of its own (CATEGORY_INDEX_ROWS, half
# this), which the planner walks instead of the model's.
EXACT_BELOW = 2 * CATEGORY_INDEX_ROWS


class VectorStore(Protocol):
    name: str

    def similar_papers(self, paper: Paper, limit: int) -> list[tuple[Paper, float]]: ...

    def nearest(
        self,
        model_name: str,
        vector: np.ndarray,
        filters: SearchFilters,
        limit: int,
    ) -> list[tuple[int, float]]: ...


class InProcessStore:
    name = "in-process"

    def similar_papers(self, paper: Paper, limit: int) -> list[tuple[Paper, float]]:
        return in_process.similar_papers(paper, limit)

    def nearest(
        self,
        model_name: str,
        vector: np.ndarray,
        filters: SearchFilters,
        limit: int,
    ) -> list[tuple[int, float]]:
        index = in_process.vector_index(model_name)
        papers = filters.apply(Paper.objects.visible())
        allowed = set(papers.values_list("pk", flat=True))
        scores = np.where(np.isin(index.ids, list(allowed)), index.scores(vector), -np.inf)
        order = in_process.top_finite(scores, limit)
        return list(zip(index.ids[order].tolist(), scores[order].tolist(), strict=True))


class PgvectorStore:
    name = "pgvector"

    def similar_papers(self, paper: Paper, limit: int) -> list[tuple[Paper, float]]:
        model_name = search_model_name(stored_model_name())
        if model_name is None:
            return []
        own = (
            EmbeddingVector.objects.filter(paper=paper, model_name=model_name)
            .values_list("vector", flat=True)
            .first()
        )
        if own is None:
            return []
        vector = np.asarray(own)
        rows = _vectors_within(model_name, int(vector.shape[0]), SearchFilters())
        # Each row found brings its paper's fields along (a lookup for those rows alone).
        shown = [f"paper__{name}" for name in in_process.SIMILAR_FIELDS]
        rows = rows.exclude(paper_id=paper.pk).select_related("paper").only("paper_id", *shown)
        return [(row.paper, 1.0 - _distance(row)) for row in self._ranked(rows, vector, limit)]

    def nearest(
        self,
        model_name: str,
        vector: np.ndarray,
        filters: SearchFilters,
        limit: int,
    ) -> list[tuple[int, float]]:
        allowed = _allowed(model_name, filters)
        narrowed = allowed if filters.active else None
        # Values, not instances: a model instance for each of the box's 200 rows took 1.5 ms
        # of the web process's CPU, beside the walk and the keyword side on two cores.
        rows = of_dimension(allowed, "vector", int(vector.shape[0])).values_list("paper_id")
        found = self._ranked(rows, vector, limit, narrowed)
        return [(paper_id, 1.0 - distance) for paper_id, distance in found]

    def cosine(self, model_name: str, vector: np.ndarray) -> Expression:
        """Each paper's cosine to `vector`, as an expression on a query of papers: of its
        vector of `model_name`, exact, None where it has none of that dimension (not yet
        embedded). One index lookup of its vector for each paper: for a query that
        returns few papers."""
        dimension = int(vector.shape[0])
        own = EmbeddingVector.objects.filter(paper_id=OuterRef("pk"), model_name=model_name)
        distance = of_dimension(own, "vector", dimension).values(d=_cosine_distance(vector))
        return Value(1.0) - Subquery(distance[:1], output_field=FloatField())

    def _ranked(
        self,
        rows: QuerySet[EmbeddingVector],
        vector: np.ndarray,
        limit: int,
        narrowed: QuerySet[EmbeddingVector] | None = None,
    ) -> list[Any]:
        """The `limit` rows of `rows` nearest `vector`, best first, each with its cosine
        distance (an attribute of a model, the last of a row of values), in one query on
        the model's HNSW index. `narrowed`: the filtered rows `rows` are of (every
        dimension), when filters apply: answered exactly when the planner expects few of
        them (EXACT_BELOW)."""
        with planner_settings() as (cursor, settings):
            # relaxed_order: a filtered scan keeps going until `limit` rows pass, and may
            # return them slightly out of order, hence the sort below.
            fetched = max(limit, FETCHED_AT_LEAST)
            ef_search = min(EF_SEARCH_CEILING, max(EF_SEARCH, fetched * EF_PER_ROW))
            plan: dict[str, object] = {}
            # The planner's estimate, without the dimension's test, which it cannot
            # estimate (it guesses 0.5% of rows for it): `narrowed` has none.
            if narrowed is not None and planned_rows(cursor, narrowed) < EXACT_BELOW:
                # No index scan: the graph is one; the btrees are read as bitmaps.
                plan = {"enable_indexscan": "off"}
            elif narrowed is not None:
                # The walk, which gives its rows in order: the planner would otherwise
                # sort every row a broad filter allows, read through its btree (a category
                # of 166k papers at 300k: 292 ms where the walk takes 9).
                plan = {"enable_sort": "off"}
            settings(
                {
                    **plan,
                    "hnsw.iterative_scan": "relaxed_order",
                    "hnsw.ef_search": ef_search,
                    "hnsw.max_scan_tuples": MAX_SCAN_TUPLES,
                }
            )
            found = list(self._query(rows, vector, fetched))
        return sorted(found, key=_distance)[:limit]

    def _query(
        self, rows: QuerySet[EmbeddingVector], vector: np.ndarray, limit: int
    ) -> QuerySet[EmbeddingVector]:
        return _scored(rows, vector).order_by(F("distance"))[:limit]


def _allowed(model_name: str, filters: SearchFilters) -> QuerySet[EmbeddingVector]:
    """The vectors of `model_name` of visible papers within `filters`, tested on each
    vector's own row."""
    rows = EmbeddingVector.objects.filter(model_name=model_name, visible=True)
    return filters.apply_to_vectors(rows)


def _vectors_within(
    model_name: str, dimension: int, filters: SearchFilters
) -> QuerySet[EmbeddingVector]:
    """_allowed, of one dimension, as the model's HNSW index holds them."""
    return of_dimension(_allowed(model_name, filters), "vector", dimension)


def _scored(rows: QuerySet[EmbeddingVector], vector: np.ndarray) -> QuerySet[EmbeddingVector]:
    """`rows`, each with its cosine `distance` to `vector` as the model's HNSW index
    computes it."""
    return rows.annotate(distance=_cosine_distance(vector))


def _cosine_distance(vector: np.ndarray) -> CosineDistance:
    """An EmbeddingVector's cosine distance to `vector`, as the model's HNSW index has it."""
    dimension = int(vector.shape[0])
    return CosineDistance(indexed_vector("vector", dimension), HalfVector(vector.tolist()))


def _distance(row: EmbeddingVector | tuple[Any, ...]) -> float:
    """The cosine distance _scored annotated a row with: the last of a row of values."""
    return float(row[-1] if isinstance(row, tuple) else row.distance)  # type: ignore[attr-defined]


def vector_store() -> VectorStore:
    """The backend that answers this database's nearest-vector queries now."""
    return PgvectorStore() if vector_store_ready() else InProcessStore()


def similar_papers(
    paper: Paper, limit: int = in_process.SIMILAR_SHOWN
) -> list[tuple[Paper, float]]:
    """The visible papers nearest to `paper` by cosine, best first (the paper page's list)."""
    return vector_store().similar_papers(paper, limit)
