"""The in-process vector index: one model's vectors as a matrix, its similar-papers lists
(kept in the shared cache past a size), and the encoding of a question.

Semantic reads go through an in-process matrix of one model's vectors. Past a few
thousand papers the scan reads a 16-bit copy (half the memory traffic, which is what a
matrix-vector product waits on), and the best few hundred rows are then scored again in
float32, so the top results are the exact ones. The matrix is rebuilt when that model's
newest vector id changes, which covers new papers, re-embedded papers and a model switch.
A paper's similar papers are kept in the shared cache and brought up to date with new
vectors alone (VectorIndex.nearest).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import FloatField, Func

from tracker.core.threads import process_pool
from tracker.papers.embeddings import get_encoder, search_model_name, stored_model_name
from tracker.papers.models import Embedding, Paper
from tracker.papers.vectors import vector_store_ready

logger = logging.getLogger(__name__)


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
        scores = self.scores(query_vector(self.model_name, question))
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
            order = top_finite(scores, count)
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
    """Drop this process's vector matrices."""
    _indexes.clear()


def active_index() -> VectorIndex | None:
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


def top_finite(scores: np.ndarray, count: int) -> np.ndarray:
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
    index = active_index()
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


# An embedding run makes the similar-papers lists of at most this many of its newest papers
# ahead (a backfill of a whole corpus leaves older papers' lists to their first reader).
SIMILAR_WARM_LIMIT = 5000


def similar_lists_after_embedding(paper_ids: list[int]) -> None:
    """The similar-papers lists of the newest SIMILAR_WARM_LIMIT of `paper_ids`, made ahead
    for the paper page, unless pgvector answers it (tracker.search.backends). A failure
    here costs the first open of a paper its product, not the embedding, so it is logged
    and not raised."""
    if not paper_ids or vector_store_ready():
        return  # the database's index answers the paper page: no lists, no matrix
    try:
        similar_lists_warm(sorted(paper_ids)[-SIMILAR_WARM_LIMIT:])
    except Exception:
        logger.exception("similar papers: making lists ahead failed")


def similar_lists_after_embedding_run(
    sender: object, paper_ids: list[int], **kwargs: object
) -> None:
    """Receiver of papers' `embedding_run_finished`."""
    similar_lists_after_embedding(paper_ids)


def similar_lists_warm(paper_ids: list[int], limit: int = SIMILAR_SHOWN) -> int:
    """Make the similar-papers lists of `paper_ids` ahead and keep them in the shared
    cache, where the paper page finds them (VectorIndex.nearest). The embed task runs this
    for the papers it has just embedded: they are the ones the team opens from the inbox,
    and on a large corpus the product is most of the first open's cost. One matrix product
    per block of papers here costs far less than one per page there. Returns how many
    lists were kept; none below SHARED_NEAREST_FROM vectors, where pages run the product."""
    index = active_index()
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
            order = top_finite(scores, count)
            paper_id = int(index.ids[row])
            key = _shared_nearest_key(index.model_name, index.epoch, paper_id, count)
            lists[key] = (index.newest, len(index.ids), index.ids[order], scores[order])
        kept += _shared_nearest_set_many(lists)
    return kept


def _one_intra_op_thread() -> None:
    import torch

    # A short question is latency-bound: a second intra-op thread saves little on a quiet
    # machine, and on a busy one waiting for it costs several times the work itself
    # (p95 x10 measured on two shared cores). The setting is per thread under OpenMP, so
    # batch embedding elsewhere in the process keeps every core.
    torch.set_num_threads(1)


def encoding_pool() -> ThreadPoolExecutor:
    """The one thread that encodes questions: its own thread setting, and in the search
    box the encoding overlaps the keyword query. One per process."""
    return process_pool("query-encoding", 1, initializer=_one_intra_op_thread)


@functools.lru_cache(maxsize=256)
def query_vector(model_name: str, query: str) -> np.ndarray:
    """A query's vector; kept, because a search is repeated with other filters or pages."""
    return get_encoder(model_name).encode([query])[0]


# What a result shows (templates/search/_results.html); the rest of a paper row, its
# search document above all, stays in the database.
