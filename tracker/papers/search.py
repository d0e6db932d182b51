"""Search reads: similar papers, keyword, semantic, and the fused ranking of the search box.

Semantic reads go through an in-process matrix of one model's vectors. Past a few
thousand papers the scan reads a 16-bit copy (half the memory traffic, which is what a
matrix-vector product waits on), and the best few hundred rows are then scored again in
float32, so the top results are the exact ones. The matrix is rebuilt when that model's
newest vector id changes, which covers new papers, re-embedded papers and a model switch.
A paper's similar papers are kept in the shared cache and brought up to date with new
vectors alone (VectorIndex.nearest).

With filters, both sides rank within them: the keyword side in its query, the semantic
side by masking the rows on the paper facts loaded with the vectors, then checking its
best few hundred in the database (_semantic_within).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, Exists, FloatField, Func, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from tracker.papers.embeddings import search_model_name
from tracker.papers.models import Embedding, Paper

logger = logging.getLogger(__name__)

# Reciprocal rank fusion constant: 60 is the value of the original paper; it lets a paper
# ranked well by one method but absent from the other still come near the top.
RRF_K = 60
CANDIDATES = 200
# With filters, the semantic side ranks this many times CANDIDATES before they are checked.
FILTER_OVERFETCH = 5
MAX_QUERY_WORDS = 24


@dataclass(frozen=True)
class Coded:
    """A column of a few distinct strings: each row's number, and the number of each string."""

    codes: np.ndarray
    number_of: dict[str, int]

    @classmethod
    def of(cls, values: list[str]) -> Coded:
        number_of: dict[str, int] = {}
        codes = [number_of.setdefault(value, len(number_of)) for value in values]
        return cls(np.array(codes, dtype=np.int32), number_of)

    def rows_equal(self, value: str) -> np.ndarray:
        number = self.number_of.get(value)
        if number is None:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == number


