"""Writes for topics: a clustering run with its topics and membership, and new papers
joining the nearest topic between runs."""

from __future__ import annotations

import logging
import time

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from pipeline import clustering
from pipeline.embedding import paper_text
from tracker.papers.embeddings import search_model_name, stored_model_name
from tracker.papers.models import Embedding, Paper, RunStatus
from tracker.topics.models import ClusteringRun, PaperTopic, Topic
from tracker.topics.selectors import clustering_due

logger = logging.getLogger(__name__)

# One clustering at a time across all workers; longer than any run takes.
CLUSTER_LOCK = "topics:clustering-lock"
CLUSTER_LOCK_SECONDS = 60 * 60
MIN_PAPERS = 10


def _load_vectors(
    model_name: str, paper_ids: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    rows = Embedding.objects.filter(
        model_name=model_name, paper__hidden=False, paper__merged_into__isnull=True
    )
    if paper_ids is not None:
        rows = rows.filter(paper_id__in=paper_ids)
    ids, vectors = [], []
    for paper_id, vector in (
        rows.order_by("paper_id").values_list("paper_id", "vector").iterator(chunk_size=5000)
    ):
        ids.append(paper_id)
        vectors.append(np.frombuffer(bytes(vector), dtype="<f4"))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32)
    return np.array(ids, dtype=np.int64), np.vstack(vectors)


def clustering_run_create(k: int | None = None, seed: int = 0) -> ClusteringRun | None:
    """Cluster every embedded visible paper, keep topic identity, and store the run.

    Returns None when another run holds the lock or there are too few papers.
    """
    if not cache.add(CLUSTER_LOCK, "1", timeout=CLUSTER_LOCK_SECONDS):
        logger.info("clustering skipped: another run is in progress")
        return None
    try:
        return _cluster(k, seed)
    finally:
        cache.delete(CLUSTER_LOCK)


def clustering_run_create_if_due() -> ClusteringRun | None:
    """Fit topics now when the papers call for it (see `clustering_due`), so that a fresh
    install or a large import has topics without waiting for the nightly run."""
    model_name = search_model_name(stored_model_name())
    if model_name is None or not clustering_due(model_name, MIN_PAPERS):
        return None
    return clustering_run_create()


def _cluster(k: int | None, seed: int) -> ClusteringRun | None:
    model_name = search_model_name(stored_model_name())
    if model_name is None:
        return None
    started = time.perf_counter()
    ids, vectors = _load_vectors(model_name)
    if len(ids) < MIN_PAPERS:
        return None
    k = clustering.choose_k(len(ids), k or settings.CLUSTER_TOPICS)
    run = ClusteringRun.objects.create(
        model_name=model_name,
        params={
            "algorithm": "spherical-kmeans",
            "k": k,
            "seed": seed,
            "labels": "c-tf-idf keyphrases, mmr",
        },
    )
    try:
        _fit_and_store(run, ids, vectors, k, seed, started)
    except Exception as exc:
        ClusteringRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED,
            error=f"{exc.__class__.__name__}: {exc}",
            finished_at=timezone.now(),
        )
        raise
    run.refresh_from_db()
    return run


