"""Real papers with real vectors for the embedding, topic and search tests.

The model loads once per test process and each sample is encoded once per session;
tests then store the vectors into their own database.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

from tests.corpus import CORPUS_DIR, Record, absent_reason, load_papers, read_corpus

# Nothing may come from a model hub while tests run.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def require_corpus() -> None:
    if not (CORPUS_DIR / "daily_listings").is_dir():
        pytest.skip(absent_reason(CORPUS_DIR / "daily_listings"))


STEP = 15


@functools.cache
def sample_records(step: int = STEP, offset: int = 0) -> tuple[Record, ...]:
    """Every step-th paper of the real corpus: all of its topics, a fraction of the cost."""
    return tuple(read_corpus()[offset::step])


@functools.cache
def sample_vectors(step: int = STEP, offset: int = 0) -> np.ndarray:
    from pipeline.embedding import paper_text
    from tracker.papers.embeddings import encode_texts, stored_model_name

    texts = [paper_text(r.title, r.abstract) for r in sample_records(step, offset)]
    return encode_texts(texts, stored_model_name())


def load_embedded(step: int = STEP, offset: int = 0) -> list[int]:
    """Store the sample's papers and their vectors; returns the paper ids."""
    from tracker.papers.embeddings import embeddings_store, stored_model_name

    records = list(sample_records(step, offset))
    ids = load_papers(records)
    embeddings_store(stored_model_name(), ids, sample_vectors(step, offset))
    return ids
