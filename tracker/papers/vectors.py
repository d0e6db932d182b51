"""Embeddings in a pgvector column, where PostgreSQL has the `vector` extension.

Every vector is stored as float32 bytes in Embedding (all databases); on PostgreSQL with
pgvector it is also written to EmbeddingVector, whose per-model HNSW indexes answer
nearest-neighbour queries in the database (tracker.search.backends), so that no web
process holds vectors. An install that had vectors before the column existed copies them
over in batches (embedding_vectors_copy, resumable); search reads the column only once
that copy is finished (vector_store_ready).

Each model gets a partial HNSW index on its rows, over a cast of the column to that
model's dimension in half precision (halfvec): half the index's size and memory, with the
recall of the full-precision index (bench/vector_store.py measures both). Queries must order
by the same expression (indexed_vector) for PostgreSQL to use the index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Func, IntegerField, OuterRef, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from pgvector.django import HalfVectorField

from tracker.papers.models import Embedding, EmbeddingVector, EmbeddingVectorCopy

logger = logging.getLogger(__name__)

# HNSW build parameters: pgvector's defaults (m=16, ef_construction=64), which give
# recall@10 above 0.99 on 384-d sentence vectors at 100k (bench/vector_store.py).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
# Memory for building one index, a ceiling rather than an allocation: the graph of a
# million 384-d half-precision vectors takes about 1.4 GB, and a graph that outgrows it
# goes on building on disk, several times slower. A small install's build takes what it
# needs (about 150 MB at 100k).
BUILD_MEMORY = "2GB"
# Rows per batch when copying an install's vectors; one transaction each.
COPY_BATCH = 2000
# Whether the copy is finished changes once per install; a short memory spares every
# search a query.
READY_TTL = 30.0


def vector_table_exists() -> bool:
    """Whether this database has the pgvector column (migration 0013 made it)."""
    if connection.vendor != "postgresql":
        return False
    key = _database_key()
    known = _table_exists.get(key)
    if known is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('papers_embeddingvector') IS NOT NULL")
            known = bool(cursor.fetchone()[0])
        _table_exists[key] = known
    return known


_table_exists: dict[str, bool] = {}
_ready: dict[str, tuple[float, bool]] = {}
_indexes_made: set[tuple[str, str, int]] = set()
# The `vector` type as psycopg knows it (its oid), per database.
_vector_type: dict[str, Any] = {}


def _database_key() -> str:
    settings = connection.settings_dict
    return f"{settings.get('HOST')}:{settings.get('PORT')}/{settings.get('NAME')}"


def vector_store_ready() -> bool:
    """Whether search may answer from the pgvector column: it exists, and no copy of
    older vectors into it is still under way (and settings.VECTOR_STORE allows it)."""
    if settings.VECTOR_STORE == "in-process" or not vector_table_exists():
        return False
    key = _database_key()
    remembered = _ready.get(key)
    if remembered and time.monotonic() - remembered[0] < READY_TTL:
        return remembered[1]
    ready = not EmbeddingVectorCopy.objects.filter(finished_at__isnull=True).exists()
    _ready[key] = (time.monotonic(), ready)
    return ready


def vector_store_forget() -> None:
    """Forget what this process knew of the column (after a migration, and in tests)."""
    _table_exists.clear()
    _vector_type.clear()
    _ready.clear()
    _indexes_made.clear()


def indexed_vector(field: str, dimension: int) -> Cast:
    """The expression each model's HNSW index is built on, with `field` the path to an
    EmbeddingVector's vector ("vector" on EmbeddingVector, "vectors__vector" on Paper).
    A query ordered by its cosine distance to a vector of that dimension uses the index."""
    return Cast(F(field), HalfVectorField(dimensions=dimension))


def of_dimension(queryset: QuerySet[Any], field: str, dimension: int) -> QuerySet[Any]:
    """`queryset` narrowed to vectors of one dimension, as each index's predicate is (a
    model's rows all have one, but the cast of any other would fail the query)."""
    return queryset.alias(
        _dimension=Func(F(field), function="vector_dims", output_field=IntegerField())
    ).filter(_dimension=dimension)


