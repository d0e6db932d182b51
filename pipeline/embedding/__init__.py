"""The embedding model: loaded once per process, fed in batches, no hub access for the default.

A model is either `packaged:<name>` (the model shipped inside an installed package, so a
bare machine needs no download) or any sentence-transformers name or path. The backend
picks how vectors are computed: `torch` (the model itself), `onnx` (the same model
exported to ONNX with int8 weights, several times faster; see `onnx.py`) or `static` (a
static token table distilled from the same model, faster still but coarser; see
`static.py`). The backend is part of the stored model name, so vectors of different
backends never mix in one index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"
# Past this many characters the model's 256-token window is long full; tokenising the
# rest of a 50,000-character abstract would only cost time.
MAX_TEXT_CHARS = 4000

# Texts and the full model's vectors for them, to fit a static table to (newest first).
FitExamples = tuple[list[str], np.ndarray]


class EmbeddingModelError(RuntimeError):
    """The configured model cannot be loaded: retrying will not help, fix the setting."""


class Encoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


@dataclass(frozen=True)
class EncoderOptions:
    """What loading a model needs besides its name."""

    # Where exported (onnx) and distilled (static) model files are kept between runs.
    cache_dir: Path
    # The onnx backend cuts texts at this many tokens.
    onnx_max_tokens: int = 128
    # For the static backend: papers with the full model's vectors, to fit the table to.
    fit_examples: Callable[[str], FitExamples | None] | None = None


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


def stored_model_name(model: str, backend: str) -> str:
    """The name embeddings are stored under: the model, plus the backend when not torch."""
    return model if backend == "torch" else f"{model}#{backend}"


def get_encoder(stored_name: str, options: EncoderOptions) -> Encoder:
    """The encoder for a stored model name, loaded on first use and kept for the process."""
    encoder = _models.get(stored_name)
    if encoder is not None:
        return encoder
    with _lock:
        if stored_name not in _models:
            _models[stored_name] = _load(stored_name, options)
    return _models[stored_name]


def _load(stored_name: str, options: EncoderOptions) -> Encoder:
    model, _, backend = stored_name.partition("#")
    path = resolve_model_path(model)
    logger.info("loading embedding model %s (%s)", stored_name, path)
    try:
        # The backends import their heavy libraries only when chosen.
        if backend == "static":
            from pipeline.embedding.static import StaticEncoder

            examples = options.fit_examples(model) if options.fit_examples else None
            return StaticEncoder.for_model(stored_name, path, options.cache_dir, examples)
        if backend == "onnx":
            from pipeline.embedding.onnx import OnnxEncoder

            return OnnxEncoder.for_model(
                stored_name, path, options.cache_dir, options.onnx_max_tokens
            )
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


def paper_text(title: str, abstract: str) -> str:
    text = f"{title.strip()}. {abstract.strip()}" if abstract.strip() else title.strip()
    return text[:MAX_TEXT_CHARS] or " "


def encode_texts(
    texts: Sequence[str], stored_name: str, options: EncoderOptions, *, batch_size: int = 64
) -> np.ndarray:
    return get_encoder(stored_name, options).encode(texts, batch_size=batch_size)
