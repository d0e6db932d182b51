"""The tracker at 100k, 300k and a million papers: ingest, clustering, pages, ranking,
digests and the memory of a web process, each size in a database of its own.

    python bench/scale.py                        # the curve: 100k, 300k, 1M
    python bench/scale.py --papers 20000         # a quick run
    python bench/scale.py --papers 1000000 --only cluster
    python bench/scale.py --backend pgvector --papers 50000 --only search,web
    python bench/scale.py --backend pgvector --database-url postgres://.../db

Needs DATABASE_URL (or --database-url) naming a PostgreSQL; the bench works in a
database of its own next to it (the name plus "_scale"), dropped and made again for each
size. The papers are the real corpus beside the checkout, repeated: their vectors plus a
little noise (as bench/cluster.py makes them), titles numbered, dates a thousand a day;
20 members with 50,000 ratings.

Every stage runs in a child process, so that its peak memory (ru_maxrss) is its own:
- ingest: papers and their vectors per second, written a chunk at a time (on pgvector
  to the column too), then the newest papers' own full-text index's build time
  (tracker.papers.newest_text), and on pgvector the HNSW index's, and that of the
  broad categories' own indexes (tracker.papers.vectors.category_indexes_sync);
- search: similar papers, semantic (the vector store's nearest query) and the search
  box, without and with a category filter: p50 / p95 of 100 questions (BENCH_PROBES) and
  recall@10 against an exact scan of every vector (the box: against the same box with an
  exact semantic side, as the in-process box is), and the recall of the box's semantic
  side (the CANDIDATES rows it fuses) against the exact ones; on pgvector, the
  in-process index side by side in the same database; and how many of the box's first
  ten the same box gives with every keyword match ranked (the keyword side ranks a
  capped pool: RANKED_AT_MOST);
- cluster: a clustering run as the nightly task runs it, its time and peak memory; at
  the first size also the in-memory full k-means run it replaces, as the baseline;
- web: one client, one page after the other, in a process serving as a web worker does
  (DEBUG off): p50 / p95 of the inbox, a paper page, search, the topics page, the map
  data, the reproduction board and the stats page (the team's REPRODUCTIONS, seeded the
  first time), the process's peak resident memory while serving each page, and the memory it
  holds after them all (flat in the papers, or not, read off the curve);
- rank: the "for you" ranking of a day's papers for each of the 20 members;
- digest: the weekly digest of each member, built and rendered: ms and queries each;
- bounds: the inbox's "for you" ranking with the team's 50,000 ratings, as the member
  loads it: the first load (the paper space built), the next (kept), the load after a
  rating, and a day's papers ranked per member; each against the same code reading every
  rating and building the space over every rated paper (the bounds lifted), as a ratio.

Each figure is also printed as a ratio against its value at the first size of the run
(and clustering against the full k-means baseline). Targets at a million papers:
clustering < 15 min and < 4 GB; pages' p95 < 200 ms; web memory flat in the papers.

Search backends: `--backend inprocess` (the default, the index each web process holds)
measures that index alone. `--backend pgvector` seeds a PostgreSQL with the `vector`
extension and measures both, side by side at the same size: the search stage asks each
backend the same questions, and the web stage runs once per backend (VECTOR_STORE
in-process, then auto). Without --database-url it starts the PostgreSQL with pgvector
that the tests use (.ci/pgvector-server, on PGVECTOR_PORT, its data in --pgvector-data
or a new folder) and stops it at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import runpy
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from unittest.mock import patch
from urllib.parse import urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CURVE = (100_000, 300_000, 1_000_000)
MEMBERS = 20
RATINGS = 50_000
# Papers (and vectors) written per bulk insert while seeding.
CHUNK = 10_000
# Memory for building the papers' indexes again after seeding them.
SEED_INDEX_MEMORY = "1GB"
# A day of harvest, as a big lab's listing brings it.
PER_DAY = 1_000
# Requests per page in the web stage, after one warm-up.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 20))
# Questions per kind in the search stage.
PROBES = int(os.environ.get("BENCH_PROBES", 100))
NOISE = 0.02
# Seeded vectors: "mix" (the default) or "copies", see seeded_vectors.
VECTOR_MODES = ("mix", "copies")
# A mixed vector draws its two partners from its real paper's this many nearest.
MIX_PARTNERS = 16
SEED = 0
CLUSTER_TARGET_SECONDS, CLUSTER_TARGET_GB = 15 * 60, 4.0
PAGE_TARGET_MS = 200.0
PASSWORD_HASH = "!"  # unusable: the bench signs members in without a password
PAGES = ("inbox", "paper page", "search", "topics", "map data", "board", "stats")
# The team's reproductions that the board and the stats page show: a busy team's few
# years, most finished, each with its claims and their results.
REPRODUCTIONS = 600
CLAIMS_PER_PAPER = 3
# Seeding (and the ingest rate) always runs; these follow it.
STAGES = ("search", "cluster", "web", "rank", "digest", "bounds")
# Members whose day is ranked in the bounds stage: the unbounded baseline takes a minute
# or more per member at 20k papers.
BOUNDS_MEMBERS = 3
# The ranking's reading bounds as the code sets them (read when the stage starts).
BOUNDS: dict[str, int] = {}
SEARCHES = (
    "similar papers",
    "semantic",
    "semantic, category filter",
    "semantic, the box's 200",
    "box",
    "box, category filter",
)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def resident_mb() -> dict[str, float]:
    """This process's resident memory now and its peak since the last peak_forget(), MB
    (Linux: VmRSS and VmHWM)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {
        "now": int(fields["VmRSS"].split()[0]) / 1024,
        "peak": int(fields["VmHWM"].split()[0]) / 1024,
    }


def peak_forget() -> None:
    """Start this process's peak (VmHWM) again from its resident memory now."""
    Path("/proc/self/clear_refs").write_text("5")


