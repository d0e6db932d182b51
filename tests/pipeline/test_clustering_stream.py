"""Clustering over vectors that arrive a batch at a time: it never holds them
all, finds the topics a full fit finds, and keeps topic identity from one run to the next."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from pipeline import clustering as clusterer

TOPICS, DIMENSION = 12, 96


def planted(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around TOPICS random centres, and each one's true topic."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((TOPICS, DIMENSION)).astype(np.float32)
    truth = rng.integers(0, TOPICS, n)
    noise = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    return clusterer.normalise(centres[truth] * 3 + noise), truth


class Source:
    """Passes over vectors made batch by batch (none kept between batches); records what
    each pass handed out."""

    def __init__(self, n: int, batch: int, seed: int = 0) -> None:
        self.n, self.batch, self.seed = n, batch, seed
        self.passes = 0
        self.largest = 0

    def __call__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.passes += 1
        rng = np.random.default_rng(self.seed)
        centres = rng.standard_normal((TOPICS, DIMENSION)).astype(np.float32)
        for start in range(0, self.n, self.batch):
            size = min(self.batch, self.n - start)
            truth = rng.integers(0, TOPICS, size)
            noise = rng.standard_normal((size, DIMENSION)).astype(np.float32)
            self.largest = max(self.largest, size)
            yield np.arange(start, start + size), centres[truth] * 3 + noise

    @property
    def full_bytes(self) -> int:
        return self.n * DIMENSION * 4


def test_a_streamed_run_never_holds_every_vector() -> None:
    source = Source(n=40_000, batch=1_000)
    tracemalloc.start()
    try:
        ids, result = clusterer.fit_stream(source, TOPICS, max_passes=2, seed_rows=2_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(ids) == len(result.labels) == 40_000
    assert ids.tolist() == list(range(40_000))
    # Batch-size accounting: one pass that stops after the seed rows, two Lloyd steps, one
    # that assigns; no pass ever handed out more than one batch at a time.
    assert source.passes == 1 + 2 + 1
    assert source.largest == 1_000
    # All vectors at once would be 15 MB; the run peaks at a small part of that (a batch,
    # the seed rows, a few numbers per paper).
    assert peak < source.full_bytes / 3, f"peak {peak / 1e6:.1f} MB"


def test_streamed_topics_match_the_planted_ones_as_a_full_fit_does() -> None:
    vectors, truth = planted(6_000)

    def passes() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(vectors), 500):
            yield np.arange(start, start + 500), vectors[start : start + 500]

    _, streamed = clusterer.fit_stream(passes, TOPICS, seed_rows=1_000)
    full = clusterer.fit(vectors, TOPICS)
    assert adjusted_rand_score(truth, streamed.labels) >= 0.95
    assert adjusted_rand_score(full.labels, streamed.labels) >= 0.95
    assert (streamed.labels >= 0).all()
    assert np.allclose(np.linalg.norm(streamed.centroids, axis=1), 1.0, atol=1e-5)
    own = np.einsum("ij,ij->i", vectors, streamed.centroids[streamed.labels])
    assert np.allclose(streamed.similarity, own, atol=1e-5)
    assert streamed.paper_xy is not None and streamed.topic_xy is not None
    assert streamed.paper_xy.shape == (6_000, 2)
    assert streamed.paper_xy.min() >= 0 and streamed.paper_xy.max() <= 1


@pytest.mark.parametrize("extra_topics", [0, 2])
def test_a_warm_start_keeps_each_topic_in_its_slot(extra_topics: int) -> None:
    """Run on 90% of the papers, then on all of them from the first run's centroids: the
    papers of the first run stay in the topic of the same index, and new slots fill."""
    vectors, _ = planted(6_000, seed=3)
    first_rows = np.sort(np.random.default_rng(1).permutation(6_000)[:5_400])

    def passes_over(rows: np.ndarray) -> clusterer.VectorPasses:
        def passes() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for start in range(0, len(rows), 400):
                chunk = rows[start : start + 400]
                yield chunk, vectors[chunk]

        return passes

    _, first = clusterer.fit_stream(passes_over(first_rows), TOPICS, seed_rows=800)
    ids, second = clusterer.fit_stream(
        passes_over(np.arange(6_000)),
        TOPICS + extra_topics,
        previous=first.centroids,
        seed_rows=800,
    )
    assert len(second.centroids) == TOPICS + extra_topics
    again = second.labels[np.searchsorted(ids, first_rows)]
    assert (again == first.labels).mean() >= 0.95
    old_labels = np.full(6_000, -1)
    old_labels[first_rows] = first.labels
    pairs = clusterer.match(second.centroids, second.labels, first.centroids, old_labels)
    assert all(pairs[i] == i for i in range(TOPICS))


def test_nothing_to_stream_is_an_error_not_an_empty_run() -> None:
    with pytest.raises(ValueError, match="no vectors"):
        clusterer.fit_stream(lambda: iter([]), TOPICS)


def test_the_label_sample_is_every_paper_up_to_its_size_then_an_even_draw() -> None:
    assert clusterer.label_sample(10).tolist() == list(range(10))
    big = clusterer.label_sample(clusterer.LABEL_SAMPLE * 3, seed=1)
    assert len(big) == clusterer.LABEL_SAMPLE == len(set(big.tolist()))
    assert (np.diff(big) > 0).all()
    assert big.max() > clusterer.LABEL_SAMPLE * 2  # drawn from the whole range
    assert (big == clusterer.label_sample(clusterer.LABEL_SAMPLE * 3, seed=1)).all()
