"""Writes for topics: a clustering run with its topics and membership, and new papers
joining the nearest topic between runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, QuerySet
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
# Rows per query when reading texts and previous topics, and per insert of memberships
# (where there is no COPY).
TEXT_CHUNK = 5000
WRITE_CHUNK = 5000


def _load_vectors(
    model_name: str, paper_ids: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    rows = _clustered(model_name)
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


def _clustered(model_name: str) -> QuerySet[Embedding]:
    """The vectors a run clusters: the model's, of visible papers that were not merged."""
    return Embedding.objects.filter(
        model_name=model_name, paper__hidden=False, paper__merged_into__isnull=True
    )


def _vector_passes(model_name: str, batch_size: int) -> clustering.VectorPasses:
    """Passes over the vectors in paper order, `batch_size` rows per query (keyset pages:
    no cursor stays open between batches, and memory holds one batch)."""

    def one_pass() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        after = 0
        while True:
            rows = list(
                _clustered(model_name)
                .filter(paper_id__gt=after)
                .order_by("paper_id")
                .values_list("paper_id", "vector")[:batch_size]
            )
            if not rows:
                return
            ids = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(bytes(v) for _, v in rows), dtype="<f4")
            yield ids, vectors.reshape(len(rows), -1)
            after = int(ids[-1])
            if len(rows) < batch_size:
                return

    return one_pass


def _cluster(k: int | None, seed: int) -> ClusteringRun | None:
    model_name = search_model_name(stored_model_name())
    if model_name is None:
        return None
    started = time.perf_counter()
    papers = _clustered(model_name).count()
    if papers < MIN_PAPERS:
        return None
    k = clustering.choose_k(papers, k or settings.CLUSTER_TOPICS)
    streamed = papers > settings.CLUSTER_IN_MEMORY_PAPERS
    run = ClusteringRun.objects.create(
        model_name=model_name,
        params={
            "algorithm": "spherical-kmeans, streamed" if streamed else "spherical-kmeans",
            "k": k,
            "seed": seed,
            "labels": "c-tf-idf keyphrases, mmr",
            **({"batch": settings.CLUSTER_BATCH} if streamed else {}),
        },
    )
    try:
        dimension = _clustered(model_name).values_list("dimension", flat=True).first() or 0
        previous, old_centroids = _previous_topics(dimension)
        if streamed:
            passes = _vector_passes(model_name, settings.CLUSTER_BATCH)
            ids, result = clustering.fit_stream(passes, k, previous=old_centroids, seed=seed)
        else:
            ids, vectors = _load_vectors(model_name)
            result = clustering.fit(vectors, k, previous=old_centroids, seed=seed)
            clustering.layout(result, vectors, seed=seed)
            del vectors
        result.terms = _terms(ids, result, seed)
        _store(run, ids, result, previous, old_centroids, started)
    except Exception as exc:
        ClusteringRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED,
            error=f"{exc.__class__.__name__}: {exc}",
            finished_at=timezone.now(),
        )
        raise
    run.refresh_from_db()
    return run


def _previous_topics(dimension: int) -> tuple[list[Topic], np.ndarray]:
    """The active topics a run starts from, and their centroids; none when any centroid
    is missing or of another model's dimension."""
    previous = list(Topic.objects.active().exclude(centroid=None).order_by("-size", "pk"))
    arrays = [t.centroid_array() for t in previous]
    old_centroids = np.array(
        [a for a in arrays if a is not None and len(a) == dimension], dtype=np.float32
    ).reshape(-1, dimension)
    if len(old_centroids) != len(previous):
        return [], np.zeros((0, dimension), dtype=np.float32)
    return previous, old_centroids