def p(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


# --- stages (each in its own process) -------------------------------------------------------


def django_setup() -> None:
    import django

    django.setup()


def corpus() -> tuple[list, np.ndarray]:  # type: ignore[type-arg]
    from _setup import corpus_vectors, require_corpus

    records = require_corpus()
    return records, corpus_vectors(records)


def _column_types(cursor, table: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Each column's type oid, as the migrations made the table: binary COPY sends every
    value in its column's own binary form."""
    cursor.execute(
        "SELECT attname, atttypid::int FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [table],
    )
    return dict(cursor.fetchall())


def _copy(cursor, table: str, columns: list[str], rows) -> None:  # type: ignore[no-untyped-def]
    """Binary COPY of `rows` into `table`: its triggers fire and its indexes and
    constraints hold, as for the ORM's INSERTs, at a fraction of their cost."""
    types = _column_types(cursor, table)
    with cursor.copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types([types[c] for c in columns])
        for row in rows:
            copy.write_row(row)


def _copy_models(cursor, model, rows: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    """Rows of `model` written as Model.save() would write them: every column the model
    stores, those a row does not name with their field's default as the field prepares it
    (prepared once: preparing each value of a million rows would take minutes)."""
    from django.db import connection
    from psycopg.types.json import Jsonb

    fields = [f for f in model._meta.concrete_fields if not f.generated]
    blank = model()
    template = {f.attname: f.get_db_prep_save(f.pre_save(blank, True), connection) for f in fields}
    json = {f.attname for f in fields if f.get_internal_type() == "JSONField"}

    def prepared(row: dict[str, object]) -> list[object]:
        values = {**template, **row}
        for name in json & row.keys():
            values[name] = Jsonb(values[name])
        return [values[f.attname] for f in fields]

    _copy(cursor, model._meta.db_table, [f.column for f in fields], map(prepared, rows))


@contextmanager
def _indexes_built_after(cursor, *tables: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Load `tables` without their secondary indexes, then build each again from its own
    definition (pg_get_indexdef): the schema ends as the migrations made it, and one
    sorted build costs far less than a million insertions (the full-text GIN index
    most). The indexes behind constraints (primary keys, unique) stay and are checked
    on every row."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [list(tables)],
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    cursor.execute(f"SET maintenance_work_mem = '{SEED_INDEX_MEMORY}'")
    for _, definition in indexes:
        cursor.execute(definition)
    cursor.execute("RESET maintenance_work_mem")


def _sequences_follow(cursor, *tables: str) -> None:
    """Rows were written with their ids: each table's id sequence goes on after them."""
    from psycopg import sql

    for table in tables:
        cursor.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({name}, 'id'), "
                "(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            ).format(name=sql.Literal(table), table=sql.Identifier(table))
        )


def _seed_chunk(  # type: ignore[no-untyped-def]
    cursor,
    rows: range,
    records: list,  # type: ignore[type-arg]
    vectors: np.ndarray,
    model_name: str,
    now: datetime,
    pgvector: bool,
) -> None:
    """Papers `rows` (paper i gets id i + 1, as its embedding does), each the corpus
    record i names, numbered, and its vector: in Embedding and, on pgvector, the column
    search reads, as embeddings_store writes them (index=False)."""
    from pgvector.psycopg.vector import register_vector_info
    from psycopg.types import TypeInfo

    from tracker.papers.models import Embedding, EmbeddingVector, Paper

    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    papers = []
    for i in rows:
        record = records[i % len(records)]
        papers.append(
            {
                "id": i + 1,
                "arxiv_id": f"{9000 + i // 99_999}.{i % 99_999:05d}",
                "canonical_url": f"https://arxiv.org/abs/scale{i}",
                "title": f"{record.title} ({i})",
                "normalized_title": f"{record.title.lower()[:480]} {i}",
                "abstract": record.abstract,
                "authors": record.authors,
                "categories": record.categories,
                "primary_category": (record.categories or [""])[0],
                # Newest first: paper 0 arrived today, a thousand a day before it. Each is
                # stored when it appeared, as a daily harvest stores them: the inbox's
                # window of arrivals holds a week of papers, not every one seeded.
                "published_at": now - timedelta(days=i / PER_DAY),
                "created_at": now - timedelta(days=i / PER_DAY),
            }
        )
    _copy_models(cursor, Paper, papers)
    _copy_models(
        cursor,
        Embedding,
        [
            {
                "id": i + 1,
                "paper_id": i + 1,
                "model_name": model_name,
                "dimension": vectors.shape[1],
                "vector": vector.tobytes(),
            }
            for i, vector in zip(rows, vectors, strict=True)
        ],
    )
    if pgvector:
        # With the paper's facts the search filters read, as the database would fill them
        # (kind and visibility: an arXiv paper, shown).
        facts = ("arxiv", True)
        register_vector_info(cursor, TypeInfo.fetch(cursor.connection, "vector"))
        _copy(
            cursor,
            EmbeddingVector._meta.db_table,
            [
                "embedding_id",
                "paper_id",
                "model_name",
                "vector",
                "published_at",
                "primary_category",
                "kind",
                "visible",
            ],
            (
                (i + 1, i + 1, model_name, v, row["published_at"], row["primary_category"], *facts)
                for i, v, row in zip(rows, vectors, papers, strict=True)
            ),
        )


def nearest_real(base: np.ndarray, count: int) -> np.ndarray:
    """Each real vector's `count` nearest other real vectors, by cosine (row indexes)."""
    scores = base @ base.T
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1)[:, :count]


def seeded_vectors(
    base: np.ndarray,
    rows: range,
    mode: str,
    rng: np.random.Generator,
    partners: np.ndarray | None,
) -> np.ndarray:
    """The vectors of papers `rows`, unit length. Paper i stands for real paper i % len(base)
    (its title and abstract are that paper's).

    "mix": a random convex mix (Dirichlet weights) of that paper and two of its
    MIX_PARTNERS nearest real papers, plus noise. Every seeded paper is its own point on
    the continuous stretch between real neighbours, as a million distinct papers are.
    "copies": that paper's vector plus noise, as bench/cluster.py makes them. At a
    million that is 237 copies of each real paper, nearer one another (cosine about 0.87)
    than to any other paper: the graph becomes islands of copies and a walk that enters
    the wrong island misses the right one, so recall falls with the size for a reason a
    real corpus does not have. Kept to compare with the figures measured on it."""
    own = np.array([i % len(base) for i in rows])
    if mode == "copies":
        vectors = base[own].copy()
    else:
        assert partners is not None
        picked = partners[own[:, None], rng.integers(0, partners.shape[1], (len(own), 2))]
        weights = rng.dirichlet(np.ones(3), len(own)).astype(np.float32)
        vectors = (
            weights[:, :1] * base[own]
            + weights[:, 1:2] * base[picked[:, 0]]
            + weights[:, 2:] * base[picked[:, 1]]
        )
    vectors += rng.normal(0, NOISE, vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def stage_ingest(papers: int, vector_mode: str) -> dict[str, object]:
    """Seed the corpus a chunk at a time by binary COPY, into the tables as the
    migrations made them (triggers, indexes and constraints in place); the rate counts
    papers and their vectors (on pgvector written to the column too; its HNSW index is
    built after, stage_index). The ORM's bulk INSERTs seeded 285 papers/s at 100k: an hour
    for a million."""
    django_setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from tracker.papers.embeddings import stored_model_name
    from tracker.papers.models import Embedding, EmbeddingVector, Paper
    from tracker.papers.vectors import vector_table_exists
    from tracker.teams.models import Membership, Role, Team
    from tracker.triage.models import Rating

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    records, base = corpus()
    model_name = stored_model_name()
    rng = np.random.default_rng(SEED)
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    partners = nearest_real(base, MIX_PARTNERS) if vector_mode == "mix" else None
    pgvector = vector_table_exists()
    tables = [Paper._meta.db_table, Embedding._meta.db_table]
    if pgvector:
        tables.append(EmbeddingVector._meta.db_table)
    started = time.perf_counter()
    with connection.cursor() as outer, _indexes_built_after(outer.cursor, *tables):
        for start in range(0, papers, CHUNK):
            rows = range(start, min(start + CHUNK, papers))
            vectors = seeded_vectors(base, rows, vector_mode, rng, partners)
            with transaction.atomic(), connection.cursor() as wrapper:
                _seed_chunk(wrapper.cursor, rows, records, vectors, model_name, now, pgvector)
    with connection.cursor() as wrapper:
        _sequences_follow(wrapper.cursor, Paper._meta.db_table, Embedding._meta.db_table)
    seconds = time.perf_counter() - started

    team = Team.objects.create(name="Scale", slug="scale")
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"member{i:02d}", password=PASSWORD_HASH) for i in range(MEMBERS)]
    )
    Membership.objects.bulk_create(
        [
            Membership(team=team, user=u, role=Role.CURATOR if i == 0 else Role.MEMBER)
            for i, u in enumerate(users)
        ]
    )
    ids = np.array(Paper.objects.order_by("-published_at").values_list("pk", flat=True)[:papers])
    # Ratings lean to recent papers, as a team's do.
    picks = set()
    while len(picks) < min(RATINGS, papers * MEMBERS // 4):
        recent = rng.random() < 0.7
        paper = ids[rng.integers(0, min(len(ids), 20_000))] if recent else rng.choice(ids)
        picks.add((int(paper), int(rng.integers(MEMBERS))))
    Rating.objects.bulk_create(
        [
            Rating(team=team, paper_id=pk, user=users[u], value=int(rng.integers(1, 6)))
            for pk, u in picks
        ],
        batch_size=10_000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"seconds": seconds, "rate": papers / seconds, "peak_gb": peak_gb()}


def stage_index() -> dict[str, object]:
    """The pgvector column's HNSW index, built once over every seeded vector."""
    django_setup()
    from django.db import connection

    from tracker.papers import vectors
    from tracker.papers.embeddings import stored_model_name
    from tracker.papers.models import Embedding
    from tracker.papers.vectors import embedding_vector_index_ensure, index_name

    model_name = stored_model_name()
    dimension = Embedding.objects.filter(model_name=model_name).values_list("dimension", flat=True)[
        0
    ]
    started = time.perf_counter()
    made = embedding_vector_index_ensure(model_name, dimension)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE papers_embeddingvector")
        cursor.execute(
            "SELECT pg_relation_size(to_regclass(%s))", [index_name(model_name, dimension)]
        )
        size = cursor.fetchone()[0]
    return {
        "seconds": seconds,
        "made": made,
        "m": vectors.HNSW_M,
        "ef_construction": vectors.HNSW_EF_CONSTRUCTION,
        "gb": size / 1024**3,
    }


def stage_newest_text() -> dict[str, object]:
    """The newest papers' own full-text index, as the nightly sync builds it."""
    django_setup()
    from django.db import connection

    from tracker.papers import newest_text

    started = time.perf_counter()
    newest_text.newest_text_sync()
    seconds = time.perf_counter() - started
    after = newest_text.newest_text_from()  # built or kept
    if after is None:
        return {"seconds": seconds, "papers": 0, "gb": 0.0}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(to_regclass(%s))", [newest_text.index_name(after)])
        size = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM papers_paper WHERE id > %s", [after])
        papers = cursor.fetchone()[0]
    return {"seconds": seconds, "papers": papers, "gb": size / 1024**3}


def stage_category_indexes() -> dict[str, object]:
    """The broad categories' own HNSW indexes, as the nightly sync builds them (each
    category with CATEGORY_INDEX_ROWS vectors or more), after the model's."""
    django_setup()
    from django.db import connection

    from tracker.papers import vectors

    started = time.perf_counter()
    done = vectors.category_indexes_sync()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE starts_with(c.relname, %s)",
            [vectors._CATEGORY_INDEX_PREFIX],
        )
        count, size = cursor.fetchone()
    return {
        "seconds": seconds,
        "made": [category for _, category in done.made],
        "indexes": count,
        "gb": float(size) / 1024**3,  # sum() of bigints is a numeric
        "min_rows": vectors.CATEGORY_INDEX_ROWS,
    }