def _fit_and_store(
    run: ClusteringRun, ids: np.ndarray, vectors: np.ndarray, k: int, seed: int, started: float
) -> None:
    previous = list(Topic.objects.active().exclude(centroid=None).order_by("-size", "pk"))
    arrays = [t.centroid_array() for t in previous]
    old_centroids = np.array(
        [a for a in arrays if a is not None and len(a) == vectors.shape[1]],
        dtype=np.float32,
    ).reshape(-1, vectors.shape[1])
    if len(old_centroids) != len(previous):
        previous, old_centroids = [], np.zeros((0, vectors.shape[1]), dtype=np.float32)
    result = clustering.fit(vectors, k, previous=old_centroids, seed=seed)
    texts_by_id = {
        pk: paper_text(title, abstract)
        for pk, title, abstract in Paper.objects.filter(pk__in=ids.tolist())
        .values_list("pk", "title", "abstract")
        .iterator(chunk_size=5000)
    }
    texts = [texts_by_id.get(int(pk), "") for pk in ids]
    k = len(result.centroids)
    result.terms = clustering.keyphrase_terms(texts, result.labels, k, seed=seed)
    clustering.layout(result, vectors, seed=seed)
    assert result.topic_xy is not None and result.paper_xy is not None

    position = {topic.pk: i for i, topic in enumerate(previous)}
    before = dict(PaperTopic.objects.values_list("paper_id", "topic_id"))
    old_labels = np.array([position.get(before.get(int(pk), -1), -1) for pk in ids], dtype=np.int64)
    pairs = clustering.match(result.centroids, result.labels, old_centroids, old_labels)
    sizes = np.bincount(result.labels[result.labels >= 0], minlength=k)

    with transaction.atomic():
        topics: list[Topic] = []
        for i in range(k):
            topic = previous[pairs[i]] if i in pairs else Topic(created_run=run)
            if not topic.label_locked:
                topic.label = clustering.label_from_terms(result.terms[i])[:200]
            topic.keywords = result.terms[i]
            topic.size = int(sizes[i])
            topic.centroid = result.centroids[i].astype("<f4").tobytes()
            topic.map_x, topic.map_y = (float(v) for v in result.topic_xy[i])
            topic.active = True
            topic.last_run = run
            topic.save()
            topics.append(topic)
        matched = {previous[j].pk for j in pairs.values()}
        Topic.objects.active().exclude(pk__in=matched).exclude(last_run=run).update(
            active=False, size=0
        )
        PaperTopic.objects.all().delete()
        PaperTopic.objects.bulk_create(
            [
                PaperTopic(
                    paper_id=int(pk),
                    topic=topics[int(label)],
                    run=run,
                    similarity=float(result.similarity[n]),
                    map_x=float(result.paper_xy[n, 0]),
                    map_y=float(result.paper_xy[n, 1]),
                )
                for n, (pk, label) in enumerate(zip(ids, result.labels, strict=True))
                if label >= 0
            ],
            batch_size=2000,
        )
        after = {
            int(pk): topics[int(label)].pk
            for pk, label in zip(ids, result.labels, strict=True)
            if label >= 0
        }
        earlier = [pk for pk in before if int(pk) in after]
        kept = sum(1 for pk in earlier if before[pk] == after[int(pk)])
        duration = time.perf_counter() - started
        ClusteringRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED,
            finished_at=timezone.now(),
            duration_seconds=duration,
            paper_count=len(ids),
            topic_count=k,
            metrics={
                "mean_similarity": float(result.similarity.mean()),
                "without_topic": float((result.labels < 0).mean()),
                "topics_kept": len(pairs),
                "topics_new": k - len(pairs),
                "topics_retired": len(previous) - len(pairs),
                "papers_kept_topic": kept / len(earlier) if earlier else None,
            },
        )


def topics_join_embedded(sender: object, paper_ids: list[int], **kwargs: object) -> None:
    """Receiver of papers' `embeddings_stored`: newly embedded papers join their topics."""
    paper_topics_assign_nearest(paper_ids)


def paper_topics_assign_nearest(paper_ids: list[int]) -> int:
    """Papers embedded after the last run join the nearest active topic of that run."""
    run = ClusteringRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-started_at").first()
    if run is None:
        return 0
    waiting = list(
        Paper.objects.filter(pk__in=paper_ids, paper_topic__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if not waiting:
        return 0
    topics = list(Topic.objects.active().exclude(centroid=None))
    ids, vectors = _load_vectors(run.model_name, waiting)
    if not topics or not len(ids):
        return 0
    centroids = np.vstack([a for t in topics if (a := t.centroid_array()) is not None])
    if centroids.shape[1] != vectors.shape[1]:
        return 0
    sims = clustering.normalise(vectors) @ centroids.T
    best = sims.argmax(axis=1)
    xy = clustering.place(
        vectors, centroids, np.array([[t.map_x or 0.5, t.map_y or 0.5] for t in topics])
    )
    created = PaperTopic.objects.bulk_create(
        [
            PaperTopic(
                paper_id=int(pk),
                topic=topics[int(b)],
                similarity=float(sims[n, b]),
                map_x=float(xy[n, 0]),
                map_y=float(xy[n, 1]),
            )
            for n, (pk, b) in enumerate(zip(ids, best, strict=True))
        ],
        ignore_conflicts=True,
    )
    # Recounted, not incremented: running this twice leaves the same sizes.
    affected = {topics[int(b)].pk for b in best}
    for topic_id, size in (
        PaperTopic.objects.filter(topic_id__in=affected)
        .values_list("topic_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        Topic.objects.filter(pk=topic_id).update(size=size)
    return len(created)