@dataclass
class VectorIndex:
    model_name: str
    key: str
    ids: np.ndarray
    matrix: np.ndarray
    row_of: dict[int, int] = field(repr=False)
    # (paper id, how many) -> its nearest papers and their cosines; lives as long as the
    # matrix it was computed from, so a reload (new vectors) starts it afresh.
    _nearest: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )
    # question -> its scores over every row, for the last few questions asked (question_scores).
    _questions: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict, repr=False)
    _questions_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The 16-bit copy the scan reads past HALF_SCAN_FROM rows, made by the first scan (_half):
    # the worker that makes similar lists ahead multiplies in float32 and never needs it.
    half: Any = field(default=None, repr=False)
    # Each row's vector id, the newest of them, and the oldest vector's id and time, which
    # name this database's vectors in the shared cache (a rebuilt one counts ids from 1).
    embedding_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    newest: int = 0
    epoch: str = ""
    # Each row's paper facts that the search filters read, loaded with the vectors: a filter
    # on them is a mask over the rows (SearchFilters.rows_allowed). Publication time in
    # epoch seconds, NaN when unknown; category and kind as numbers (Coded: four
    # bytes a row, where the strings took 70).
    published: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    categories: Coded | None = field(default=None, repr=False)
    kinds: Coded | None = field(default=None, repr=False)

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of every row; exact for the best RESCORED rows, within 1e-3 elsewhere."""
        if not len(self.ids) or vector.shape[0] != self.matrix.shape[1]:
            return np.zeros(len(self.ids), dtype=np.float32)
        vector = np.ascontiguousarray(vector, dtype=np.float32)
        half = self._half()
        if half is None:
            return self.matrix @ vector
        import torch

        product = (half @ torch.from_numpy(vector).to(half.dtype)).float()
        best = torch.topk(product, min(RESCORED, len(product)), sorted=False).indices.numpy()
        scores = product.numpy()
        scores[best] = self.matrix[best] @ vector
        return scores

    def question_scores(self, question: str) -> np.ndarray:
        """scores() of a question, kept for the last few questions. A question comes back
        with other filters, from the next page of results and from a link a colleague
        shared, and its product over every row is most of a search's CPU (6 ms of 11 at
        100k papers). The scores live with this matrix: new vectors load a new index, so
        a kept answer never misses a paper. Callers read the array and never write it."""
        with self._questions_lock:
            known = self._questions.get(question)
            if known is not None:
                self._questions.move_to_end(question)
                return known
        scores = self.scores(_query_vector(self.model_name, question))
        # Bounded in bytes: 100k rows keep 20 questions, a million rows keep 2.
        keep = max(1, QUESTION_SCORES_BYTES // max(1, scores.nbytes))
        with self._questions_lock:
            self._questions[question] = scores
            while len(self._questions) > keep:
                self._questions.popitem(last=False)
        return scores

    def _half(self) -> Any:
        if self.half is None and len(self.ids) >= HALF_SCAN_FROM:
            with _index_lock:  # one copy, however many requests scan first
                if self.half is None:
                    self.half = _half_copy(self.matrix)
        return self.half

    def nearest(self, paper_id: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The papers nearest to a paper's own vector (itself left out), best first: their
        ids and cosines. Kept: a paper page is read many times between reloads, and the
        full product over 100k vectors is most of that page's cost.

        Past a few thousand rows the lists also go to the shared cache, with the newest
        vector id they saw, so one web process's product serves the others and the next
        deploy. After a harvest a kept list is brought up to date with the new vectors
        alone: the best of the old rows cannot change, so the new rows' cosines merged
        into the list give the exact answer without the full product."""
        known = self._nearest.get((paper_id, count))
        if known is not None:
            return known
        shared = len(self.ids) >= SHARED_NEAREST_FROM
        key = _shared_nearest_key(self.model_name, self.epoch, paper_id, count)
        kept = _shared_nearest_get(key) if shared else None
        found = self._brought_up_to_date(paper_id, count, kept)
        if found is None:
            row = self.row_of[paper_id]
            scores = self.scores(self.matrix[row])
            scores[row] = -np.inf
            order = _top_finite(scores, count)
            found = (self.ids[order], scores[order])
        if shared and (kept is None or kept[0] < self.newest):
            _shared_nearest_set(key, (self.newest, len(self.ids), *found))
        if len(self._nearest) >= NEAREST_CACHE_SIZE:
            self._nearest.clear()
        self._nearest[(paper_id, count)] = found
        return found

    def _brought_up_to_date(
        self, paper_id: int, count: int, kept: SharedNearest | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """A kept list with the vectors added since merged in; None when only the full
        product will do: nothing kept, or the paper's own vector or one on its list was
        replaced since (its old cosine no longer holds), or a vector with an older id
        was committed after the list was made (ids are handed out before commit), or most
        rows are new."""
        if kept is None:
            return None
        upto, seen, ids, cosines = kept
        if upto >= self.newest:
            return ids, cosines
        if np.count_nonzero(self.embedding_ids <= upto) > seen:
            return None
        fresh = np.flatnonzero(self.embedding_ids > upto)
        fresh_ids = self.ids[fresh]
        if len(fresh) * 2 > len(self.ids) or np.isin([paper_id, *ids], fresh_ids).any():
            return None
        own = self.matrix[self.row_of[paper_id]]
        merged_ids = np.concatenate([ids, fresh_ids])
        merged = np.concatenate([cosines, self.matrix[fresh] @ own])
        order = _top(merged, count)
        return merged_ids[order], merged[order]


# The shared cache keys of similar-papers lists start with this (bench/web.py clears them).
SHARED_NEAREST_PREFIX = "similar"


def _shared_nearest_key(model_name: str, epoch: str, paper_id: int, count: int) -> str:
    model = hashlib.blake2b(model_name.encode(), digest_size=8).hexdigest()
    return f"{SHARED_NEAREST_PREFIX}:{model}:{epoch}:{paper_id}:{count}"


# A kept list of nearest papers: the newest vector id and the number of vectors it was
# made from, then the ids and cosines.
SharedNearest = tuple[int, int, np.ndarray, np.ndarray]


def _shared_nearest_get(key: str) -> SharedNearest | None:
    try:
        known = cache.get(key)
    except Exception:  # the cache is down: the product still answers
        logger.warning("similar papers: cache read failed", exc_info=True)
        return None
    if known is None:
        return None
    upto, seen, ids, cosines = known
    return (
        int(upto),
        int(seen),
        np.asarray(ids, dtype=np.int64),
        np.asarray(cosines, dtype=np.float32),
    )


def _shared_nearest_set(key: str, kept: SharedNearest) -> None:
    _shared_nearest_set_many({key: kept})


def _shared_nearest_set_many(lists: dict[str, SharedNearest]) -> int:
    """Keep lists in the shared cache in one round trip; how many were kept."""
    values = {
        key: (upto, seen, ids.tolist(), cosines.tolist())
        for key, (upto, seen, ids, cosines) in lists.items()
    }
    try:
        failed = cache.set_many(values, SHARED_NEAREST_SECONDS)
    except Exception:
        logger.warning("similar papers: cache write failed", exc_info=True)
        return 0
    return len(values) - len(failed or ())


# Below this many rows the float32 product is cheap enough on its own.
HALF_SCAN_FROM = 20_000
# Rows scored again in float32 after the 16-bit scan: float16 moves a cosine by about 1e-3
# and bfloat16 by a few 1e-3, far less than the gap between a query's 10th and 500th
# neighbour.
RESCORED = 512
# What VectorIndex.question_scores keeps, per process.
QUESTION_SCORES_BYTES = 8 * 1024 * 1024


NEAREST_CACHE_SIZE = 10_000
# From this many vectors a paper's neighbours are also kept in the shared cache; below, the
# product costs less than the cache's round trip. The expiry only bounds what it holds.
SHARED_NEAREST_FROM = HALF_SCAN_FROM
SHARED_NEAREST_SECONDS = 7 * 24 * 3600
_indexes: dict[str, VectorIndex] = {}
_index_lock = threading.Lock()


class EpochSeconds(Func):
    """A time as seconds since 1970, computed by the database: turning 100k timestamps into
    datetimes in Python, then into seconds, took a third of the index load."""

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "EXTRACT(EPOCH FROM %(expressions)s)::float8"
        return self.as_sql(compiler, connection, template=template)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Whole seconds ('%s' written for two rounds of %-formatting): the filters' bounds
        # are midnights, so cutting the fraction never moves a paper across one.
        template = "CAST(strftime('%%%%s', %(expressions)s) AS REAL)"
        return self.as_sql(compiler, connection, template=template)


def vector_index(model_name: str) -> VectorIndex:
    """The cached matrix of `model_name`'s vectors, reloaded when they changed."""
    # The newest vector is the key: new and re-embedded papers raise its id, and rows of a
    # deleted paper that linger in the matrix are dropped by the visible() filter on read.
    # One index probe instead of a count keeps every search cheap at 100k papers.
    newest = (
        Embedding.objects.filter(model_name=model_name)
        .order_by("-id")
        .values_list("id", "created_at")
        .first()
    )
    key = f"{newest[0]}.{newest[1].timestamp():.6f}" if newest else "0"
    cached = _indexes.get(model_name)
    if cached is not None and cached.key == key:
        return cached
    with _index_lock:
        cached = _indexes.get(model_name)
        if cached is not None and cached.key == key:
            return cached
        of_model = Embedding.objects.filter(model_name=model_name)
        rows = of_model.annotate(published=EpochSeconds("paper__published_at")).values_list(
            "id", "paper_id", "vector", "published", "paper__primary_category", "paper__kind"
        )
        embedding_ids, ids, vectors, published, categories, kinds = [], [], [], [], [], []
        for embedding_id, paper_id, vector, at, category, kind in rows.iterator(chunk_size=5000):
            embedding_ids.append(embedding_id)
            ids.append(paper_id)
            vectors.append(np.frombuffer(bytes(vector), dtype="<f4"))
            published.append(np.nan if at is None else at)
            categories.append(category)
            kinds.append(kind)
        oldest = of_model.order_by("id").values_list("id", "created_at").first()
        dims = {len(v) for v in vectors}
        matrix = (
            np.vstack(vectors).astype(np.float32)
            if len(dims) == 1
            else np.zeros((0, 1), dtype=np.float32)
        )
        ids_array = np.array(ids if len(dims) == 1 else [], dtype=np.int64)
        index = VectorIndex(
            model_name=model_name,
            key=key,
            ids=ids_array,
            matrix=matrix,
            row_of={int(pid): i for i, pid in enumerate(ids_array)},
            embedding_ids=np.array(embedding_ids if len(dims) == 1 else [], dtype=np.int64),
            newest=newest[0] if newest else 0,
            epoch=f"{oldest[0]}.{oldest[1].timestamp():.6f}" if oldest else "0",
        )
        if len(dims) == 1:
            index.published = np.array(published, dtype=np.float64)
            index.categories = Coded.of(categories)
            index.kinds = Coded.of(kinds)
        _indexes[model_name] = index
        return index


def _half_copy(matrix: np.ndarray, dtype: Any = None) -> Any:
    """The scan's 16-bit copy of the matrix, in whichever 16-bit type this CPU multiplies
    fastest: bfloat16 runs on the vector units of recent x86 and ARM cores (three times
    float16's speed here), float16 is the faster elsewhere. Both are rescored in float32."""
    import torch

    # torch, already loaded for the encoder, has fast 16-bit matrix-vector products on CPU;
    # numpy has none.
    if dtype is None:
        dtype = _fastest_half_dtype(matrix.shape[1])
    return torch.from_numpy(matrix).to(dtype)


@functools.cache
def _fastest_half_dtype(dimension: int) -> Any:
    import torch

    rng = np.random.default_rng(0)
    sample = torch.from_numpy(rng.standard_normal((8192, dimension), dtype=np.float32))
    vector = sample[0]
    timings = {}
    for dtype in (torch.bfloat16, torch.float16):
        rows, query = sample.to(dtype), vector.to(dtype)
        rows @ query  # the first call pays for dispatch and page faults
        started = time.perf_counter()
        for _ in range(5):
            rows @ query
        timings[dtype] = time.perf_counter() - started
    return min(timings, key=timings.__getitem__)


def vector_index_forget() -> None:
    """Drop this process's search caches: the vector matrices and which words are common."""
    _indexes.clear()
    _word_common.clear()
    _lexeme_stats.clear()


def _active_index() -> VectorIndex | None:
    from workers.embedder import stored_model_name

    model_name = search_model_name(stored_model_name())
    return vector_index(model_name) if model_name else None


def _top(scores: np.ndarray, count: int) -> np.ndarray:
    """The rows of the `count` best scores, best first. torch's top-k, already loaded for
    the encoder, picks 200 of 100k in a fifth of the time of numpy's argpartition."""
    import torch

    count = min(count, len(scores))
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    return torch.topk(torch.from_numpy(np.ascontiguousarray(scores)), count).indices.numpy()


def _top_finite(scores: np.ndarray, count: int) -> np.ndarray:
    """The best `count` rows, best first, leaving out the ones set to -inf (the paper
    itself, or rows a filter rules out)."""
    order = _top(scores, count)
    return order[np.isfinite(scores[order])]


SIMILAR_FIELDS = ("title", "published_at", "primary_category", "kind", "lab")
# How many similar papers the paper page shows, and how many more a list holds so that
# hidden or merged papers among them still leave it full.
SIMILAR_SHOWN = 8
SIMILAR_SPARE = 10
# Papers whose lists one product computes when they are made ahead (a block of rows
# against the whole matrix: 256 x 100k float32 cosines is 100 MB).
WARM_BLOCK = 256


def similar_papers(paper: Paper, limit: int = SIMILAR_SHOWN) -> list[tuple[Paper, float]]:
    """The visible papers nearest to `paper` by cosine, best first."""
    index = _active_index()
    if index is None or paper.pk not in index.row_of:
        return []
    want = limit + SIMILAR_SPARE
    while True:
        found_ids, cosines = index.nearest(paper.pk, want)
        ids = [int(i) for i in found_ids]
        # What a list of similar papers shows; the abstracts stay in the database.
        papers = Paper.objects.visible().only(*SIMILAR_FIELDS).in_bulk(ids)
        hits = [
            (papers[i], float(cosine))
            for i, cosine in zip(ids, cosines, strict=True)
            if i in papers
        ]
        if len(hits) >= limit or want >= len(index.ids):
            return hits[:limit]
        want *= 4


def similar_lists_warm(paper_ids: list[int], limit: int = SIMILAR_SHOWN) -> int:
    """Make the similar-papers lists of `paper_ids` ahead and keep them in the shared
    cache, where the paper page finds them (VectorIndex.nearest). The embed task runs this
    for the papers it has just embedded: they are the ones the team opens from the inbox,
    and on a large corpus the product is most of the first open's cost. One matrix product
    per block of papers here costs far less than one per page there. Returns how many
    lists were kept; none below SHARED_NEAREST_FROM vectors, where pages run the product."""
    index = _active_index()
    if index is None or len(index.ids) < SHARED_NEAREST_FROM:
        return 0
    count = limit + SIMILAR_SPARE
    rows = np.array([index.row_of[p] for p in paper_ids if p in index.row_of], dtype=np.int64)
    kept = 0
    for start in range(0, len(rows), WARM_BLOCK):
        block = rows[start : start + WARM_BLOCK]
        # Exact float32 cosines, as the page's rescored scan gives for its best rows.
        products = index.matrix[block] @ index.matrix.T
        products[np.arange(len(block)), block] = -np.inf
        lists = {}
        for scores, row in zip(products, block, strict=True):
            order = _top_finite(scores, count)
            paper_id = int(index.ids[row])
            key = _shared_nearest_key(index.model_name, index.epoch, paper_id, count)
            lists[key] = (index.newest, len(index.ids), index.ids[order], scores[order])
        kept += _shared_nearest_set_many(lists)
    return kept


def _day_start(day: date) -> datetime:
    """Midnight of `day` in the current time zone, where a __date lookup draws the line."""
    return datetime.combine(day, dt_time.min, tzinfo=timezone.get_current_timezone())


@dataclass
class SearchFilters:
    date_from: date | None = None
    date_to: date | None = None
    category: str = ""
    topic_id: int | None = None
    kind: str = ""

    def apply(self, papers):  # type: ignore[no-untyped-def]
        # Dates as a range of times, which the published_at index answers; a __date lookup
        # converts every row's time first.
        start, end = self._time_bounds()
        if start:
            papers = papers.filter(published_at__gte=start)
        if end:
            papers = papers.filter(published_at__lt=end)
        if self.category:
            papers = papers.filter(primary_category=self.category)
        if self.topic_id:
            papers = papers.filter(paper_topic__topic_id=self.topic_id)
        if self.kind:
            papers = papers.filter(kind=self.kind)
        return papers

    @property
    def active(self) -> bool:
        return bool(self.date_from or self.date_to or self.category or self.topic_id or self.kind)

    def _time_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The first moment the dates allow and the first one past them (None: open)."""
        start = _day_start(self.date_from) if self.date_from else None
        end = _day_start(self.date_to + timedelta(days=1)) if self.date_to else None
        return start, end

    def rows_allowed(self, index: VectorIndex) -> np.ndarray | None:
        """Which rows of `index` these filters allow, read from the paper facts loaded with
        the vectors; None when a filter needs the database (topics change with every
        clustering). The facts are as old as the index, which reloads whenever a harvest
        brings new vectors; a new version that moves a paper to another category is seen
        from then on. The rows let through are checked in the database all the same."""
        if self.topic_id or index.categories is None or index.kinds is None:
            return None
        allowed = np.ones(len(index.ids), dtype=bool)
        # NaN (no date) compares false, as NULL does in the database.
        start, end = self._time_bounds()
        if start:
            allowed &= index.published >= start.timestamp()
        if end:
            allowed &= index.published < end.timestamp()
        if self.category:
            allowed &= index.categories.rows_equal(self.category)
        if self.kind:
            allowed &= index.kinds.rows_equal(self.kind)
        return allowed


def query_words(query: str) -> list[str]:
    return re.findall(r"\w+", query.lower())[:MAX_QUERY_WORDS]


# An OR over a question's words is dominated by the common ones ("models", "in"):
# PostgreSQL's ts_rank has no inverse document frequency at all, and on SQLite bm25 must
# score most of the table. Words found in more than this share of papers are left out.
COMMON_SHARE = 0.1
# Every match of an OR is scored before the best are kept: the rarest words are taken
# until their matches would pass this share of papers or MATCH_BUDGET_MIN, whichever is
# more (the rarest is always taken). The words left out are frequent ones, whose meaning
# the semantic side carries anyway; a long question of mid-frequency words otherwise
# scored tens of thousands of papers. PostgreSQL ranks real abstracts at about 7 ms a
# thousand matches: at 100k papers 5% took 33 ms a question and 2% takes 16, and a title
# asked as a question found its own paper in the first ten as often (52 of 80 against 51).
MATCH_BUDGET_SHARE = 0.02
MATCH_BUDGET_MIN = 1000
# Whether a word is common changes slowly with the corpus (and the cap it is measured
# against is part of the key), so each process remembers the answer for a while instead of
# counting up to 10% of the table for every word of every search.
WORD_CACHE_SECONDS = 600.0
WORD_CACHE_SIZE = 20_000
_word_common: dict[tuple[str, int], tuple[float, int]] = {}
# The stored to_tsvector of title and abstract (papers migration 0006).
PG_DOCUMENT = "search_document"


def _paper_count(cursor) -> int:  # type: ignore[no-untyped-def]
    """How many papers there are, near enough for a share: PostgreSQL's planner estimate
    (kept by ANALYZE and autovacuum) costs nothing, where count(*) scans the table."""
    if connection.vendor == "postgresql":
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'papers_paper'::regclass")
        row = cursor.fetchone()
        if row and row[0] > 0:
            return int(row[0])
    cursor.execute("SELECT count(*) FROM papers_paper")
    return int(cursor.fetchone()[0])


def _pg_common_counts(cursor, words: list[str], papers: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How many papers hold each of `words` that is common enough for ANALYZE's statistics
    to list (most_common_elems of the tsvector column: every lexeme in more than a percent
    or two of papers), and 0 for a word with no lexeme (a stop word). Counting a common
    word's matches reads thousands of rows of long abstracts, 10 ms and more each at 100k
    papers; a new question of a dozen words spent most of the search box's time there.
    The words left out are rare, and their exact count stays cheap."""
    stats = _lexeme_shares(cursor)
    cursor.execute(
        "SELECT w, array(SELECT lexeme FROM unnest(to_tsvector('english', w))) "
        "FROM unnest(%s::text[]) AS w",
        [words],
    )
    counts = {}
    for word, lexemes in cursor.fetchall():
        if not lexemes:
            counts[word] = 0
        elif len(lexemes) == 1 and lexemes[0] in stats:
            counts[word] = int(stats[lexemes[0]] * papers)
    return counts


def _lexeme_shares(cursor) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The share of papers holding each common lexeme, as ANALYZE last counted; kept for
    WORD_CACHE_SECONDS. Empty before the first ANALYZE."""
    now = time.monotonic()
    if _lexeme_stats and now - _lexeme_stats[0][0] < WORD_CACHE_SECONDS:
        return _lexeme_stats[0][1]
    cursor.execute(
        "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
        "WHERE schemaname = current_schema() AND tablename = 'papers_paper' AND attname = %s",
        [PG_DOCUMENT],
    )
    row = cursor.fetchone()
    # The frequencies end with the smallest and largest of them; the lexemes do not.
    shares = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
    _lexeme_stats[:] = [(now, shares)]
    return shares


_lexeme_stats: list[tuple[float, dict[str, float]]] = []


def _distinctive_words(cursor, words: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """The words found in less than COMMON_SHARE of papers, rarest first and within the
    match budget (empty when all are common)."""
    papers = _paper_count(cursor)
    cap = max(int(papers * COMMON_SHARE), 5)
    budget = max(int(papers * MATCH_BUDGET_SHARE), MATCH_BUDGET_MIN)
    if connection.vendor == "postgresql":
        count_sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM papers_paper "  # noqa: S608
            f"WHERE {PG_DOCUMENT} @@ plainto_tsquery('english', %s) LIMIT %s) hits"
        )
    else:
        count_sql = (
            "SELECT count(*) FROM (SELECT 1 FROM papers_paper_fts "
            "WHERE papers_paper_fts MATCH %s LIMIT %s) hits"
        )
    counts = {}
    now = time.monotonic()
    if len(_word_common) > WORD_CACHE_SIZE:
        _word_common.clear()

    def remembered(word: str) -> int | None:
        known = _word_common.get((word, cap))
        return known[1] if known is not None and now - known[0] < WORD_CACHE_SECONDS else None

    unknown = [word for word in dict.fromkeys(words) if remembered(word) is None]
    if unknown and connection.vendor == "postgresql":
        for word, count in _pg_common_counts(cursor, unknown, papers).items():
            _word_common[(word, cap)] = (now, count)
    for word in dict.fromkeys(words):
        count = remembered(word)
        if count is None:
            # Counting stops at the cap, so a common word costs a bounded index scan.
            term = word if connection.vendor == "postgresql" else f'"{word}"'
            cursor.execute(count_sql, [term, cap])
            count = cursor.fetchone()[0]
            _word_common[(word, cap)] = (now, count)
        if count < cap:
            counts[word] = count
    rare: list[str] = []
    matches = 0
    for word in sorted(counts, key=counts.__getitem__):
        if rare and matches + counts[word] > budget:
            break
        rare.append(word)
        matches += counts[word]
    return rare


def keyword_search(
    query: str,
    limit: int = CANDIDATES,
    within: QuerySet[Paper] | None = None,
    dated: bool = False,
) -> list[int]:
    """Paper ids ranked by full-text relevance (any of the words; rarer and title matches
    count more), visible papers only, and only those in `within` (the search filters)
    when given: filtering the best matches afterwards would leave none when every one of
    them lies outside the filters, as the newest matches of a common word do for a
    filter on last spring.

    When every word is common, a relevance score says little (PostgreSQL's has no inverse
    document frequency) and would have to be computed for a large share of the table;
    the newest matches come first instead, walked along the primary key, or along the
    date index inside the filter's bounds when they bound the date (`dated`)."""
    words = query_words(query)
    if not words:
        return []
    with connection.cursor() as cursor:
        rare = _distinctive_words(cursor, words)
    if connection.vendor == "postgresql":
        papers = within if within is not None else Paper.objects.visible()
        return _pg_matches(papers, rare or words, limit, bool(rare), dated)
    return _sqlite_matches(within, rare or words, limit, bool(rare), dated)


def _pg_matches(
    papers: QuerySet[Paper], words: list[str], limit: int, ranked: bool, dated: bool
) -> list[int]:
    """The filters and the full-text match in one WHERE on the papers table, which lets the
    planner walk an index in order and stop early."""
    tsquery = " | ".join(words)
    document = f'"papers_paper"."{PG_DOCUMENT}"'
    matches = papers.filter(
        # The words are a parameter; only the constant column name is formatted in.
        RawSQL(f"{document} @@ to_tsquery('english', %s)", (tsquery,), BooleanField())  # noqa: S611
    )
    if ranked:
        rank = RawSQL(f"ts_rank_cd({document}, to_tsquery('english', %s), 1)", (tsquery,))  # noqa: S611
        matches = matches.annotate(rank=rank).order_by("-rank", "-id")
    else:
        matches = matches.order_by("-published_at", "-id") if dated else matches.order_by("-id")
    return list(matches.values_list("id", flat=True)[:limit])


def _sqlite_matches(
    within: QuerySet[Paper] | None, words: list[str], limit: int, ranked: bool, dated: bool
) -> list[int]:
    match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
    # The filters apply to each joined paper, one primary-key probe per match. On the
    # full-text table's rowid SQLite would run the MATCH once for every paper they allow,
    # and as an IN list it would first gather every id they allow (25k ids for one
    # category: most of a filtered search at 100k papers).
    scope, params = ("", [])
    if within is not None:
        this_paper = within.order_by().filter(pk=RawSQL("p.id", ())).values("pk")
        sql, scope_params = this_paper.query.sql_with_params()
        scope, params = (f"AND EXISTS ({sql})", list(scope_params))
    with connection.cursor() as cursor:
        if ranked:
            # Ranked inside the full-text table first, then joined: joining every match
            # before the sort cost a row lookup per match (1.5x slower at 100k papers).
            # The over-fetch covers hidden and merged papers among the best matches; with
            # filters every match is joined (the match budget bounds how many there are).
            cursor.execute(
                f"""SELECT p.id FROM (
                    SELECT rowid AS id, bm25(papers_paper_fts, 3.0, 1.0) AS score
                    FROM papers_paper_fts WHERE papers_paper_fts MATCH %s
                    ORDER BY score, rowid DESC LIMIT %s
                ) f JOIN papers_paper p ON p.id = f.id
                WHERE p.hidden = 0 AND p.merged_into_id IS NULL {scope}
                ORDER BY f.score, p.id DESC LIMIT %s""",  # noqa: S608
                [match, -1 if scope else limit * 2 + 50, *params, limit],
            )
        else:
            newest = "p.published_at DESC, p.id DESC" if dated else "p.id DESC"
            cursor.execute(
                f"""SELECT p.id FROM papers_paper_fts f JOIN papers_paper p ON p.id = f.rowid
                WHERE papers_paper_fts MATCH %s AND p.hidden = 0 AND p.merged_into_id IS NULL
                {scope}
                ORDER BY {newest} LIMIT %s""",  # noqa: S608
                [match, *params, limit],
            )
        return [row[0] for row in cursor.fetchall()]


def semantic_search(
    query: str, limit: int = CANDIDATES, allowed: set[int] | None = None
) -> list[tuple[int, float]]:
    """(paper id, cosine) of the papers nearest to the query's meaning."""
    index = _active_index()
    if index is None or not query.strip() or not len(index.ids):
        return []
    vector = _encoding_pool().submit(_query_vector, index.model_name, query.strip()).result()
    return _nearest(index, vector, limit, allowed)


def _nearest(
    index: VectorIndex, vector: np.ndarray, limit: int, allowed: set[int] | None
) -> list[tuple[int, float]]:
    return _best(index, index.scores(vector), limit, allowed)


def _best(
    index: VectorIndex, scores: np.ndarray, limit: int, allowed: set[int] | None
) -> list[tuple[int, float]]:
    if allowed is not None:
        mask = np.isin(index.ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
        scores = np.where(mask, scores, -np.inf)
    order = _top_finite(scores, limit)
    return list(zip(index.ids[order].tolist(), scores[order].tolist(), strict=True))


def _one_intra_op_thread() -> None:
    import torch

    # A short question is latency-bound: a second intra-op thread saves little on a quiet
    # machine, and on a busy one waiting for it costs several times the work itself
    # (p95 x10 measured on two shared cores). The setting is per thread under OpenMP, so
    # batch embedding elsewhere in the process keeps every core.
    torch.set_num_threads(1)


_encoding_pools: dict[int, ThreadPoolExecutor] = {}


def _encoding_pool() -> ThreadPoolExecutor:
    """The one thread that encodes questions: its own thread setting, and in the search
    box the encoding overlaps the keyword query. One per process, since a forked child
    (a web or worker process) does not inherit its parent's threads."""
    pid = os.getpid()
    if pid not in _encoding_pools:
        _encoding_pools[pid] = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="query-encoding", initializer=_one_intra_op_thread
        )
    return _encoding_pools[pid]


@functools.lru_cache(maxsize=256)
def _query_vector(model_name: str, query: str) -> np.ndarray:
    """A query's vector; kept, because a search is repeated with other filters or pages."""
    from workers.embedder import get_encoder

    return get_encoder(model_name).encode([query])[0]


# What a result shows (papers/templatetags/search_results.py); the rest of a paper row, its
# search document above all, stays in the database.
HIT_FIELDS = ("title", "abstract", "primary_category", "published_at", "lab")


@dataclass
class SearchHit:
    paper: Paper
    score: float
    keyword_rank: int | None
    semantic_rank: int | None
    similarity: float | None


def _semantic_within(
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
    wide = _best(index, scores, CANDIDATES * FILTER_OVERFETCH, None)
    allowed = _among(papers, {pk for pk, _ in wide})
    semantic = [(pk, score) for pk, score in wide if pk in allowed][:CANDIDATES]
    if rows is None and len(semantic) < CANDIDATES and len(wide) < len(scores):
        semantic = _best(index, scores, CANDIDATES, set(papers.values_list("pk", flat=True)))
    return semantic


def _among(papers: QuerySet[Paper], ids: set[int]) -> set[int]:
    """Which of `ids` are in `papers`. PostgreSQL takes the ids as one array: two thousand
    of them as an IN list cost 5x more, in building the query and in planning it. SQLite
    looks each id up and checks the filters on that row alone: with the filters beside
    the IN list it walked an index of a filter instead ("arXiv only": every paper)."""
    if connection.vendor == "postgresql":
        papers = papers.filter(
            RawSQL('"papers_paper"."id" = ANY(%s)', (list(ids),), output_field=BooleanField())
        )
    else:
        papers = Paper.objects.filter(pk__in=ids).filter(Exists(papers.filter(pk=OuterRef("pk"))))
    return set(papers.order_by().values_list("pk", flat=True))


def search(query: str, filters: SearchFilters | None = None, limit: int = 20) -> list[SearchHit]:
    """One box: keyword and semantic rankings fused by reciprocal rank, then filtered."""
    filters = filters or SearchFilters()
    # The question is encoded and scored on another thread while the database answers the
    # keyword side: torch and the database both release the GIL, so the waits overlap.
    index = _active_index()
    question = query.strip()
    scoring = (
        _encoding_pool().submit(index.question_scores, question)
        if index is not None and question and len(index.ids)
        else None
    )
    allowed = filters.apply(Paper.objects.visible())
    within = allowed if filters.active else None
    keyword = keyword_search(
        query, CANDIDATES, within, dated=bool(filters.date_from or filters.date_to)
    )
    scores = scoring.result() if scoring is not None else None
    if index is None or scores is None:
        semantic = []
    elif within is not None:
        semantic = _semantic_within(within, index, scores, filters)
    else:
        semantic = _best(index, scores, CANDIDATES, None)
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