def stage_search(backends: list[str]) -> dict[str, object]:
    """Similar papers, semantic (the store's nearest query) and the search box, without and
    with a filter, on each backend in the same database: p50 / p95, and recall@10 against
    the exact answer (an exact scan of every vector; for the box, the same box with an
    exact semantic side)."""
    django_setup()
    from django.test.utils import override_settings

    from tracker.papers.embeddings import search_model_name, stored_model_name
    from tracker.papers.models import Paper
    from tracker.papers.vectors import vector_store_forget
    from tracker.search import index as in_process
    from tracker.search import keyword
    from tracker.search.backends import PgvectorStore, vector_store
    from tracker.search.filters import SearchFilters
    from tracker.search.fusion import search, search_caches_forget
    from tracker.search.index import query_vector
    from tracker.search.keyword import CANDIDATES
    from tracker.search.semantic import best_of, semantic_within

    model_name = search_model_name(stored_model_name())
    assert model_name is not None
    exact = in_process.vector_index(model_name)  # loaded here: the exact answers
    rng = np.random.default_rng(SEED + 1)
    probes = [int(pk) for pk in rng.choice(exact.ids, min(PROBES, len(exact.ids)), replace=False)]
    papers = Paper.objects.in_bulk(probes)
    # The commonest category of the probes: a filter that keeps a share of the papers.
    categories = [papers[pk].primary_category for pk in probes]
    filters = SearchFilters(category=max(set(categories), key=categories.count))
    in_category = exact.categories.rows_equal(filters.category) if exact.categories else None
    visible = Paper.objects.visible()
    filtered = filters.apply(visible)
    questions = [
        exact.matrix[exact.row_of[pk]]
        + rng.normal(0, 0.05, exact.matrix.shape[1]).astype(np.float32)
        for pk in probes
    ]
    questions = [q / np.linalg.norm(q) for q in questions]
    words = [" ".join(papers[pk].title.split()[:3]) for pk in probes]
    # The box's own questions, encoded: its semantic side is the CANDIDATES rows nearest
    # them, fused by rank, so the box holds only as far as that deep list does.
    spoken = [query_vector(model_name, w) for w in words]

    def truth(
        vector: np.ndarray, rows: np.ndarray | None, skip: int | None = None, count: int = 10
    ) -> set[int]:
        scores = exact.matrix @ vector
        if skip is not None:
            scores[exact.row_of[skip]] = -np.inf
        if rows is not None:
            scores = np.where(rows, scores, -np.inf)
        return {int(exact.ids[i]) for i in np.argsort(-scores)[:count]}

    def semantic(backend: str, vector: np.ndarray, within: bool) -> list[int]:
        store = vector_store()
        if backend == "pgvector":
            return [
                pk
                for pk, _ in store.nearest(
                    model_name, vector, filters if within else SearchFilters(), 10
                )
            ]
        scores = exact.scores(vector)
        if within:
            return [pk for pk, _ in semantic_within(filtered, exact, scores, filters)[:10]]
        return [pk for pk, _ in best_of(exact, scores, 10, None)]

    def deep(backend: str, vector: np.ndarray) -> list[int]:
        if backend == "pgvector":
            return [
                pk
                for pk, _ in vector_store().nearest(model_name, vector, SearchFilters(), CANDIDATES)
            ]
        return [pk for pk, _ in best_of(exact, exact.scores(vector), CANDIDATES, None)]

    def similar(pk: int) -> list[int]:
        return [found.pk for found, _ in vector_store().similar_papers(papers[pk], 10)]

    def box(words: str, filters: SearchFilters | None) -> list[int]:
        return [hit.paper.pk for hit in search(words, filters, limit=10)]

    # The exact answers, each a scan of every vector, are worked out before any search is
    # timed: between the searches they streamed the whole matrix (1.5 GB at a million
    # papers) through the caches and kept both cores busy just before each timed call,
    # which no web process sees.
    truths: dict[tuple[int, object], set[int]] = {}
    for i, pk in enumerate(probes):
        truths[(i, "own")] = truth(exact.matrix[exact.row_of[pk]], None, skip=pk)
        truths[(i, "deep")] = truth(spoken[i], None, count=CANDIDATES)
        for within in (False, True):
            truths[(i, within)] = truth(questions[i], in_category if within else None)

    results: dict[str, object] = {"category": filters.category, "probes": len(probes)}
    box_answers: dict[tuple[str, int, bool], list[int]] = {}
    timings: dict[str, list[float]] = {}
    recalls: dict[str, list[float]] = {}

    def measure(name: str, want: set[int] | None, call, *args) -> list[int]:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        found = call(*args)
        timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        if want is not None:
            recalls.setdefault(name, []).append(len(set(found) & want) / len(want))
        return list(found)

    for backend in backends:
        timings.clear()
        recalls.clear()
        setting = "in-process" if backend == "inprocess" else "auto"
        with override_settings(VECTOR_STORE=setting):
            vector_store_forget()
            search_caches_forget()
            if vector_store().name != ("in-process" if backend == "inprocess" else "pgvector"):
                raise SystemExit(f"the {backend} store does not answer in this database")
            search(words[0])  # warm-up: the query encoder, and the index on the in-process side
            # As a web worker does once warmed up (gunicorn.conf.py); here also the bench's
            # exact index, whose id map a full collection would otherwise walk, a pause
            # no web process has.
            gc.collect()
            gc.freeze()
            for i, pk in enumerate(probes):
                measure("similar papers", truths[(i, "own")], similar, pk)
                deepest = truths[(i, "deep")]
                measure("semantic, the box's 200", deepest, deep, backend, spoken[i])
                for within in (False, True):
                    tag = ", category filter" if within else ""
                    want = truths[(i, within)]
                    measure(f"semantic{tag}", want, semantic, backend, questions[i], within)
                    box_answers[(backend, i, within)] = measure(
                        f"box{tag}", None, box, words[i], filters if within else None
                    )
        results[backend] = {
            name: {
                "p50": p(values, 50),
                "p95": p(values, 95),
                "recall": float(np.mean(recalls[name])) if name in recalls else None,
            }
            for name, values in timings.items()
        }

    # The keyword side ranks a capped pool of each question's matches (RANKED_AT_MOST), as
    # the in-process box does too: how far the cap moves the box's first ten shows only
    # against the same box with every match ranked.
    with patch.object(keyword, "RANKED_AT_MOST", 10**9):
        for backend in backends:
            setting = "in-process" if backend == "inprocess" else "auto"
            with override_settings(VECTOR_STORE=setting):
                vector_store_forget()
                for within in (False, True):
                    name = "box, category filter" if within else "box"
                    agree = []
                    for i in range(len(probes)):
                        every = box(words[i], filters if within else None)
                        capped = box_answers[(backend, i, within)]
                        agree.append(len(set(capped) & set(every)) / max(1, len(every)))
                    results[backend][name]["ranked"] = float(np.mean(agree))  # type: ignore[index]

    # The box fuses keyword and semantic rankings: its exact answer is the same box with an
    # exact semantic side, every vector scored as `truth` scores them. The in-process box is
    # that box (its 200 are the exact ones); on pgvector it is the box with the walk
    # replaced by the exact 200, the keyword matches scored by the same query.
    if "pgvector" in backends:

        def exact_nearest(
            store: object, model_name: str, vector: np.ndarray, within: SearchFilters, limit: int
        ) -> list[tuple[int, float]]:
            scores = exact.matrix @ vector
            if within.active:
                scores = np.where(in_category, scores, -np.inf)
            order = np.argsort(-scores)[:limit]
            return [(int(exact.ids[i]), float(scores[i])) for i in order]

        exact_box = {}
        with (
            override_settings(VECTOR_STORE="auto"),
            patch.object(PgvectorStore, "nearest", exact_nearest),
        ):
            vector_store_forget()
            for i in range(len(probes)):
                for within in (False, True):
                    exact_box[(i, within)] = box(words[i], filters if within else None)
    else:
        exact_box = {key[1:]: found for key, found in box_answers.items()}
    for backend in backends:
        for within in (False, True):
            name = "box, category filter" if within else "box"
            agree = [
                len(set(box_answers[(backend, i, within)]) & set(exact_box[(i, within)]))
                / max(1, len(exact_box[(i, within)]))
                for i in range(len(probes))
            ]
            results[backend][name]["recall"] = float(np.mean(agree))  # type: ignore[index]
    results["memory_gb"] = peak_gb()
    return results