def index_name(model_name: str, dimension: int) -> str:
    digest = hashlib.blake2b(model_name.encode(), digest_size=6).hexdigest()
    return f"papers_vec_hnsw_{digest}_{dimension}"


def embedding_vector_index_ensure(model_name: str, dimension: int) -> bool:
    """Make the HNSW index of one model's vectors unless it exists; whether it was made."""
    key = (_database_key(), model_name, dimension)
    if key in _indexes_made:
        return False
    name = index_name(model_name, dimension)
    made = False
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NULL", [name])
        if cursor.fetchone()[0]:
            cursor.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
            # DDL takes no parameters: the model name is quoted as a literal by the driver.
            quoted = connection.ops.quote_name(name)
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {quoted} ON papers_embeddingvector "
                f"USING hnsw ((vector::halfvec({int(dimension)})) halfvec_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
                f"WHERE model_name = {_sql_literal(cursor, model_name)} "
                f"AND vector_dims(vector) = {int(dimension)}"
            )
            made = True
    _indexes_made.add(key)
    return made


def _sql_literal(cursor: Any, value: str) -> str:
    from psycopg import sql

    return sql.Literal(value).as_string(cursor.connection)


def embedding_vectors_write(embeddings: QuerySet[Embedding], *, index: bool = True) -> int:
    """Write these embeddings' vectors to the pgvector column; one already there stays.
    With `index`, each model met gets its HNSW index first (a copy of a whole install
    builds them at the end instead, which is several times faster). Returns how many rows
    were offered. A vector that cannot be read (wrong length) is skipped and logged."""
    rows: list[tuple[int, int, str, np.ndarray]] = []
    for embedding_id, paper_id, model_name, dimension, raw in embeddings.values_list(
        "id", "paper_id", "model_name", "dimension", "vector"
    ):
        vector = np.frombuffer(bytes(raw), dtype="<f4")
        if vector.shape[0] != dimension or not np.isfinite(vector).all():
            logger.warning("pgvector: embedding %s has an unreadable vector; skipped", embedding_id)
            continue
        rows.append((embedding_id, paper_id, model_name, vector))
    if index:
        for model_name, dimension in {(r[2], len(r[3])) for r in rows}:
            embedding_vector_index_ensure(model_name, dimension)
    if rows:
        _copy_in(rows)
    return len(rows)


# Rows arrive through a temporary table: COPY cannot skip a row that is already there, the
# INSERT from it can. Emptied at each commit; one per database session.
_INCOMING = "papers_embeddingvector_incoming"


def _copy_in(rows: list[tuple[int, int, str, np.ndarray]]) -> None:
    """Write rows to the column with binary COPY; one already there stays. The ORM's
    INSERT sent each vector as text (about 400 vectors/s); binary COPY sends the floats
    as they are, through pgvector's own psycopg adapter (registered on this cursor only,
    so the connection's other queries read vectors as before)."""
    from pgvector.psycopg.vector import register_vector_info
    from psycopg.types import TypeInfo

    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own, under Django's wrapper
        key = _database_key()
        info = _vector_type.get(key)
        if info is None:
            info = _vector_type[key] = TypeInfo.fetch(cursor.connection, "vector")
        register_vector_info(cursor, info)
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} "
            "(embedding_id bigint, paper_id bigint, model_name varchar(200), vector vector) "
            "ON COMMIT DELETE ROWS"
        )
        # A caller's own transaction may write twice before its commit empties the table.
        cursor.execute(f"TRUNCATE {_INCOMING}")
        with cursor.copy(
            f"COPY {_INCOMING} (embedding_id, paper_id, model_name, vector) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "int8", "varchar", "vector"])
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO papers_embeddingvector (embedding_id, paper_id, model_name, vector) "
            "SELECT embedding_id, paper_id, model_name, vector "
            "FROM papers_embeddingvector_incoming ON CONFLICT DO NOTHING"
        )


def embeddings_stored_write(model_name: str, paper_ids: list[int], *, index: bool = True) -> None:
    """The second write of new embeddings, into the column, once it exists."""
    if vector_table_exists():
        embedding_vectors_write(
            Embedding.objects.filter(model_name=model_name, paper_id__in=paper_ids), index=index
        )


