"""The search box: keyword and semantic rankings fused by reciprocal rank, then filtered."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from tracker.core.db import beside
from tracker.papers.embeddings import search_model_name, stored_model_name
from tracker.papers.models import Paper
from tracker.papers.vectors import vector_store_forget
from tracker.search.backends import PgvectorStore, vector_store
from tracker.search.filters import SearchFilters
from tracker.search.index import active_index, encoding_pool, query_vector, vector_index_forget
from tracker.search.keyword import (
    CANDIDATES,
    keyword_caches_forget,
    keyword_search,
    keyword_search_scored,
)
from tracker.search.semantic import best_of, semantic_within

# Reciprocal rank fusion constant: 60 is the value of the original paper; it lets a paper
# ranked well by one method but absent from the other still come near the top.
RRF_K = 60

HIT_FIELDS = ("title", "abstract", "primary_category", "published_at", "lab")


@dataclass
class SearchHit:
    paper: Paper
    score: float
    keyword_rank: int | None
    semantic_rank: int | None
    similarity: float | None


def search(query: str, filters: SearchFilters | None = None, limit: int = 20) -> list[SearchHit]:
    """One box: keyword and semantic rankings fused by reciprocal rank, then filtered."""
    filters = filters or SearchFilters()
    allowed = filters.apply(Paper.objects.visible())
    within = allowed if filters.active else None
    store = vector_store()
    if isinstance(store, PgvectorStore):
        keyword, semantic = _rankings_in_database(store, query, filters, within)
    else:
        keyword, semantic = _rankings_in_process(query, filters, within)
    return _fused(keyword, semantic, allowed, limit)


def _rankings_in_process(
    query: str, filters: SearchFilters, within: QuerySet[Paper] | None
) -> tuple[list[int], list[tuple[int, float]]]:
    # The question is encoded and scored on another thread while the database answers the
    # keyword side: torch and the database both release the GIL, so the waits overlap.
    index = active_index()
    question = query.strip()
    scoring = (
        encoding_pool().submit(index.question_scores, question)
        if index is not None and question and len(index.ids)
        else None
    )
    keyword = keyword_search(query, CANDIDATES, within, dated=_dated(filters))
    scores = scoring.result() if scoring is not None else None
    if index is None or scores is None:
        semantic = []
    elif within is not None:
        semantic = semantic_within(within, index, scores, filters)
    else:
        semantic = best_of(index, scores, CANDIDATES, None)
    return keyword, semantic


def _rankings_in_database(
    store: PgvectorStore, query: str, filters: SearchFilters, within: QuerySet[Paper] | None
) -> tuple[list[int], list[tuple[int, float]]]:
    """Both rankings from the database, the two sides at once: the question is encoded on
    one thread and its nearest papers within the filters walked from the vector index on
    another, on a connection of its own (`beside`), while this one runs the keyword side.
    The keyword side's query that ranks its matches also scores each match it returns by
    meaning, exactly, so a paper found by keywords and near the question in meaning has
    its semantic rank even when the graph's walk missed it. Those are the papers whose
    deep semantic rank counts: among the fused first n, a paper past the first n by
    meaning is there only through a keyword rank as well, since 1/(RRF_K + rank) alone
    falls below what each of the semantic first n scores."""
    model_name = search_model_name(stored_model_name())
    question = query.strip()
    if model_name is None or not question:
        return keyword_search(query, CANDIDATES, within, dated=_dated(filters)), []
    name = model_name
    encoding = encoding_pool().submit(query_vector, name, question)
    walking = beside(lambda: store.nearest(name, encoding.result(), filters, CANDIDATES))
    scored = keyword_search_scored(
        query,
        CANDIDATES,
        within,
        dated=_dated(filters),
        cosine=lambda: store.cosine(name, encoding.result()),
    )
    found = dict(walking.result())
    for pk, cosine in scored:
        if cosine is not None:
            found.setdefault(pk, cosine)
    semantic = sorted(found.items(), key=lambda row: -row[1])[:CANDIDATES]
    return [pk for pk, _ in scored], semantic


def _dated(filters: SearchFilters) -> bool:
    return bool(filters.date_from or filters.date_to)


def _fused(
    keyword: list[int], semantic: list[tuple[int, float]], allowed: QuerySet[Paper], limit: int
) -> list[SearchHit]:
    fused: dict[int, float] = {}
    for rank, pk in enumerate(keyword[:CANDIDATES], start=1):
        fused[pk] = fused.get(pk, 0.0) + 1.0 / (RRF_K + rank)
    for rank, (pk, _) in enumerate(semantic, start=1):
        fused[pk] = fused.get(pk, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(fused, key=lambda pk: -fused[pk])[: limit * 2]
    papers = allowed.only(*HIT_FIELDS).in_bulk(best)
    keyword_rank = {pk: r for r, pk in enumerate(keyword[:CANDIDATES], start=1)}
    semantic_rank = {pk: (r, s) for r, (pk, s) in enumerate(semantic, start=1)}
    hits = []
    for pk in best:
        if pk not in papers:
            continue
        sem = semantic_rank.get(pk)
        hits.append(
            SearchHit(
                paper=papers[pk],
                score=fused[pk],
                keyword_rank=keyword_rank.get(pk),
                semantic_rank=sem[0] if sem else None,
                similarity=sem[1] if sem else None,
            )
        )
    return hits[:limit]


def search_caches_forget() -> None:
    """Drop this process's search caches: the vector matrices, which words are common, and
    what it knew of the pgvector column."""
    vector_index_forget()
    vector_store_forget()
    keyword_caches_forget()