def stage_cluster(full: bool) -> dict[str, object]:
    """One clustering run as the nightly task runs it past CLUSTER_IN_MEMORY_PAPERS
    (streamed) whatever the size; `full`: the in-memory k-means it replaces there."""
    os.environ["CLUSTER_IN_MEMORY_PAPERS"] = str(10**12 if full else 0)
    django_setup()
    from tracker.topics.services import clustering_run_create

    started = time.perf_counter()
    run = clustering_run_create()
    seconds = time.perf_counter() - started
    if run is None:
        raise SystemExit("clustering did not run (too few papers, or another run holds it)")
    return {
        "seconds": seconds,
        "peak_gb": peak_gb(),
        "k": run.topic_count,
        "papers": run.paper_count,
        "algorithm": run.params["algorithm"],
        "mean_similarity": run.metrics["mean_similarity"],
    }


def stage_web() -> dict[str, object]:
    """One client, in the process that serves it: each page ROUNDS times after a warm-up;
    the process's resident memory once it is ready, its peak while serving each page, and
    what it still holds after them all. "Flat in the papers" is read off that last one at
    each size (the peak of the whole run would mix in whatever page peaked highest)."""
    django_setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tracker.papers.models import Paper
    from tracker.topics.models import Topic

    client = Client()
    client.force_login(get_user_model().objects.get(username="member01"))
    newest = list(Paper.objects.order_by("-published_at").values_list("pk", "title")[: ROUNDS + 1])
    words = [title.split()[0] for _, title in newest]
    urls = {
        "inbox": ["/inbox/"] * (ROUNDS + 1),
        "paper page": [f"/papers/{pk}/" for pk, _ in newest],
        "search": [f"/search/?q={w}" for w in words],
        "topics": ["/topics/"] * (ROUNDS + 1),
        "map data": ["/topics/map/data/"] * (ROUNDS + 1),
        "board": ["/reproductions/"] * (ROUNDS + 1),
        "stats": ["/stats/"] * (ROUNDS + 1),
    }
    team_work_seed()
    results: dict[str, object] = {"memory_at_start_mb": resident_mb()["now"]}
    # Ready as a gunicorn worker is before its first request (gunicorn.conf.py): the search
    # warmed up, what it loaded frozen out of the garbage collector's sight.
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"](None)
    for page, targets in urls.items():
        peak_forget()
        first = time.perf_counter()
        response = client.get(targets[0])
        warm_up = time.perf_counter() - first
        if response.status_code != 200:
            raise SystemExit(f"{page} answered {response.status_code}")
        timings = []
        for url in targets[1:]:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        results[page] = {
            "p50": p(timings, 50),
            "p95": p(timings, 95),
            "first_ms": warm_up * 1000,
            "peak_mb": resident_mb()["peak"],
        }
        if page == "map data":
            results[page]["points"] = len(response.json()["papers"])  # type: ignore[index]
    results["topics_count"] = Topic.objects.active().count()
    gc.collect()
    results["memory_held_mb"] = resident_mb()["now"]
    return results