def _terms(ids: np.ndarray, result: clustering.Clustering, seed: int) -> list[list[str]]:
    """Each topic's keyphrases, from the texts of the label sample only."""
    sample = clustering.label_sample(len(ids), seed)
    wanted = ids[sample]
    texts_by_id: dict[int, str] = {}
    for start in range(0, len(wanted), TEXT_CHUNK):
        texts_by_id.update(
            (pk, paper_text(title, abstract))
            for pk, title, abstract in Paper.objects.filter(
                pk__in=wanted[start : start + TEXT_CHUNK].tolist()
            ).values_list("pk", "title", "abstract")
        )
    texts = [texts_by_id.get(int(pk), "") for pk in wanted]
    k = len(result.centroids)
    return clustering.keyphrase_terms(texts, result.labels[sample], k, seed=seed)


def _topics_before(ids: np.ndarray) -> np.ndarray:
    """Each paper's topic before this run (its id), 0 for none; one read of the table."""
    pairs = np.fromiter(
        (
            v
            for row in PaperTopic.objects.order_by("paper_id")
            .values_list("paper_id", "topic_id")
            .iterator(chunk_size=TEXT_CHUNK)
            for v in row
        ),
        dtype=np.int64,
    ).reshape(-1, 2)
    before = np.zeros(len(ids), dtype=np.int64)
    if len(pairs):
        at = np.searchsorted(pairs[:, 0], ids).clip(max=len(pairs) - 1)
        found = pairs[at, 0] == ids
        before[found] = pairs[at[found], 1]
    return before


def _store(
    run: ClusteringRun,
    ids: np.ndarray,
    result: clustering.Clustering,
    previous: list[Topic],
    old_centroids: np.ndarray,
    started: float,
) -> None:
    assert result.topic_xy is not None and result.paper_xy is not None
    k = len(result.centroids)
    before = _topics_before(ids)
    position = {topic.pk: i for i, topic in enumerate(previous)}
    old_labels = np.array([position.get(int(t), -1) for t in before], dtype=np.int64)
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
        topic_pks = np.array([t.pk for t in topics], dtype=np.int64)
        _paper_topics_write(run, ids, topic_pks, result)
        after = np.where(result.labels >= 0, topic_pks[result.labels.clip(min=0)], 0)
        earlier = (before > 0) & (after > 0)
        kept = int((before[earlier] == after[earlier]).sum())
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
                "papers_kept_topic": kept / int(earlier.sum()) if earlier.any() else None,
            },
        )


def _paper_topics_write(
    run: ClusteringRun, ids: np.ndarray, topic_pks: np.ndarray, result: clustering.Clustering
) -> None:
    """Every assigned paper's topic row, into the emptied table. On PostgreSQL by binary
    COPY: at 100k papers the ORM's INSERTs took a quarter of a run, building a model
    instance and a parameter list per row. Elsewhere a chunk at a time, so that a million
    rows never exist as objects at once."""
    assert result.paper_xy is not None
    assigned = np.flatnonzero(result.labels >= 0)
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg's own, under Django's wrapper
            with cursor.copy(
                f"COPY {PaperTopic._meta.db_table} "
                "(paper_id, topic_id, run_id, similarity, assigned_at, map_x, map_y) "
                "FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    ["int8", "int8", "int8", "float8", "timestamptz", "float8", "float8"]
                )
                for n in assigned.tolist():
                    copy.write_row(
                        (
                            int(ids[n]),
                            int(topic_pks[result.labels[n]]),
                            run.pk,
                            float(result.similarity[n]),
                            now,
                            float(result.paper_xy[n, 0]),
                            float(result.paper_xy[n, 1]),
                        )
                    )
        return
    for start in range(0, len(assigned), WRITE_CHUNK):
        PaperTopic.objects.bulk_create(
            [
                PaperTopic(
                    paper_id=int(ids[n]),
                    topic_id=int(topic_pks[result.labels[n]]),
                    run=run,
                    similarity=float(result.similarity[n]),
                    assigned_at=now,
                    map_x=float(result.paper_xy[n, 0]),
                    map_y=float(result.paper_xy[n, 1]),
                )
                for n in assigned[start : start + WRITE_CHUNK]
            ]
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