@dataclass(frozen=True)
class CopyProgress:
    copied: int
    finished: bool
    copied_upto: int


def embedding_vectors_copy(
    batch_size: int = COPY_BATCH,
    max_batches: int | None = None,
    report: Callable[[CopyProgress], None] | None = None,
) -> CopyProgress:
    """Copy the install's stored vectors into the pgvector column, in embedding id order,
    one transaction per batch; the last id copied is kept with each batch, so a copy that
    stopped (or was stopped after `max_batches`) goes on from there when run again. Then
    vectors committed late under older ids are swept up, each model's index is built, and
    the copy is marked finished: search switches to the column."""
    if not vector_table_exists():
        return CopyProgress(0, False, 0)
    copy = EmbeddingVectorCopy.objects.filter(finished_at__isnull=True).order_by("id").first()
    if copy is None:
        return CopyProgress(0, True, 0)
    copied = 0
    batches = 0
    while True:
        if max_batches is not None and batches >= max_batches:
            return CopyProgress(copied, False, copy.copied_upto)
        with transaction.atomic():
            # One copier at a time: a second waits here, then goes on from the first's end.
            copy = EmbeddingVectorCopy.objects.select_for_update().get(pk=copy.pk)
            ids = list(
                Embedding.objects.filter(id__gt=copy.copied_upto)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            copied += embedding_vectors_write(Embedding.objects.filter(id__in=ids), index=False)
            copy.copied_upto = ids[-1]
            copy.save(update_fields=["copied_upto"])
        batches += 1
        if report is not None:
            report(CopyProgress(copied, False, copy.copied_upto))
    missing = Embedding.objects.filter(
        ~Exists(EmbeddingVector.objects.filter(embedding_id=OuterRef("pk")))
    )
    while ids := list(missing.order_by("id").values_list("id", flat=True)[:batch_size]):
        offered = embedding_vectors_write(Embedding.objects.filter(id__in=ids), index=False)
        copied += offered
        if offered < len(ids):
            break  # what is left cannot be read; it was logged
    for model_name, dimension in (
        Embedding.objects.values_list("model_name", "dimension").distinct().order_by()
    ):
        embedding_vector_index_ensure(model_name, dimension)
    copy.finished_at = timezone.now()
    copy.save(update_fields=["finished_at"])
    _ready.clear()
    return CopyProgress(copied, True, copy.copied_upto)


# A primary category holding at least this many of a model's vectors gets an HNSW index of
# its own (category_indexes_sync). A filter on a broad category is answered by the graph,
# and the model's one graph serves it badly where the category is rare near the question:
# the walk passes over every other paper there (at a million papers, a filter on a
# category of half of them walked tens of thousands of rows for some questions, p95 over
# 100 ms). In a graph of that category alone the walk finds its rows at once. Narrower
# filters are answered exactly (tracker.search.backends.EXACT_BELOW, twice this), so a
# category the planner sends to the graph has its own one, even where its estimate is off
# by half.
CATEGORY_INDEX_ROWS = 10_000
# An index whose category has shrunk below this is dropped (a quarter of the threshold,
# so that a category near it is not built and dropped night after night).
CATEGORY_INDEX_DROP_BELOW = CATEGORY_INDEX_ROWS // 4
_CATEGORY_INDEX_PREFIX = "papers_veccat_"
# One sync at a time per database (a session advisory lock; the number is this feature's).
_CATEGORY_INDEX_LOCK = 7_261_001


def category_index_name(model_name: str, dimension: int, category: str) -> str:
    model = hashlib.blake2b(model_name.encode(), digest_size=6).hexdigest()
    facet = hashlib.blake2b(category.encode(), digest_size=6).hexdigest()
    return f"{_CATEGORY_INDEX_PREFIX}{model}_{int(dimension)}_{facet}"


@dataclass(frozen=True)
class CategoryIndexes:
    """What a sync did: the (model, category) pairs whose index it built and dropped, and
    how many indexes it left as they were; `busy`: another sync was running, and this one
    did nothing."""

    made: list[tuple[str, str]]
    dropped: list[tuple[str, str]]
    kept: int
    busy: bool = False


def category_indexes_sync(
    min_rows: int = CATEGORY_INDEX_ROWS,
    drop_below: int = CATEGORY_INDEX_DROP_BELOW,
    report: Callable[[str], None] | None = None,
) -> CategoryIndexes:
    """Give each primary category with at least `min_rows` of a model's vectors its own
    partial HNSW index (the model's index's expression and predicate, and the category),
    and drop the indexes of categories that fell below `drop_below`. The planner picks a
    category's index for a query filtered to it on its own: nothing else changes.

    Outside a transaction the indexes are built and dropped CONCURRENTLY, so harvests
    and searches go on meanwhile; one left invalid by a build that failed is built
    again. Another sync running at the same time makes this one return at once. Nightly
    (workers.tasks.sync_vector_indexes_task), and `manage.py sync_vector_indexes`."""
    if not vector_table_exists():
        return CategoryIndexes([], [], 0)
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
    made: list[tuple[str, str]] = []
    dropped: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_CATEGORY_INDEX_LOCK])
        if not cursor.fetchone()[0]:
            return CategoryIndexes([], [], 0, busy=True)
        try:
            cursor.execute(
                "SELECT model_name, vector_dims(vector), primary_category, count(*) "
                "FROM papers_embeddingvector WHERE primary_category <> '' GROUP BY 1, 2, 3"
            )
            counts = {(m, int(d), c): int(n) for m, d, c, n in cursor.fetchall()}
            cursor.execute(
                "SELECT c.relname, i.indisvalid, obj_description(c.oid, 'pg_class') "
                "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'papers_embeddingvector'::regclass "
                "AND starts_with(c.relname, %s)",
                [_CATEGORY_INDEX_PREFIX],
            )
            existing = {name: (valid, about) for name, valid, about in cursor.fetchall()}
            names = {category_index_name(*key): key for key in counts}
            for name, (valid, about) in sorted(existing.items()):
                key = names.get(name)
                rows = counts[key] if key is not None else 0
                if valid and rows >= drop_below:
                    continue
                cursor.execute(f"DROP INDEX {concurrently}IF EXISTS {_quoted(name)}")
                if valid:
                    # Its model and category, from the comment its build left (the name
                    # is a digest of them; a category may have no vector left at all).
                    model_name, category = json.loads(about) if about else ("", name)
                    dropped.append((model_name, category))
                    if report:
                        report(f"dropped the index of {category} ({model_name}): {rows} vectors")
                del existing[name]
            for key, rows in sorted(counts.items()):
                name = category_index_name(*key)
                if rows < min_rows or name in existing:
                    continue
                model_name, dimension, category = key
                started = time.monotonic()
                _category_index_build(cursor, name, model_name, dimension, category, concurrently)
                made.append((model_name, category))
                if report:
                    report(
                        f"built the index of {category} ({model_name}): {rows} vectors "
                        f"in {time.monotonic() - started:.0f} s"
                    )
            if made:
                # The planner weighs a new index by the table's statistics: fresh ones,
                # so that a category grown since the last ANALYZE is costed as it is.
                cursor.execute("ANALYZE papers_embeddingvector")
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_CATEGORY_INDEX_LOCK])
    return CategoryIndexes(made, dropped, len(existing))


def _category_index_build(
    cursor: Any, name: str, model_name: str, dimension: int, category: str, concurrently: str
) -> None:
    # A session setting, where the build cannot be inside a transaction; reset after.
    cursor.execute(f"SET maintenance_work_mem = '{BUILD_MEMORY}'")
    try:
        cursor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {_quoted(name)} "
            f"ON papers_embeddingvector "
            f"USING hnsw ((vector::halfvec({int(dimension)})) halfvec_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
            f"WHERE model_name = {_sql_literal(cursor, model_name)} "
            f"AND vector_dims(vector) = {int(dimension)} "
            f"AND primary_category = {_sql_literal(cursor, category)}"
        )
        about = _sql_literal(cursor, json.dumps([model_name, category]))
        cursor.execute(f"COMMENT ON INDEX {_quoted(name)} IS {about}")
    finally:
        cursor.execute("RESET maintenance_work_mem")


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)