def team_work_seed() -> None:
    """The team's reproductions (REPRODUCTIONS, once per database): papers taken as the
    ratings take them, mostly recent; every status, four in five finished, each with
    CLAIMS_PER_PAPER claims at most and, when finished, a result for each, near the claim
    or short of it. One paper in three names its lab; for the others the stats page reads
    the author table, where the first author of one in three is a lab's (confirmed)."""
    from django.db import transaction
    from django.utils import timezone

    from tracker.papers.models import AuthorLab, Paper
    from tracker.reproductions.models import (
        FINISHED_STATUSES,
        Claim,
        Reproduction,
        ResultLog,
        Status,
    )
    from tracker.teams.models import Membership

    members = list(Membership.objects.select_related("team", "user").order_by("user_id"))
    team = members[0].team
    if Reproduction.objects.filter(team=team).exists():
        return
    rng = np.random.default_rng(SEED + 1)
    newest = Paper.objects.order_by("-id").values_list("id", flat=True).first() or 0
    recent = rng.integers(1, min(newest, 20_000) + 1, size=REPRODUCTIONS * 2)
    anywhere = rng.integers(1, newest + 1, size=REPRODUCTIONS * 2)
    picks = np.where(rng.random(REPRODUCTIONS * 2) < 0.7, recent, anywhere)
    papers = [int(pk) for pk in dict.fromkeys(picks.tolist())][:REPRODUCTIONS]
    labs = ("OpenAI", "Google DeepMind", "Meta AI", "Anthropic", "Qwen", "Mistral")
    statuses = [*FINISHED_STATUSES] * 4 + [Status.PROPOSED, Status.ACCEPTED, Status.IN_PROGRESS]
    now = timezone.now()
    authors = dict(Paper.objects.filter(pk__in=papers).values_list("pk", "authors"))
    with transaction.atomic():
        for i, pk in enumerate(papers):
            if i % 3 == 0:
                Paper.objects.filter(pk=pk).update(lab=labs[i % len(labs)])
        first_authors = {
            authors[pk][0]: labs[i % len(labs)]
            for i, pk in enumerate(papers)
            if i % 3 == 1 and authors.get(pk)
        }
        AuthorLab.objects.bulk_create(
            [AuthorLab(author=a, lab=lab, confirmed=True) for a, lab in first_authors.items()],
            ignore_conflicts=True,
        )
        reproductions = Reproduction.objects.bulk_create(
            [
                Reproduction(
                    team=team,
                    paper_id=pk,
                    proposed_by=members[i % len(members)].user,
                    status=statuses[i % len(statuses)],
                    created_at=now - timedelta(days=int(rng.integers(30, 900))),
                    finished_at=(
                        now - timedelta(days=int(rng.integers(1, 29)))
                        if statuses[i % len(statuses)] in FINISHED_STATUSES
                        else None
                    ),
                )
                for i, pk in enumerate(papers)
            ]
        )
        Assignee = Reproduction.assignees.through
        Assignee.objects.bulk_create(
            [
                Assignee(reproduction_id=r.pk, user_id=members[(i + k) % len(members)].user_id)
                for i, r in enumerate(reproductions)
                for k in range(1 + i % 2)
            ]
        )
        claims = Claim.objects.bulk_create(
            [
                Claim(
                    team=team,
                    paper_id=r.paper_id,
                    metric=("accuracy", "pass@1", "F1")[k],
                    dataset=("MMLU", "HumanEval", "SQuAD")[k],
                    claimed_value=float(rng.uniform(40, 90)),
                    tolerance=0.5,
                )
                for i, r in enumerate(reproductions)
                for k in range(1 + i % CLAIMS_PER_PAPER)
            ]
        )
        finished = {r.paper_id: r for r in reproductions if r.status in FINISHED_STATUSES}
        ResultLog.objects.bulk_create(
            [
                ResultLog(
                    reproduction=finished[c.paper_id],
                    claim=c,
                    reproduced_value=c.claimed_value - float(rng.choice([0.2, 1.5, 6.0])),
                    logged_by=members[0].user,
                )
                for c in claims
                if c.paper_id in finished
            ]
        )


