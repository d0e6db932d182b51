"""Paper embeddings: runs that embed papers and store their vectors, claims, and which
model answers search.

Every paper gets exactly one vector per model: the unique (paper, model_name) constraint
plus `ignore_conflicts` make a duplicate impossible, and claims keep two workers from
spending time on the same papers. Loading and running the model is pipeline code
(pipeline.embedding); which papers, when, and what is stored is decided here. The apps
above papers hear of new vectors through the signals in tracker.papers.signals.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from pipeline import embedding
from pipeline.embedding import (
    EmbeddingModelError,
    Encoder,
    EncoderOptions,
    FitExamples,
    paper_text,
)
from pipeline.embedding.static import FIT_EXAMPLES
from tracker.papers.models import Embedding, Paper
from tracker.papers.services import paper_index_error_record, search_documents_fill
from tracker.papers.signals import embedding_run_finished, embeddings_stored
from tracker.papers.vectors import embeddings_stored_write

logger = logging.getLogger(__name__)

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


def embeddings_store(
    model_name: str, paper_ids: Sequence[int], vectors: np.ndarray, *, index: bool = True
) -> None:
    """Store one vector per paper; a paper that got one meanwhile keeps it. Without
    `index`, the pgvector column's HNSW index is left to be built after a bulk load (which
    is several times faster than growing it a row at a time)."""
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
    # On PostgreSQL with pgvector, the column that search reads too.
    embeddings_stored_write(model_name, list(paper_ids), index=index)


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


# --- the configured model -------------------------------------------------------------------


def stored_model_name(model: str | None = None, backend: str | None = None) -> str:
    """The name the configured model's vectors are stored under (EMBEDDING_MODEL and
    EMBEDDING_BACKEND unless given)."""
    return embedding.stored_model_name(
        model or settings.EMBEDDING_MODEL, backend or settings.EMBEDDING_BACKEND
    )


def encoder_options() -> EncoderOptions:
    return EncoderOptions(
        cache_dir=Path(settings.VAR_DIR) / "models",
        onnx_max_tokens=settings.EMBEDDING_ONNX_MAX_TOKENS,
        fit_examples=_fit_examples,
    )


def get_encoder(stored_name: str | None = None) -> Encoder:
    """The encoder of a stored model name (the configured one unless given), loaded once."""
    return embedding.get_encoder(stored_name or stored_model_name(), encoder_options())


def encode_texts(texts: Sequence[str], stored_name: str | None = None) -> np.ndarray:
    return embedding.encode_texts(
        texts,
        stored_name or stored_model_name(),
        encoder_options(),
        batch_size=settings.EMBEDDING_BATCH_SIZE,
    )


def _fit_examples(model: str) -> FitExamples | None:
    """Papers with the full model's vectors, for fitting the static table (newest first)."""
    rows = list(
        Embedding.objects.filter(model_name=model)
        .order_by("-paper_id")
        .values_list("paper__title", "paper__abstract", "vector")[:FIT_EXAMPLES]
    )
    if not rows:
        return None
    texts = [paper_text(title, abstract) for title, abstract, _ in rows]
    return texts, np.vstack([np.frombuffer(bytes(v), dtype="<f4") for _, _, v in rows])


# --- embedding runs -------------------------------------------------------------------------


def embed_papers(paper_ids: Sequence[int], owner: str, *, similar_lists: bool = True) -> int:
    """Embed those of `paper_ids` that still lack a vector for the configured model, then
    make their similar-papers lists ahead, unless the caller embeds chunk after chunk and
    makes them once at the end (`similar_lists=False`; each making reloads the vectors).

    Returns how many were embedded here. Their full-text documents, which a harvest
    leaves to this step and which need no model, are made first. The model is loaded
    before anything else is read, so a bad model name stops with EmbeddingModelError and
    stores no vector.
    """
    search_documents_fill(paper_ids)
    embedded: list[int] = []
    done = _embed(paper_ids, owner, embedded)
    if similar_lists:
        embedding_run_announce(embedded)
    return done


