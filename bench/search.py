"""Search latency at 100,000 papers: similar papers and semantic search, p50/p95, and
recall@10 against exact brute force (ours is exact, so this checks the plumbing).

    python bench/search.py

On a scratch SQLite file; BENCH_SEARCH_DATABASE_URL names an empty PostgreSQL database
to run it there instead (it is filled with the 100,000 papers).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import numpy as np
from _setup import corpus_vectors, percentile, require_corpus, setup_django

setup_django(os.environ.get("BENCH_SEARCH_DATABASE_URL"))

from django.db import connection  # noqa: E402

from tracker.papers.embeddings import (  # noqa: E402
    embeddings_store,
    get_encoder,
    stored_model_name,
)
from tracker.papers.models import Paper  # noqa: E402
from tracker.search.filters import SearchFilters  # noqa: E402
from tracker.search.fusion import search  # noqa: E402
from tracker.search.index import similar_papers, vector_index  # noqa: E402
from tracker.search.semantic import semantic_search  # noqa: E402

TOTAL = 100_000
QUERIES = [
    "reducing hallucination in vision-language models",
    "efficient attention for long context language models",
    "diffusion models for video generation",
    "3d gaussian splatting reconstruction",
    "retrieval augmented generation evaluation",
    "reinforcement learning from human feedback for reasoning",
    "medical image segmentation with transformers",
    "speech recognition for low-resource languages",
    "autonomous driving perception benchmark",
    "machine translation quality estimation",
]


def main() -> None:
    records = require_corpus()
    base = corpus_vectors(records)
    model = stored_model_name()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    reps = -(-TOTAL // len(records))
    batch = 5000
    made = 0
    for rep in range(reps):
        noisy = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch][: TOTAL - made]
            if not chunk:
                break
            papers = Paper.objects.bulk_create(
                [
                    Paper(
                        arxiv_id=f"{r.arxiv_id}-{rep}",
                        canonical_url=f"https://arxiv.org/abs/{r.arxiv_id}?copy={rep}",
                        title=r.title,
                        abstract=r.abstract,
                        primary_category=r.categories[0] if r.categories else "",
                        published_at=r.published_at,
                    )
                    for r in chunk
                ]
            )
            embeddings_store(model, [p.pk for p in papers], noisy[start : start + len(chunk)])
            made += len(chunk)
    print(f"setup: {made} papers with vectors in {time.perf_counter() - started:.0f}s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after such a load

    started = time.perf_counter()
    index = vector_index(model)
    index.scores(index.matrix[0])  # the first scan makes the 16-bit copy
    print(f"index load (first search in a process): {time.perf_counter() - started:.2f}s")
    get_encoder(model).encode(["warm up"])

    probes = rng.choice(index.ids, 200, replace=False)
    papers = Paper.objects.in_bulk([int(i) for i in probes])
    similar_ms, recalls = [], []
    for pk in probes:
        paper = papers[int(pk)]
        t = time.perf_counter()
        hits = similar_papers(paper, limit=10)
        similar_ms.append((time.perf_counter() - t) * 1000)
        own = index.matrix[index.row_of[int(pk)]]
        scores = index.matrix @ own
        scores[index.row_of[int(pk)]] = -np.inf
        exact = {int(index.ids[i]) for i in np.argsort(-scores)[:10]}
        recalls.append(len(exact & {p.pk for p, _ in hits}) / 10)

    # New queries (titles of random papers, each asked once) and repeated ones (the same
    # question again with another filter or page: its vector is kept).
    semantic_ms, encode_ms, repeat_ms, fused_ms = [], [], [], []
    encoder = get_encoder(model)
    fresh = [records[int(i)].title for i in rng.choice(len(records), 90, replace=False)]
    for query in fresh:
        t = time.perf_counter()
        encoder.encode([query])
        encode_ms.append((time.perf_counter() - t) * 1000)
    for query in fresh[:30] + QUERIES:
        t = time.perf_counter()
        semantic_search(query, limit=10)
        semantic_ms.append((time.perf_counter() - t) * 1000)
    for _ in range(3):
        for query in QUERIES:
            t = time.perf_counter()
            semantic_search(query, limit=10)
            repeat_ms.append((time.perf_counter() - t) * 1000)
    for query in fresh[30:60] + QUERIES:
        t = time.perf_counter()
        search(query, limit=20)
        fused_ms.append((time.perf_counter() - t) * 1000)
    # The same box with a filter a reader sets: one category (a quarter of the papers), a
    # month, or arXiv only (all of them here), each with a new question.
    latest = max(r.published_at for r in records).date()
    filters = [
        SearchFilters(category="cs.CL"),
        SearchFilters(date_from=latest - timedelta(days=30), date_to=latest),
        SearchFilters(kind="arxiv"),
    ]
    filtered_ms = []
    for i, query in enumerate(fresh[60:]):
        t = time.perf_counter()
        search(query, filters[i % len(filters)], limit=20)
        filtered_ms.append((time.perf_counter() - t) * 1000)

    encode_p50, encode_p95 = percentile(encode_ms, 50), percentile(encode_ms, 95)
    print(f"\n{'at ' + format(made, ',') + ' papers':40s}{'p50 ms':>9s}{'p95 ms':>9s}")
    print(f"{'baseline: encoding a question alone':40s}{encode_p50:9.1f}{encode_p95:9.1f}")
    print(f"{'':40s}{'p50 ms':>9s}{'p95 ms':>9s}{'p95/encode':>12s}  target p95 < 50 ms")
    for name, values in [
        ("similar papers (exact cosine)", similar_ms),
        ("semantic search, new question", semantic_ms),
        ("semantic search, repeated question", repeat_ms),
        ("search box (keyword + semantic), new", fused_ms),
        ("search box with a filter, new", filtered_ms),
    ]:
        p95 = percentile(values, 95)
        verdict = "PASS" if p95 < 50 else "MISS"
        print(
            f"{name:40s}{percentile(values, 50):9.1f}{p95:9.1f}{p95 / encode_p95:11.2f}x  {verdict}"
        )
    recall = float(np.mean(recalls))
    verdict = "PASS" if recall >= 0.95 else "MISS"
    print(f"recall@10 of similar papers vs exact: {recall:.3f} (target >= 0.95) {verdict}")


if __name__ == "__main__":
    main()