def stage_rank() -> dict[str, object]:
    """A day's papers ranked for each member, as the inbox's "for you" order ranks them."""
    django_setup()
    from tracker.papers.models import Paper
    from tracker.teams.models import Membership
    from tracker.triage.ranking import member_ranking

    newest = Paper.objects.order_by("-published_at").values_list("published_at", flat=True)[0]
    day = Paper.objects.filter(published_at__gt=newest - timedelta(days=1)).order_by(
        "-published_at"
    )
    members = list(Membership.objects.select_related("team").order_by("user_id"))
    started = time.perf_counter()
    ranked = [len(member_ranking(m, day, explain=20)) for m in members]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "papers": ranked[0], "members": len(members)}


def stage_digest() -> dict[str, object]:
    django_setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tracker.digests.selectors import digest_week
    from tracker.digests.services import digest_preview, preferences_ensure

    now = timezone.now()
    preferences_ensure(now)
    users = list(get_user_model().objects.order_by("pk"))
    started = time.perf_counter()
    shared = digest_week(now)
    queries = []
    for user in users:
        with CaptureQueriesContext(connection) as captured:
            digest_preview(user, now, shared=shared)
        queries.append(len(captured))
    seconds = time.perf_counter() - started
    return {"ms_per_member": seconds * 1000 / len(users), "queries": max(queries)}


def _inbox_loads(bounded: bool) -> dict[str, float]:
    """Seconds: the first inbox ranking, the next, the one after a rating, and a day's
    papers ranked per member, for member01; `bounded` False lifts the reading bounds."""
    from django.contrib.auth import get_user_model

    from tracker.papers.models import Paper
    from tracker.teams.models import Membership
    from tracker.triage import ranking
    from tracker.triage.selectors import inbox_papers
    from tracker.triage.services import rating_set

    for name, value in BOUNDS.items():
        setattr(ranking, name, value if bounded else 10**9)
    ranking.ranking_forget()
    membership = Membership.objects.select_related("team").get(user__username="member01")

    def load() -> tuple[float, list[int]]:
        started = time.perf_counter()
        ranked = ranking.member_ranking(membership, inbox_papers(membership), explain=20)
        return time.perf_counter() - started, [r.paper_id for r in ranked]

    first, _ = load()
    warm, order = load()
    paper = Paper.objects.get(pk=order[0])
    rating_set(
        team=membership.team,
        paper=paper,
        user=get_user_model().objects.get(username="member01"),
        value=5,
    )
    after, order = load()
    assert paper.pk not in order
    newest = Paper.objects.order_by("-published_at").values_list("published_at", flat=True)[0]
    day = Paper.objects.filter(published_at__gt=newest - timedelta(days=1)).order_by(
        "-published_at"
    )
    members = list(Membership.objects.select_related("team").order_by("user_id"))
    started = time.perf_counter()
    for m in members[:BOUNDS_MEMBERS]:
        ranking.member_ranking(m, day, explain=20)
    per_member = (time.perf_counter() - started) / BOUNDS_MEMBERS
    return {"first": first, "warm": warm, "after_rating": after, "day_per_member": per_member}