def embedding_run_announce(paper_ids: list[int]) -> None:
    """Tell the apps above papers that a run embedded these papers (search makes their
    similar-papers lists ahead); once a run, not per chunk."""
    embedding_run_finished.send(sender=Embedding, paper_ids=list(paper_ids))


def _embed(paper_ids: Sequence[int], owner: str, embedded: list[int]) -> int:
    """embed_papers' work without the lists; the ids embedded are added to `embedded`."""
    model_name = stored_model_name()
    get_encoder(model_name)
    missing = list(
        papers_missing_embedding(model_name)
        .filter(pk__in=list(paper_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    claimed = embedding_claims_take(model_name, missing, owner)
    done = 0
    try:
        for start in range(0, len(claimed), settings.EMBEDDING_TASK_CHUNK):
            chunk = claimed[start : start + settings.EMBEDDING_TASK_CHUNK]
            rows = list(
                papers_missing_embedding(model_name)
                .filter(pk__in=chunk)
                .order_by("pk")
                .values_list("pk", "title", "abstract")
            )
            if not rows:
                continue
            ids, vectors = _encode_rows(rows, model_name)
            if not ids:
                continue
            embeddings_store(model_name, ids, vectors)
            # Topics joins them to the nearest topic (topics sits above papers).
            embeddings_stored.send(sender=Embedding, paper_ids=ids)
            embedded.extend(ids)
            done += len(ids)
    finally:
        embedding_claims_release(model_name, claimed)
    return done


def _encode_rows(rows: list[tuple[int, str, str]], model_name: str) -> tuple[list[int], np.ndarray]:
    """Vectors of (id, title, abstract) rows, and the ids they belong to. When the chunk
    fails, its papers are encoded one by one: a paper the model still cannot take is
    recorded (`index_error`) and left out, and the rest of the chunk is embedded."""
    texts = [paper_text(title, abstract) for _, title, abstract in rows]
    try:
        return [pk for pk, _, _ in rows], encode_texts(texts, model_name)
    except EmbeddingModelError:
        raise
    except Exception:
        # Whatever a model library raises on one odd input; the one-by-one pass below
        # finds the paper. A model that cannot load at all stopped earlier (get_encoder).
        logger.warning("embedding a chunk failed; trying its papers one by one", exc_info=True)
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    for (pk, _, _), text in zip(rows, texts, strict=True):
        try:
            vectors.append(encode_texts([text], model_name))
        except EmbeddingModelError:
            raise
        except Exception as exc:
            paper_index_error_record(pk, f"embedding: {exc.__class__.__name__}: {exc}")
            continue
        ids.append(pk)
    return ids, np.vstack(vectors) if vectors else np.empty((0, 0), dtype="<f4")


def embed_pending(owner: str, limit: int | None = None) -> int:
    """Embed every paper without a vector for the configured model, chunk by chunk, after
    making the full-text documents that harvests left to this step.

    Several workers can run this at once: each takes the chunks nobody has claimed.
    """
    search_documents_fill()
    model_name = stored_model_name()
    get_encoder(model_name)
    chunk = settings.EMBEDDING_TASK_CHUNK
    done = 0
    skipped: set[int] = set()
    embedded: list[int] = []
    while limit is None or done < limit:
        # Look a few chunks ahead so that papers claimed by another worker are stepped over.
        candidates = [
            pk
            for pk in papers_missing_embedding(model_name)
            .exclude(pk__in=list(skipped))
            .order_by("pk")
            .values_list("pk", flat=True)[: chunk * 4]
        ]
        if not candidates:
            break
        count = _embed(candidates[:chunk], owner, embedded)
        if count == 0:
            skipped.update(candidates[:chunk])
        done += count
    embedding_run_announce(embedded)  # once for the run, not per chunk
    return done
