"""pgvector against the in-process index at 100,000 vectors: the copy of an install's
vectors, the HNSW build (halfvec and full-precision vector indexes), and p50/p95 and
recall@10 of similar papers and filtered nearest-neighbour queries, each as a ratio to
the in-process index measured in the same run.

    python bench/vector_store.py [--vectors N]

Real vectors of the corpus plus noise, as bench/search.py makes them. It starts its own
PostgreSQL with pgvector (.ci/pgvector-server, a scratch data folder, PGVECTOR_PORT or
5433) unless BENCH_PGVECTOR_DATABASE_URL names an empty database on one.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _setup import corpus_vectors, percentile, require_corpus, setup_django

ROOT = Path(__file__).resolve().parent.parent


def _server_url() -> tuple[str, Path | None]:
    given = os.environ.get("BENCH_PGVECTOR_DATABASE_URL")
    if given:
        return given, None
    spec = importlib.util.spec_from_loader(
        "pgvector_server",
        importlib.machinery.SourceFileLoader("pgvector_server", str(ROOT / ".ci/pgvector-server")),
    )
    assert spec is not None and spec.loader is not None
    server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server)
    data = Path(tempfile.mkdtemp(prefix="bench-pgvector-")) / "data"
    url = server.start(data, int(os.environ.get("PGVECTOR_PORT", "5433")))
    return url, data


URL, SERVER_DATA = _server_url()
setup_django(URL)

from django.db import connection, transaction  # noqa: E402

from tracker.papers.embeddings import stored_model_name  # noqa: E402
from tracker.papers.models import (  # noqa: E402
    Embedding,
    EmbeddingVector,
    EmbeddingVectorCopy,
    Paper,
)
from tracker.papers.vectors import (  # noqa: E402
    embedding_vectors_copy,
    index_name,
    vector_store_forget,
)
from tracker.search import index as in_process  # noqa: E402
from tracker.search.backends import EF_SEARCH, InProcessStore, PgvectorStore  # noqa: E402
from tracker.search.filters import SearchFilters  # noqa: E402
from tracker.search.semantic import semantic_within  # noqa: E402

PROBES = 200
# Vectors written through the ORM for the copy's baseline.
ORM_SAMPLE = 5000


def load(total: int) -> tuple[str, int]:
    """Papers and their stored vectors, as an install from before the column had them."""
    records = require_corpus()
    base = corpus_vectors(records)
    model = stored_model_name()
    rng = np.random.default_rng(0)
    made = 0
    categories = ["cs.CL", "cs.CV", "cs.LG", "cs.AI"]
    while made < total:
        noisy = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        for start in range(0, len(records), 5000):
            chunk = records[start : start + 5000][: total - made]
            if not chunk:
                break
            papers = Paper.objects.bulk_create(
                [
                    Paper(
                        arxiv_id=f"{r.arxiv_id}-{made + i}",
                        canonical_url=f"https://arxiv.org/abs/{r.arxiv_id}?copy={made + i}",
                        title=r.title,
                        abstract="",
                        primary_category=categories[(made + i) % 4],
                        published_at=r.published_at,
                    )
                    for i, r in enumerate(chunk)
                ]
            )
            Embedding.objects.bulk_create(
                [
                    Embedding(paper_id=p.pk, model_name=model, dimension=384, vector=v.tobytes())
                    for p, v in zip(papers, noisy[start : start + len(chunk)], strict=True)
                ]
            )
            made += len(chunk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return model, made


def timed(call, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = call(*args)
    return (time.perf_counter() - started) * 1000, result


_BARE = (
    "SELECT paper_id FROM papers_embeddingvector WHERE model_name = %s "
    "AND vector_dims(vector) = 384 ORDER BY vector::{kind}(384) <=> %s::{kind}(384) LIMIT %s"
)
BARE_QUERY = {kind: _BARE.replace("{kind}", kind) for kind in ("halfvec", "vector")}


def raw_nearest(kind: str, model: str, vector: np.ndarray, k: int) -> list[int]:
    """The bare index query on the halfvec or the full-precision (vector) index: the
    index's own cost, without the backend's paper rows and filters around it."""
    literal = "[" + ",".join(f"{x:.7f}" for x in vector) + "]"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
        cursor.execute(BARE_QUERY[kind], [model, literal, k])
        return [row[0] for row in cursor.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=100_000)
    total = parser.parse_args().vectors
    started = time.perf_counter()
    model, made = load(total)
    print(f"setup: {made} papers with stored vectors in {time.perf_counter() - started:.0f}s")

    # The baseline: the ORM's INSERT, each vector sent as text, on a sample.
    sample = list(
        Embedding.objects.order_by("pk").values_list("pk", "paper_id", "model_name", "vector")[
            :ORM_SAMPLE
        ]
    )
    started = time.perf_counter()
    EmbeddingVector.objects.bulk_create(
        [
            EmbeddingVector(
                embedding_id=pk,
                paper_id=paper_id,
                model_name=name,
                vector=np.frombuffer(bytes(raw), dtype="<f4"),
            )
            for pk, paper_id, name, raw in sample
        ],
        ignore_conflicts=True,
    )
    orm_rate = len(sample) / (time.perf_counter() - started)
    EmbeddingVector.objects.all().delete()

    # The install's copy, then the halfvec index that copy builds at its end.
    EmbeddingVectorCopy.objects.create()
    marks: list[float] = []
    started = time.perf_counter()
    embedding_vectors_copy(report=lambda progress: marks.append(time.perf_counter()))
    finished = time.perf_counter()
    copy_s, build_s = marks[-1] - started, finished - marks[-1]
    vector_store_forget()
    # A full-precision index beside it, to weigh halfvec's recall and size.
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        cursor.execute(
            "CREATE INDEX bench_full_precision ON papers_embeddingvector USING hnsw "
            "((vector::vector(384)) vector_cosine_ops) WHERE model_name = %s "
            "AND vector_dims(vector) = 384",
            [model],
        )
    full_build_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE papers_embeddingvector")
        cursor.execute(
            "SELECT pg_relation_size(%s), pg_relation_size('bench_full_precision')",
            [index_name(model, 384)],
        )
        half_mb, full_mb = (size / 2**20 for size in cursor.fetchone())

    # The in-process baseline, loaded in this process, exact.
    started = time.perf_counter()
    index = in_process.vector_index(model)
    index.scores(index.matrix[0])
    load_s = time.perf_counter() - started
    rng = np.random.default_rng(1)
    probes = [int(i) for i in rng.choice(index.ids, PROBES, replace=False)]
    papers = Paper.objects.in_bulk(probes)
    category = index.categories.rows_equal("cs.CL") if index.categories else None

    def exact(pk: int, rows: np.ndarray | None = None) -> list[int]:
        own = index.matrix[index.row_of[pk]]
        scores = index.matrix @ own
        scores[index.row_of[pk]] = -np.inf
        if rows is not None:
            scores = np.where(rows, scores, -np.inf)
        return [int(index.ids[i]) for i in np.argsort(-scores)[:10]]

    timings: dict[str, list[float]] = {}
    recalls: dict[str, list[float]] = {}

    def measure(name: str, found: list[int], ms: float, truth: list[int]) -> None:
        timings.setdefault(name, []).append(ms)
        recalls.setdefault(name, []).append(len(set(found) & set(truth)) / 10)

    in_store, pg_store = InProcessStore(), PgvectorStore()
    filters = SearchFilters(category="cs.CL")

    def in_process_within(allowed, own):  # type: ignore[no-untyped-def]
        # The search box's own path: the filter as a mask over the rows, then checked.
        return semantic_within(allowed, index, index.scores(own), filters)[:10]

    visible = Paper.objects.visible()
    cs_cl = visible.filter(primary_category="cs.CL")
    for pk in probes:
        truth = exact(pk)
        ms, hits = timed(in_store.similar_papers, papers[pk], 10)
        measure("in-process: similar papers", [p.pk for p, _ in hits], ms, truth)
        ms, hits = timed(pg_store.similar_papers, papers[pk], 10)
        measure("pgvector halfvec: similar papers", [p.pk for p, _ in hits], ms, truth)
        own = index.matrix[index.row_of[pk]]
        for kind in ("halfvec", "vector"):
            ms, ids = timed(raw_nearest, kind, model, own, 11)
            found_ids = [i for i in ids if i != pk][:10]
            measure(f"pgvector {kind}: bare index query", found_ids, ms, truth)
        # A question within a filter: a quarter of the papers (one category).
        truth_cl = exact(pk, category)
        ms, found = timed(in_process_within, cs_cl.exclude(pk=pk), own)
        measure("in-process: nearest, category filter", [i for i, _ in found], ms, truth_cl)
        ms, found = timed(pg_store.nearest, model, own, cs_cl.exclude(pk=pk), 10)
        measure("pgvector halfvec: nearest, category", [i for i, _ in found], ms, truth_cl)

    print(
        f"\nat {made:,} vectors (384-d): copy into the column {copy_s:.1f}s; HNSW build "
        f"halfvec {build_s:.1f}s ({half_mb:.0f} MB), vector {full_build_s:.1f}s "
        f"({full_mb:.0f} MB); in-process index load {load_s:.1f}s"
    )
    print(f"{'':40s}{'p50 ms':>8s}{'p95 ms':>8s}{'recall@10':>11s}{'p95 ratio':>11s}")
    baseline = {
        "similar": percentile(timings["in-process: similar papers"], 95),
        "nearest": percentile(timings["in-process: nearest, category filter"], 95),
    }
    for name, values in timings.items():
        p95 = percentile(values, 95)
        base = baseline["similar" if "similar" in name else "nearest"]
        print(
            f"{name:40s}{percentile(values, 50):8.1f}{p95:8.1f}"
            f"{float(np.mean(recalls[name])):11.3f}{p95 / base:10.2f}x"
        )
    print("(ratio: p95 over the in-process index's p95 for the same kind of query)")
    copy_rate = made / copy_s
    print(
        f"copy into the column: {copy_rate:,.0f} vectors/s (binary COPY); the ORM's text "
        f"INSERT on {len(sample):,} of them (baseline): {orm_rate:,.0f} vectors/s; "
        f"{copy_rate / orm_rate:.1f}x"
    )


if __name__ == "__main__":
    try:
        main()
    finally:
        if SERVER_DATA is not None:
            import subprocess
            import sys

            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / ".ci/pgvector-server"),
                    "stop",
                    "--data",
                    str(SERVER_DATA),
                ],
                check=False,
            )