def stage_bounds() -> dict[str, object]:
    """_inbox_loads unbounded (the baseline) then bounded, in one database: the rating
    each makes is taken back before the other runs."""
    django_setup()
    from tracker.triage import ranking

    BOUNDS.update(OWN_KEPT=ranking.OWN_KEPT, TEAM_KEPT_PER_MEMBER=ranking.TEAM_KEPT_PER_MEMBER)
    from django.db import transaction

    class Undo(Exception):
        pass

    out: dict[str, object] = {}
    for name, bounded in (("baseline", False), ("bounded", True)):
        try:
            with transaction.atomic():
                out[name] = _inbox_loads(bounded)
                raise Undo
        except Undo:
            pass
    from tracker.triage.models import Rating

    out["ratings"] = Rating.objects.count()
    return out


def run_stage(argv: list[str]) -> None:
    stage = argv[0]
    if stage == "ingest":
        out = stage_ingest(int(argv[1]), argv[2])
    elif stage == "cluster":
        out = stage_cluster(full=len(argv) > 1 and argv[1] == "full")
    elif stage == "index":
        out = stage_index()
    elif stage == "category_indexes":
        out = stage_category_indexes()
    elif stage == "newest_text":
        out = stage_newest_text()
    elif stage == "search":
        out = stage_search(argv[1].split(","))
    else:
        out = {
            "web": stage_web,
            "rank": stage_rank,
            "digest": stage_digest,
            "bounds": stage_bounds,
        }[stage]()
    print("RESULT " + json.dumps(out))


# --- the driver ------------------------------------------------------------------------------


def scale_database(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_scale"
    admin = urlunsplit(parts._replace(path="/postgres"))
    return urlunsplit(parts._replace(path="/" + name)), name, admin


def psycopg_connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(url, autocommit=True)


def recreate(admin_url: str, name: str, backend: str) -> None:
    with psycopg_connect(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    if backend == "pgvector":
        with psycopg_connect(admin_url.rsplit("/", 1)[0] + f"/{name}") as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


def pgvector_server(data: Path, shared_buffers: str) -> str:
    """Start the PostgreSQL with pgvector that the tests use (.ci/pgvector-server), its
    data in `data`, on PGVECTOR_PORT, with `shared_buffers`; its URL."""
    started = subprocess.run(
        [
            sys.executable,
            str(ROOT / ".ci/pgvector-server"),
            "start",
            "--data",
            str(data),
            "--port",
            os.environ.get("PGVECTOR_PORT", "5433"),
            "--set",
            f"shared_buffers={shared_buffers}",
        ],
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        raise SystemExit(f"the pgvector server did not start: {started.stderr[-2000:]}")
    return started.stdout.strip().splitlines()[-1]


def child(env: dict[str, str], *args: str) -> dict:  # type: ignore[type-arg]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--stage", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"stage {' '.join(args)} failed ({done.returncode})")
    print(f"  ({' '.join(args)}: {time.perf_counter() - started:.0f} s)", flush=True)
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def ratio(value: float, base: float | None) -> str:
    return f" ({value / base:.2f}x)" if base else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", default=",".join(str(n) for n in CURVE))
    parser.add_argument("--only", default=",".join(STAGES), help="stages, comma-separated")
    parser.add_argument("--backend", choices=("inprocess", "pgvector"), default="inprocess")
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL (default DATABASE_URL; with --backend pgvector, default: start one)",
    )
    parser.add_argument(
        "--pgvector-data",
        type=Path,
        default=None,
        help="with --backend pgvector: the started server's data folder (default: a new one)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the full k-means baseline")
    parser.add_argument(
        "--web-backends",
        default="",
        help="with --backend pgvector: the web stage's backends (default both; a web "
        "process of the in-process index loads every vector, minutes at a million)",
    )
    parser.add_argument(
        "--vectors",
        choices=VECTOR_MODES,
        default="mix",
        help="seeded vectors: mixes of neighbouring real papers plus noise (the default), or "
        "copies of each real paper plus noise (islands of copies: see seeded_vectors)",
    )
    parser.add_argument(
        "--search-backends",
        default="",
        help="with --backend pgvector: the search stage's backends (default both; the "
        "in-process box is the exact answer the pgvector box's agreement is read against)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="one size: measure the database seeded last time"
    )
    parser.add_argument(
        "--shared-buffers",
        default="4GB",
        help="with --backend pgvector and no --database-url: the started server's "
        "shared_buffers (default 4GB, a sixth of this machine's memory, where a server "
        "for a million papers keeps its vector indexes; PostgreSQL's own default is 128MB)",
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.papers.split(",")]
    stages = set(args.only.split(","))
    server_data = None
    if args.backend == "pgvector" and not args.database_url:
        server_data = (
            args.pgvector_data or Path(tempfile.mkdtemp(prefix="scale-pgvector-")) / "data"
        )
        args.database_url = pgvector_server(server_data, args.shared_buffers)
    args.database_url = args.database_url or os.environ.get("DATABASE_URL", "")
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/scale.py needs DATABASE_URL or --database-url naming PostgreSQL")
    try:
        measure(args, sizes, stages)
    finally:
        if server_data is not None:
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / ".ci/pgvector-server"),
                    "stop",
                    "--data",
                    str(server_data),
                ],
                check=False,
            )


