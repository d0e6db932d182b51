"""The embedding model: loaded once per process, fed in batches, no hub access for the default.

`EMBEDDING_MODEL` is either `packaged:<name>` (the model shipped inside an installed
package, so a bare machine needs no download) or any sentence-transformers name or path.
`EMBEDDING_BACKEND` picks how vectors are computed: `torch` (the model itself), `onnx`
(the same model exported to ONNX with int8 weights, several times faster; see
`workers/onnx_embedder.py`) or `static` (a static token table distilled from the same
model, faster still but coarser; see `workers/static_embedder.py`). The backend is part
of the stored model name, so vectors of different backends never mix in one index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"
# Past this many characters the model's 256-token window is long full; tokenising the
# rest of a 50,000-character abstract would only cost time.
MAX_TEXT_CHARS = 4000
# An embedding run makes the similar-papers lists of at most this many of its newest papers
# ahead (a backfill of a whole corpus leaves older papers' lists to their first reader).
SIMILAR_WARM_LIMIT = 5000


class EmbeddingModelError(RuntimeError):
    """The configured model cannot be loaded: retrying will not help, fix the setting."""


class Encoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


class SentenceTransformerEncoder:
    def __init__(self, name: str, path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.model = SentenceTransformer(path, device="cpu")
        self.dimension = int(self.model.get_embedding_dimension() or 0)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype="<f4")


_models: dict[str, Encoder] = {}
_lock = threading.Lock()


def resolve_model_path(model: str) -> str:
    """Where sentence-transformers should load `model` from."""
    if model.startswith(PACKAGED_PREFIX):
        package = model.removeprefix(PACKAGED_PREFIX)
        module_name = "gt_" + package.lower().replace("-", "_")
        try:
            module = __import__(module_name)
        except ImportError as exc:
            raise EmbeddingModelError(
                f"EMBEDDING_MODEL={model!r}: the package {module_name!r} is not installed"
            ) from exc
        return str(module.get_model_path())
    return model


def stored_model_name(model: str | None = None, backend: str | None = None) -> str:
    """The name embeddings are stored under: the model, plus the backend when not torch."""
    model = model or settings.EMBEDDING_MODEL
    backend = backend or settings.EMBEDDING_BACKEND
    return model if backend == "torch" else f"{model}#{backend}"


def get_encoder(stored_name: str | None = None) -> Encoder:
    """The encoder for a stored model name, loaded on first use and kept for the process."""
    stored_name = stored_name or stored_model_name()
    encoder = _models.get(stored_name)
    if encoder is not None:
        return encoder
    with _lock:
        if stored_name not in _models:
            _models[stored_name] = _load(stored_name)
    return _models[stored_name]


def _load(stored_name: str) -> Encoder:
    model, _, backend = stored_name.partition("#")
    path = resolve_model_path(model)
    logger.info("loading embedding model %s (%s)", stored_name, path)
    try:
        if backend == "static":
            from workers.static_embedder import StaticEncoder

            return StaticEncoder.for_model(stored_name, path, _fit_examples(model))
        if backend == "onnx":
            from workers.onnx_embedder import OnnxEncoder

            return OnnxEncoder.for_model(stored_name, path)
        if backend:
            raise EmbeddingModelError(f"unknown EMBEDDING_BACKEND {backend!r}")
        return SentenceTransformerEncoder(stored_name, path)
    except EmbeddingModelError:
        raise
    except Exception as exc:
        # sentence-transformers raises OSError, ValueError or hub errors depending on
        # what is wrong; to the caller they all mean "this setting does not work".
        raise EmbeddingModelError(
            f"cannot load embedding model {stored_name!r}: {exc.__class__.__name__}: {exc}"
        ) from exc


def _fit_examples(model: str) -> tuple[list[str], np.ndarray] | None:
    """Papers with the full model's vectors, for fitting the static table (newest first)."""
    from tracker.papers.models import Embedding
    from workers.static_embedder import FIT_EXAMPLES

    rows = list(
        Embedding.objects.filter(model_name=model)
        .order_by("-paper_id")
        .values_list("paper__title", "paper__abstract", "vector")[:FIT_EXAMPLES]
    )
    if not rows:
        return None
    texts = [paper_text(title, abstract) for title, abstract, _ in rows]
    return texts, np.vstack([np.frombuffer(bytes(v), dtype="<f4") for _, _, v in rows])


def paper_text(title: str, abstract: str) -> str:
    text = f"{title.strip()}. {abstract.strip()}" if abstract.strip() else title.strip()
    return text[:MAX_TEXT_CHARS] or " "


def encode_texts(texts: Sequence[str], stored_name: str | None = None) -> np.ndarray:
    encoder = get_encoder(stored_name)
    return encoder.encode(texts, batch_size=settings.EMBEDDING_BATCH_SIZE)


def embed_papers(paper_ids: Sequence[int], owner: str, *, similar_lists: bool = True) -> int:
    """Embed those of `paper_ids` that still lack a vector for the configured model, then
    make their similar-papers lists ahead, unless the caller embeds chunk after chunk and
    makes them once at the end (`similar_lists=False`; each making reloads the vectors).

    Returns how many were embedded here. Their full-text documents, which a harvest
    leaves to this step and which need no model, are made first. The model is loaded
    before anything else is read, so a bad model name stops with EmbeddingModelError and
    stores no vector.
    """
    from tracker.papers.services import search_documents_fill

    search_documents_fill(paper_ids)
    embedded: list[int] = []
    done = _embed(paper_ids, owner, embedded)
    if similar_lists:
        similar_lists_after_embedding(embedded)
    return done


def similar_lists_after_embedding(paper_ids: list[int]) -> None:
    """The similar-papers lists of the newest SIMILAR_WARM_LIMIT of `paper_ids`, made ahead
    for the paper page. A failure here costs the first open of a paper its product, not
    the embedding, so it is logged and not raised."""
    from tracker.search.index import similar_lists_warm

    if not paper_ids:
        return
    try:
        similar_lists_warm(sorted(paper_ids)[-SIMILAR_WARM_LIMIT:])
    except Exception:
        logger.exception("similar papers: making lists ahead failed")


def _embed(paper_ids: Sequence[int], owner: str, embedded: list[int]) -> int:
    """embed_papers' work without the lists; the ids embedded are added to `embedded`."""
    from tracker.papers.embeddings import (
        embedding_claims_release,
        embedding_claims_take,
        embeddings_store,
        papers_missing_embedding,
    )
    from tracker.topics.services import paper_topics_assign_nearest

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
            paper_topics_assign_nearest(ids)
            embedded.extend(ids)
            done += len(ids)
    finally:
        embedding_claims_release(model_name, claimed)
    return done


def _encode_rows(rows: list[tuple[int, str, str]], model_name: str) -> tuple[list[int], np.ndarray]:
    """Vectors of (id, title, abstract) rows, and the ids they belong to. When the chunk
    fails, its papers are encoded one by one: a paper the model still cannot take is
    recorded (`index_error`) and left out, and the rest of the chunk is embedded."""
    from tracker.papers.services import paper_index_error_record

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
    from tracker.papers.embeddings import papers_missing_embedding
    from tracker.papers.services import search_documents_fill

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
    similar_lists_after_embedding(embedded)  # once for the run, not per chunk
    return done
