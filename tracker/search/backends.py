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
    store.nearest(model_name, vector, papers, limit)     # [(paper id, cosine)] in `papers`

`papers` is any Paper queryset (filters applied, hidden and merged papers left out by the
caller); both backends return at most `limit` rows, best first, with exact cosines on the
in-process side and the index's approximate ranking (recall@10 about 0.99) on pgvector.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import numpy as np
from django.db import connection, transaction
from django.db.models import F, QuerySet
from pgvector import HalfVector
from pgvector.django import CosineDistance

from tracker.papers.embeddings import search_model_name, stored_model_name
from tracker.papers.models import EmbeddingVector, Paper
from tracker.papers.vectors import indexed_vector, of_dimension, vector_store_ready
from tracker.search import index as in_process

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


class VectorStore(Protocol):
    name: str

    def similar_papers(self, paper: Paper, limit: int) -> list[tuple[Paper, float]]: ...

    def nearest(
        self,
        model_name: str,
        vector: np.ndarray,
        papers: QuerySet[Paper],
        limit: int,
        including: Collection[int] = (),
    ) -> list[tuple[int, float]]: ...


class InProcessStore:
    name = "in-process"

    def similar_papers(self, paper: Paper, limit: int) -> list[tuple[Paper, float]]:
        return in_process.similar_papers(paper, limit)

    def nearest(
        self,
        model_name: str,
        vector: np.ndarray,
        papers: QuerySet[Paper],
        limit: int,
        including: Collection[int] = (),
    ) -> list[tuple[int, float]]:
        # The scan is exact: a paper of `including` near enough is among the rows already.
        index = in_process.vector_index(model_name)
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
        papers = Paper.objects.visible().exclude(pk=paper.pk).only(*in_process.SIMILAR_FIELDS)
        return [
            (found, 1.0 - _distance(found))
            for found in self._ranked(papers, model_name, np.asarray(own), limit)
        ]

    def nearest(
        self,
        model_name: str,
        vector: np.ndarray,
        papers: QuerySet[Paper],
        limit: int,
        including: Collection[int] = (),
    ) -> list[tuple[int, float]]:
        return [
            (found.pk, 1.0 - _distance(found))
            for found in self._ranked(papers.only("pk"), model_name, vector, limit, including)
        ]

    def _ranked(
        self,
        papers: QuerySet[Paper],
        model_name: str,
        vector: np.ndarray,
        limit: int,
        including: Collection[int] = (),
    ) -> list[Paper]:
        """The `limit` papers nearest `vector` among `papers`, best first, each with its
        cosine `distance`, in one query on the model's HNSW index. The papers of
        `including` (of `papers`) are scored exactly in the same query and ranked with the
        rows the graph's walk found: one of them near enough for the first `limit` is
        there even when the walk missed it. The search box passes its keyword matches, the
        only rows whose semantic rank counts past the first few in the fusion."""
        with transaction.atomic(), connection.cursor() as cursor:
            # relaxed_order: a filtered scan keeps going until `limit` rows pass, and may
            # return them slightly out of order, hence the sort below.
            fetched = max(limit, FETCHED_AT_LEAST)
            ef_search = min(EF_SEARCH_CEILING, max(EF_SEARCH, fetched * EF_PER_ROW))
            cursor.execute(
                "SET LOCAL hnsw.iterative_scan = relaxed_order; "
                f"SET LOCAL hnsw.ef_search = {ef_search}; "
                f"SET LOCAL hnsw.max_scan_tuples = {MAX_SCAN_TUPLES}"
            )
            walk = self._query(papers, model_name, vector, fetched)
            if including:
                scored = self._scored(papers.filter(pk__in=including), model_name, vector)
                walk = walk.union(scored)
            found = {paper.pk: paper for paper in walk}
        return sorted(found.values(), key=_distance)[:limit]

    def _query(
        self, papers: QuerySet[Paper], model_name: str, vector: np.ndarray, limit: int
    ) -> QuerySet[Paper]:
        return self._scored(papers, model_name, vector).order_by(F("distance"))[:limit]

    def _scored(
        self, papers: QuerySet[Paper], model_name: str, vector: np.ndarray
    ) -> QuerySet[Paper]:
        """`papers` with their vector of `model_name`, each with its cosine `distance` to
        `vector` as the model's HNSW index computes it."""
        dimension = int(vector.shape[0])
        of_model = papers.filter(vectors__model_name=model_name)
        return of_dimension(of_model, "vectors__vector", dimension).annotate(
            distance=CosineDistance(
                indexed_vector("vectors__vector", dimension), HalfVector(vector.tolist())
            )
        )


def _distance(paper: Paper) -> float:
    """The cosine distance _ranked annotated a paper with."""
    return float(paper.distance)  # type: ignore[attr-defined]


def vector_store() -> VectorStore:
    """The backend that answers this database's nearest-vector queries now."""
    return PgvectorStore() if vector_store_ready() else InProcessStore()


def similar_papers(
    paper: Paper, limit: int = in_process.SIMILAR_SHOWN
) -> list[tuple[Paper, float]]:
    """The visible papers nearest to `paper` by cosine, best first (the paper page's list)."""
    return vector_store().similar_papers(paper, limit)