def measure(args: argparse.Namespace, sizes: list[int], stages: set[str]) -> None:
    # On pgvector, the in-process index is measured beside it, in the same database.
    backends = ["inprocess", "pgvector"] if args.backend == "pgvector" else ["inprocess"]
    url, name, admin = scale_database(args.database_url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "HTTPS": "0",
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "tracker.settings",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("REDIS_URL", None)  # the cache sits in the bench's own database
    with psycopg_connect(admin) as conn:
        buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    print(
        f"bench/scale.py: backend {args.backend}, vectors {args.vectors}, "
        f"sizes {', '.join(f'{n:,}' for n in sizes)}; shared_buffers {buffers}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    first: dict[str, float] = {}

    def show(key: str, label: str, value: float, unit: str, fmt: str = "{:.1f}") -> None:
        base = first.setdefault(key, value)
        print(f"  {label}: {fmt.format(value)} {unit}{ratio(value, base) if base != value else ''}")

    # A web process with DEBUG off serves its static files from the collected manifest.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    for n in sizes:
        print(f"\n{n:,} papers", flush=True)
        if args.reuse:
            print("  (reusing the database the last run seeded)")
        else:
            recreate(admin, name, args.backend)
            ingest = child(env, "ingest", str(n), args.vectors)
            show("ingest", "ingest", ingest["rate"], "papers/s (with vectors)", "{:,.0f}")
            text = child(env, "newest_text")
            show(
                "newest_text",
                f"full-text index of the newest {text['papers']:,} papers ({text['gb']:.2f} GB)",
                text["seconds"],
                "s",
            )
            if args.backend == "pgvector":
                built = child(env, "index")
                show(
                    "hnsw",
                    f"HNSW build (halfvec, m={built['m']}, "
                    f"ef_construction={built['ef_construction']}, {built['gb']:.2f} GB)",
                    built["seconds"],
                    "s",
                )
                own = child(env, "category_indexes")
                show(
                    "category_hnsw",
                    f"HNSW build of the categories with {own['min_rows']:,}+ vectors "
                    f"({', '.join(own['made']) or 'none'}; {own['gb']:.2f} GB)",
                    own["seconds"],
                    "s",
                )
        if "search" in stages:
            searched = args.search_backends.split(",") if args.search_backends else backends
            found = child(env, "search", ",".join(searched))
            print(
                f"  search, {found['probes']} questions each; filter: category "
                f"{found['category']}; recall@10 against an exact scan (box: the box "
                "with an exact semantic side; its 200: recall@200)"
            )
            print(
                f"  {'':28s}"
                + "".join(f"{b + ' p50/p95 ms, recall':>34s}" for b in searched)
                + ("  p95 ratio" if len(searched) > 1 else "")
            )
            for kind in SEARCHES:
                cells = [found[b][kind] for b in searched]
                line = f"  {kind:28s}" + "".join(
                    f"{c['p50']:14.1f}{c['p95']:10.1f}"
                    + (f"{c['recall']:10.3f}" if c["recall"] is not None else f"{'-':>10s}")
                    for c in cells
                )
                if len(cells) > 1:
                    line += f"  {cells[1]['p95'] / cells[0]['p95']:8.2f}x"
                print(line, flush=True)
            for kind in ("box", "box, category filter"):
                print(
                    f"  {kind}: first ten in common with every keyword match ranked: "
                    + ", ".join(f"{found[b][kind]['ranked']:.3f} ({b})" for b in searched)
                )
        if "cluster" in stages:
            streamed = child(env, "cluster")
            if "full" not in first and not args.no_baseline:
                full = child(env, "cluster", "full")
                first["full"] = full["seconds"]
                print(
                    f"  clustering, full k-means in memory (baseline): {full['seconds']:.0f} s, "
                    f"peak {full['peak_gb']:.2f} GB, {full['k']} topics"
                )
                # The baseline's run became the previous run: time a warm start too.
                warm = child(env, "cluster")
                print(
                    f"  clustering, streamed, warm start: {warm['seconds']:.0f} s, "
                    f"peak {warm['peak_gb']:.2f} GB "
                    f"({warm['seconds'] / full['seconds']:.2f}x time, "
                    f"{warm['peak_gb'] / full['peak_gb']:.2f}x memory of the baseline)"
                )
            verdict = (
                "ok"
                if streamed["seconds"] < CLUSTER_TARGET_SECONDS
                and streamed["peak_gb"] < CLUSTER_TARGET_GB
                else "OVER TARGET"
            )
            base = first.setdefault("cluster", streamed["seconds"])
            base_mem = first.setdefault("cluster_mem", streamed["peak_gb"])
            print(
                f"  clustering, streamed ({streamed['algorithm']}, {streamed['k']} topics): "
                f"{streamed['seconds']:.0f} s{ratio(streamed['seconds'], base)}, "
                f"peak {streamed['peak_gb']:.2f} GB{ratio(streamed['peak_gb'], base_mem)} "
                f"(target < {CLUSTER_TARGET_SECONDS // 60} min, < {CLUSTER_TARGET_GB:.0f} GB): "
                f"{verdict}"
            )
        web_backends = args.web_backends.split(",") if args.web_backends else backends
        for backend in web_backends if "web" in stages else []:
            store = "in-process" if backend == "inprocess" else "auto"
            web = child({**env, "VECTOR_STORE": store}, "web")
            tag = f" [{backend}]" if args.backend == "pgvector" else ""
            for page in PAGES:
                row = web[page]
                base = first.setdefault(f"p95 {page}{tag}", row["p95"])
                extra = f", {row['points']:,} points" if page == "map data" else ""
                verdict = "ok" if row["p95"] < PAGE_TARGET_MS else "OVER TARGET"
                print(
                    f"  {page}{tag}: 1-client p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms"
                    f"{ratio(row['p95'], base)}, first {row['first_ms']:.0f} ms, "
                    f"peak {row['peak_mb']:.0f} MB{extra}: {verdict}"
                )
            print(f"  web process{tag} ready: {web['memory_at_start_mb']:.0f} MB resident")
            show(
                f"web{tag}",
                f"web process{tag} resident after the pages",
                web["memory_held_mb"],
                "MB",
                "{:.0f}",
            )
        if "rank" in stages:
            rank = child(env, "rank")
            show(
                "rank",
                f"ranking a day's {rank['papers']:,} papers for {rank['members']} members",
                rank["seconds"],
                "s",
                "{:.2f}",
            )
        if "digest" in stages:
            digest = child(env, "digest")
            show("digest", "digest per member", digest["ms_per_member"], "ms", "{:.0f}")
            print(f"  digest queries per member: {digest['queries']}")
        if "bounds" in stages:
            bounds = child(env, "bounds")
            base, ours = bounds["baseline"], bounds["bounded"]
            for key, label in (
                ("first", "inbox ranking, first load"),
                ("warm", "inbox ranking, next load"),
                ("after_rating", "inbox ranking, load after a rating"),
                ("day_per_member", "a day's papers ranked, per member"),
            ):
                print(
                    f"  {label} with {bounds['ratings']:,} team ratings: "
                    f"{ours[key] * 1000:.0f} ms, every rating read {base[key] * 1000:.0f} ms "
                    f"(ratio {ours[key] / base[key]:.3f})"
                )
        print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--stage":
        run_stage(sys.argv[2:])
    else:
        main()
