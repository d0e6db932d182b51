"""The vector store backends: pgvector in the database, and the copy of an install's vectors.

The pgvector tests run where the database has the `vector` extension (`make
test-pgvector`); elsewhere they skip, and the tests of what such a database must not
change run instead.
"""

from __future__ import annotations

import importlib
import io
import re
import threading
from datetime import date
from types import SimpleNamespace

import numpy as np
import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests.factories import LabReportFactory, PaperFactory
from tracker.core.db import planner_settings
from tracker.papers import vectors
from tracker.papers.embeddings import embeddings_store, stored_model_name
from tracker.papers.merge import paper_merge, paper_merge_undo
from tracker.papers.models import Embedding, EmbeddingVector, EmbeddingVectorCopy, Paper
from tracker.search import backends, fusion
from tracker.search import index as in_process
from tracker.search.backends import InProcessStore, PgvectorStore, similar_papers, vector_store
from tracker.search.filters import SearchFilters
from tracker.search.fusion import search, search_caches_forget
from tracker.search.keyword import keyword_search, keyword_search_scored
from workers.tasks import sync_vector_indexes_task

pytestmark = pytest.mark.django_db

migration = importlib.import_module("tracker.papers.migrations.0013_embedding_vectors")
facts_migration = importlib.import_module("tracker.papers.migrations.0015_embedding_vector_filters")


@pytest.fixture
def pgvector() -> None:
    if not vectors.vector_table_exists():
        pytest.skip("this database has no pgvector (make test-pgvector runs these)")


def unit_vectors(count: int, dimension: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Clustered, as sentence vectors are: a few centres plus noise.
    centres = rng.normal(size=(8, dimension))
    found = centres[rng.integers(0, 8, count)] + 0.6 * rng.normal(size=(count, dimension))
    return (found / np.linalg.norm(found, axis=1, keepdims=True)).astype("<f4")


def exact_nearest(ids: list[int], matrix: np.ndarray, vector: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(matrix @ vector), kind="stable")[:k]
    return [ids[i] for i in order]


def test_without_pgvector_the_install_is_as_before() -> None:
    """SQLite and a PostgreSQL without the extension: no column, no copy, and the
    in-process index answers."""
    if vectors.vector_table_exists():
        pytest.skip("this database has pgvector")
    paper = PaperFactory()
    embeddings_store(stored_model_name(), [paper.pk], np.ones((1, 4), dtype="<f4"))
    assert vector_store().name == InProcessStore.name
    assert not EmbeddingVectorCopy.objects.exists()
    with pytest.raises(CommandError, match="no pgvector column"):
        call_command("copy_embedding_vectors")
    with pytest.raises(CommandError, match="no pgvector column"):
        call_command("sync_vector_indexes")
    assert vectors.category_indexes_sync(min_rows=1) == vectors.CategoryIndexes([], [], 0)
    assert sync_vector_indexes_task() == {"made": 0, "dropped": 0, "kept": 0, "busy": 0}
    # The migrations' steps do nothing here, even with vectors stored.
    migration.vector_table_create(django_apps, SimpleNamespace(connection=connection))
    facts_migration.facts_add(django_apps, SimpleNamespace(connection=connection))
    assert not vectors.vector_table_exists() and not EmbeddingVectorCopy.objects.exists()


@pytest.mark.parametrize(
    "arguments",
    [["--min-rows", "0"], ["--min-rows", "10", "--drop-below", "11"], ["--drop-below", "-1"]],
)
def test_the_index_sync_refuses_bounds_that_make_no_sense(arguments: list[str]) -> None:
    """Refused with one plain message before anything is read or built, on any database."""
    with pytest.raises(CommandError, match="--min-rows must be at least 1"):
        call_command("sync_vector_indexes", *arguments)


def test_database_ranks_within_filters_and_still_returns_k_rows(pgvector) -> None:  # type: ignore[no-untyped-def]
    """Nearest papers within date, kind and visibility filters come from the HNSW index,
    a narrow filter still fills the list (iterative scan), and they are the exact ones."""
    papers = [
        (LabReportFactory if i % 20 == 0 else PaperFactory)(
            published_at=f"2025-01-{1 + i % 28:02d}T12:00:00Z"
        )
        for i in range(400)
    ]
    matrix = unit_vectors(400, 32, seed=1)
    model = stored_model_name()
    embeddings_store(model, [p.pk for p in papers], matrix)
    Paper.objects.filter(pk=papers[40].pk).update(hidden=True)
    store = vector_store()
    assert store.name == PgvectorStore.name
    question = matrix[40]

    for filters in [
        SearchFilters(),
        SearchFilters(kind="lab_report"),
        SearchFilters(date_from=date(2025, 1, 10), date_to=date(2025, 1, 12)),
    ]:
        allowed = filters.apply(Paper.objects.visible())
        found = store.nearest(model, question, filters, 10)
        allowed_ids = set(allowed.values_list("pk", flat=True))
        rows = [i for i, p in enumerate(papers) if p.pk in allowed_ids]
        exact = exact_nearest([papers[i].pk for i in rows], matrix[rows], question, 10)
        assert len(found) == 10
        assert [pk for pk, _ in found] == exact  # 400 rows: the graph finds every one
        assert papers[40].pk not in dict(found)
        cosines = [c for _, c in found]
        assert cosines == sorted(cosines, reverse=True)
        best = papers.index(Paper.objects.get(pk=found[0][0]))
        # Cosines of the half-precision index: within a few thousandths of the exact ones.
        assert cosines[0] == pytest.approx(float(matrix[best] @ question), abs=5e-3)


def test_the_query_is_answered_by_the_models_hnsw_index_without_a_paper_lookup(pgvector) -> None:  # type: ignore[no-untyped-def]
    """The filters (visibility, dates, category, kind) are tested on the row the walk has
    in hand: the query reads the model's index and no paper row."""
    papers = PaperFactory.create_batch(20)
    model = stored_model_name()
    embeddings_store(model, [p.pk for p in papers], unit_vectors(20, 16, seed=2))
    store = PgvectorStore()
    filters = SearchFilters(
        category="cs.CL", kind="arxiv", date_from=date(2025, 1, 1), date_to=date(2025, 6, 1)
    )
    query = store._query(backends._vectors_within(model, 16, filters), unit_vectors(1, 16, 3)[0], 5)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert vectors.index_name(model, 16) in plan
    assert "papers_paper" not in plan, plan


@pytest.mark.parametrize("exact_below", [0, backends.EXACT_BELOW], ids=["graph", "exact"])
def test_a_category_rare_near_the_question_still_fills_the_list(
    pgvector, monkeypatch, exact_below: int
) -> None:  # type: ignore[no-untyped-def]
    """Near the question nearly every paper is of one category; the few of another lie
    far off. Filtered to those, the walk goes on past its candidates (iterative scan) and
    returns k rows, the nearest of that category; so does the exact answer a filter this
    narrow gets unless the graph is made to answer it."""
    monkeypatch.setattr(backends, "EXACT_BELOW", exact_below)
    rng = np.random.default_rng(11)
    centre = unit_vectors(1, 24, seed=12)[0]
    near = centre + 0.25 * rng.normal(size=(600, 24))
    far = -centre + 0.6 * rng.normal(size=(30, 24))
    matrix = np.vstack([near, far])
    matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype("<f4")
    papers = [PaperFactory(primary_category="cs.CL") for _ in range(600)]
    papers += [PaperFactory(primary_category="cs.CV") for _ in range(30)]
    model = stored_model_name()
    embeddings_store(model, [p.pk for p in papers], matrix)
    with connection.cursor() as cursor:  # the graph's walk, not an exact sort
        cursor.execute("SET LOCAL enable_seqscan = off")
    found = PgvectorStore().nearest(model, centre, SearchFilters(category="cs.CV"), 10)
    vision = [p.pk for p in papers[600:]]
    assert [pk for pk, _ in found] == exact_nearest(vision, matrix[600:], centre, 10)


def _plan(model: str, dimension: int, filters: SearchFilters, vector: np.ndarray) -> str:
    """The plan of the walk nearest() asks for a broad filter (no sort), with sequential
    scans ruled out (a table this small would otherwise be read whole)."""
    query = PgvectorStore()._query(backends._vectors_within(model, dimension, filters), vector, 5)
    with planner_settings() as (cursor, settings):
        settings({"enable_seqscan": "off", "enable_sort": "off"})
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_broad_category_gets_a_graph_of_its_own_and_loses_it_when_it_shrinks(pgvector) -> None:  # type: ignore[no-untyped-def]
    """A category with enough vectors gets its own HNSW index, which a search filtered to
    it walks (and no other does); a category that shrinks loses it, one that grows gets
    one, and a sync with nothing to do changes nothing."""
    papers = [PaperFactory(primary_category="cs.CV") for _ in range(30)]
    papers += [PaperFactory(primary_category="cs.CL") for _ in range(6)]
    papers += [LabReportFactory(primary_category="") for _ in range(25)]
    model = stored_model_name()
    matrix = unit_vectors(len(papers), 16, seed=21)
    embeddings_store(model, [p.pk for p in papers], matrix)
    question = unit_vectors(1, 16, seed=22)[0]

    done = vectors.category_indexes_sync(min_rows=20, drop_below=5)
    assert (done.made, done.dropped, done.kept) == ([(model, "cs.CV")], [], 0)
    vision = vectors.category_index_name(model, 16, "cs.CV")
    assert vision in _plan(model, 16, SearchFilters(category="cs.CV"), question)
    language = _plan(model, 16, SearchFilters(category="cs.CL"), question)
    assert vision not in language and vectors.index_name(model, 16) in language
    assert vision not in _plan(model, 16, SearchFilters(), question)
    found = PgvectorStore().nearest(model, question, SearchFilters(category="cs.CV"), 10)
    assert [pk for pk, _ in found] == exact_nearest(
        [p.pk for p in papers[:30]], matrix[:30], question, 10
    )
    # The walk's settings held for its query alone, in this test's transaction too.
    PgvectorStore().nearest(model, question, SearchFilters(category="cs.CL"), 10)  # exact
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_indexscan'), current_setting('enable_sort'), "
            "current_setting('hnsw.ef_search')"
        )
        assert cursor.fetchone() == ("on", "on", "40")

    again = vectors.category_indexes_sync(min_rows=20, drop_below=5)
    assert (again.made, again.dropped, again.kept) == ([], [], 1)

    # 26 papers move on to cs.LG: 4 are left in cs.CV, below the line to keep its index.
    Paper.objects.filter(pk__in=[p.pk for p in papers[4:30]]).update(primary_category="cs.LG")
    moved = vectors.category_indexes_sync(min_rows=20, drop_below=5)
    assert (moved.made, moved.dropped, moved.kept) == ([(model, "cs.LG")], [(model, "cs.CV")], 0)
    assert vision not in _plan(model, 16, SearchFilters(category="cs.CV"), question)
    learning = vectors.category_index_name(model, 16, "cs.LG")
    assert learning in _plan(model, 16, SearchFilters(category="cs.LG"), question)
    # A category with no vector left loses its index too, and the sync names it.
    Paper.objects.filter(primary_category="cs.LG").update(primary_category="cs.RO")
    gone = vectors.category_indexes_sync(min_rows=40, drop_below=5)
    assert (gone.made, gone.dropped, gone.kept) == ([], [(model, "cs.LG")], 0)
    # The nightly task at its own line: nothing here comes near it.
    Paper.objects.filter(primary_category="cs.RO").update(primary_category="cs.LG")
    vectors.category_indexes_sync(min_rows=20, drop_below=5)
    assert sync_vector_indexes_task() == {"made": 0, "dropped": 1, "kept": 0, "busy": 0}


def test_an_index_left_invalid_is_built_again_and_one_sync_runs_at_a_time(pgvector) -> None:  # type: ignore[no-untyped-def]
    """A build that failed half-way (CONCURRENTLY leaves an invalid index behind) is
    dropped and built again; while another sync holds the lock, a sync does nothing and
    says so."""
    papers = PaperFactory.create_batch(12, primary_category="cs.RO")
    model = stored_model_name()
    embeddings_store(model, [p.pk for p in papers], unit_vectors(12, 16, seed=23))
    name = vectors.category_index_name(model, 16, "cs.RO")
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE INDEX "{name}" ON papers_embeddingvector (paper_id)')
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [name]
        )
    done = vectors.category_indexes_sync(min_rows=10, drop_below=2)
    assert (done.made, done.dropped, done.kept) == ([(model, "cs.RO")], [], 0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indexrelid = %s::regclass",
            [name],
        )
        valid, definition = cursor.fetchone()
    assert valid and "hnsw" in definition and "cs.RO" in definition

    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [vectors._CATEGORY_INDEX_LOCK])
            busy = vectors.category_indexes_sync(min_rows=10, drop_below=2)
            assert busy.busy and (busy.made, busy.dropped) == ([], [])
            cursor.execute("SELECT pg_advisory_unlock(%s)", [vectors._CATEGORY_INDEX_LOCK])
    finally:
        other.close()
    out = io.StringIO()
    call_command("sync_vector_indexes", "--min-rows", "10", stdout=out)
    assert "0 built, 0 dropped, 1 kept" in out.getvalue()


def test_the_vectors_filter_facts_follow_their_papers(pgvector) -> None:  # type: ignore[no-untyped-def]
    """A vector gets its paper's date, category, kind and visibility when written, and a
    change to the paper (an edit, a hide, a merge and its undo) reaches its row at once:
    the filtered walk reads them there."""
    papers = [
        PaperFactory(primary_category="cs.CL", published_at="2025-01-10T12:00:00Z")
        for _ in range(30)
    ]
    report = LabReportFactory(primary_category="cs.CL", published_at="2025-02-10T12:00:00Z")
    papers.append(report)
    model = stored_model_name()
    matrix = unit_vectors(31, 16, seed=13)
    embeddings_store(model, [p.pk for p in papers], matrix)
    store = PgvectorStore()

    def found(**filters) -> set[int]:  # type: ignore[no-untyped-def]
        return {pk for pk, _ in store.nearest(model, matrix[0], SearchFilters(**filters), 40)}

    every = {p.pk for p in papers}
    assert found() == every
    assert found(kind="lab_report") == found(date_from=date(2025, 2, 1)) == {report.pk}
    assert found(category="cs.CV") == set()

    edited = papers[1]
    edited.primary_category = "cs.CV"
    edited.published_at = "2025-03-01T12:00:00Z"
    edited.save()
    assert found(category="cs.CV") == found(date_from=date(2025, 2, 15)) == {edited.pk}
    moved = papers[5]
    Paper.objects.filter(pk=moved.pk).update(kind="lab_report", primary_category="cs.LG")
    assert found(kind="lab_report") == {report.pk, moved.pk}
    assert found(category="cs.LG") == {moved.pk}

    hidden = papers[2]
    hidden.hidden = True
    hidden.save()
    assert hidden.pk not in found()
    Paper.objects.filter(pk=hidden.pk).update(hidden=False)
    assert found() == every

    survivor, merged = papers[3], papers[4]
    merge = paper_merge(survivor, merged, by=None)
    assert found() == every - {merged.pk}
    paper_merge_undo(merge, by=None)
    assert found() == every


def test_the_migration_fills_the_facts_of_vectors_already_there(pgvector, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Rows written before the facts existed get them from their papers, in batches, and
    each model's HNSW index is there again afterwards, also when the fill stopped before
    making it; running it again does nothing."""
    papers = [
        (LabReportFactory if i % 5 == 0 else PaperFactory)(
            primary_category=("cs.CL", "cs.CV")[i % 2],
            published_at=None if i % 7 == 0 else f"2025-01-{1 + i % 28:02d}T12:00:00Z",
        )
        for i in range(60)
    ]
    model = stored_model_name()
    matrix = unit_vectors(60, 16, seed=14)
    embeddings_store(model, [p.pk for p in papers], matrix)
    Paper.objects.filter(pk=papers[1].pk).update(hidden=True)
    survivor, merged = papers[2], papers[3]
    paper_merge(survivor, merged, by=None)
    with connection.cursor() as cursor:  # as 0015 finds an install's rows
        cursor.execute(
            "UPDATE papers_embeddingvector SET published_at = NULL, primary_category = NULL, "
            "kind = NULL, visible = NULL"
        )
    assert not PgvectorStore().nearest(model, matrix[0], SearchFilters(), 10)

    def graph_exists() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [vectors.index_name(model, 16)])
            return bool(cursor.fetchone()[0])

    # Stopped after the rows, before the index is made again: run again, it is made.
    rebuild = facts_migration.graphs_rebuild
    monkeypatch.setattr(facts_migration, "graphs_rebuild", lambda connection: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        facts_migration.facts_fill(connection, batch_size=7)
    assert not graph_exists()
    monkeypatch.setattr(facts_migration, "graphs_rebuild", rebuild)
    assert facts_migration.facts_fill(connection, batch_size=7) == 0
    assert graph_exists()
    facts = {
        row[0]: row[1:]
        for row in EmbeddingVector.objects.values_list(
            "paper_id", "published_at", "primary_category", "kind", "visible"
        )
    }
    visible = set(Paper.objects.visible().values_list("pk", flat=True))
    assert facts == {
        p.pk: (p.published_at, p.primary_category, p.kind, p.pk in visible)
        for p in Paper.objects.filter(pk__in=[p.pk for p in papers])
    }
    assert visible == {p.pk for p in papers} - {papers[1].pk, merged.pk}
    filters = SearchFilters(category="cs.CV", kind="arxiv", date_from=date(2025, 1, 5))
    allowed = filters.apply(Paper.objects.visible())
    rows = [i for i, p in enumerate(papers) if allowed.filter(pk=p.pk).exists()]
    found = PgvectorStore().nearest(model, matrix[0], filters, 10)
    assert [pk for pk, _ in found] == exact_nearest(
        [papers[i].pk for i in rows], matrix[rows], matrix[0], 10
    )
    assert facts_migration.facts_fill(connection) == 0


def test_keyword_matches_the_walk_missed_are_ranked_exactly(pgvector, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The search box's keyword matches are scored by meaning in the keyword side's own
    ranking query: one that the graph's walk missed comes back at its exact rank; one
    outside the filters, too far for the box's first rows, or not yet embedded does not."""
    papers = [
        (LabReportFactory if i % 4 == 0 else PaperFactory)(published_at="2025-01-01T12:00:00Z")
        for i in range(80)
    ]
    matrix = unit_vectors(80, 16, seed=4)
    model = stored_model_name()
    embeddings_store(model, [p.pk for p in papers], matrix)
    unembedded = LabReportFactory(published_at="2025-01-01T12:00:00Z")
    question = matrix[0]
    lab_reports = SearchFilters(kind="lab_report")
    rows = [i for i in range(80) if i % 4 == 0]
    exact = exact_nearest([papers[i].pk for i in rows], matrix[rows], question, len(rows))
    missed, far = exact[2], exact[-1]
    outside = papers[1].pk  # an arXiv paper: the filter leaves it out
    for pk in (missed, far, outside, unembedded.pk):
        Paper.objects.filter(pk=pk).update(title=f"Quokka burrows {pk}")
    # The graph's walk, as if it had not reached one of the nearest rows.
    nearest = PgvectorStore.nearest

    def walk(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return [row for row in nearest(self, *args, **kwargs) if row[0] != missed]

    monkeypatch.setattr(PgvectorStore, "nearest", walk)
    monkeypatch.setattr(fusion, "CANDIDATES", 5)
    monkeypatch.setattr(fusion, "query_vector", lambda name, text: question)
    store = PgvectorStore()

    within = lab_reports.apply(Paper.objects.visible())
    keyword, semantic = fusion._rankings_in_database(store, "quokka", lab_reports, within)
    assert sorted(keyword) == sorted([missed, far, unembedded.pk])
    assert [pk for pk, _ in semantic] == exact[:5]
    row = next(i for i in rows if papers[i].pk == missed)
    assert dict(semantic)[missed] == pytest.approx(float(matrix[row] @ question), abs=5e-3)


def test_the_keyword_side_scores_by_meaning_only_the_papers_it_returns(pgvector) -> None:  # type: ignore[no-untyped-def]
    """The cosines come with the keyword ranking's last query, computed after its sort and
    limit: one lookup for each paper returned, not for each match ranked."""
    papers = PaperFactory.create_batch(30, published_at="2025-01-01T12:00:00Z")
    matrix = unit_vectors(30, 16, seed=5)
    model = stored_model_name()
    embeddings_store(model, [p.pk for p in papers[:29]], matrix[:29])
    Paper.objects.filter(pk__in=[p.pk for p in papers]).update(title="Numbat burrows")
    store = PgvectorStore()
    with CaptureQueriesContext(connection) as queries:
        found = keyword_search_scored("numbat", 5, cosine=lambda: store.cosine(model, matrix[0]))
    assert [pk for pk, _ in found] == keyword_search("numbat", 5)
    row_of = {paper.pk: i for i, paper in enumerate(papers)}
    for pk, cosine in found:
        if pk == papers[29].pk:  # not yet embedded
            assert cosine is None
        else:
            assert cosine == pytest.approx(float(matrix[row_of[pk]] @ matrix[0]), abs=5e-3)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {queries[-1]['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "SubPlan" in plan
    assert re.findall(r"loops=(\d+)", plan.split("SubPlan")[1]) == ["5", "5"], plan


@pytest.mark.django_db(transaction=True)
def test_the_walk_runs_beside_the_keyword_side_on_a_connection_of_its_own(  # type: ignore[no-untyped-def]
    pgvector, monkeypatch
) -> None:
    """Outside a transaction the box's two sides wait on the database at once: the walk
    on a thread and connection of its own. The box finds what it finds when the two run
    one after the other (inside a transaction, where another connection would not see
    its rows), and a walk's connection that the server dropped is replaced."""
    papers = PaperFactory.create_batch(60, published_at="2025-01-01T12:00:00Z")
    matrix = unit_vectors(60, 16, seed=7)
    embeddings_store(stored_model_name(), [p.pk for p in papers], matrix)
    monkeypatch.setattr(fusion, "query_vector", lambda name, text: matrix[3])
    backends_of: dict[str, set[tuple[str, int]]] = {"walk": set(), "keyword": set()}

    def backend() -> tuple[str, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return threading.current_thread().name, cursor.fetchone()[0]

    nearest, keyword_search_scored = PgvectorStore.nearest, fusion.keyword_search_scored

    def walked(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        backends_of["walk"].add(backend())
        return nearest(self, *args, **kwargs)

    def matched(*args, **kwargs):  # type: ignore[no-untyped-def]
        backends_of["keyword"].add(backend())
        return keyword_search_scored(*args, **kwargs)

    monkeypatch.setattr(PgvectorStore, "nearest", walked)
    monkeypatch.setattr(fusion, "keyword_search_scored", matched)
    question = papers[3].title
    found = [(hit.paper.pk, hit.keyword_rank, hit.semantic_rank) for hit in search(question)]
    [(walk_thread, walk_pid)] = backends_of["walk"]
    [(keyword_thread, keyword_pid)] = backends_of["keyword"]
    assert walk_thread.startswith("beside") and keyword_thread == threading.main_thread().name
    assert walk_pid != keyword_pid
    assert found[0] == (papers[3].pk, 1, 1)

    backends_of["walk"].clear()
    with transaction.atomic():
        in_turn = [(hit.paper.pk, hit.keyword_rank, hit.semantic_rank) for hit in search(question)]
    assert backends_of["walk"] == backends_of["keyword"]
    assert in_turn == found

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [walk_pid])
    backends_of["walk"].clear()
    again = [(hit.paper.pk, hit.keyword_rank, hit.semantic_rank) for hit in search(question)]
    assert again == found
    [(_, new_pid)] = backends_of["walk"]
    assert new_pid != walk_pid


def test_similar_papers_from_the_database_skip_self_hidden_and_other_dimensions(pgvector) -> None:  # type: ignore[no-untyped-def]
    a, b, c, d = PaperFactory.create_batch(4)
    model = stored_model_name()
    embeddings_store(
        model,
        [a.pk, b.pk, c.pk, d.pk],
        np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0.99, 0.1411]], dtype="<f4"),
    )
    near = [(p.pk, round(s, 2)) for p, s in similar_papers(a)]
    assert near == [(d.pk, 0.99), (b.pk, 0.8), (c.pk, 0.6)]
    Paper.objects.filter(pk=d.pk).update(hidden=True)
    assert [p.pk for p, _ in similar_papers(a)] == [b.pk, c.pk]
    # A question of another dimension than the stored vectors finds nothing, quietly.
    assert PgvectorStore().nearest(model, np.ones(3, dtype="<f4"), SearchFilters(), 5) == []
    # A paper without a vector has no similar papers.
    assert similar_papers(PaperFactory()) == []


def test_an_embedding_run_loads_no_vectors_when_the_database_answers(pgvector, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    made = []
    monkeypatch.setattr(in_process, "similar_lists_warm", lambda ids: made.append(ids))
    papers = PaperFactory.create_batch(3)
    embeddings_store(stored_model_name(), [p.pk for p in papers], unit_vectors(3, 8, seed=8))
    in_process.similar_lists_after_embedding([p.pk for p in papers])
    assert made == []
    # With the in-process index chosen, the lists are made ahead as before.
    with override_settings(VECTOR_STORE="in-process"):
        in_process.similar_lists_after_embedding([p.pk for p in papers])
    assert made == [sorted(p.pk for p in papers)]


def test_a_deleted_paper_takes_its_vector_with_it(pgvector) -> None:  # type: ignore[no-untyped-def]
    a, b = PaperFactory.create_batch(2)
    embeddings_store(stored_model_name(), [a.pk, b.pk], unit_vectors(2, 8, seed=4))
    a.delete()
    assert list(EmbeddingVector.objects.values_list("paper_id", flat=True)) == [b.pk]


def populated_install(count: int) -> dict[int, np.ndarray]:
    """An install from before the column: `count` papers with vectors of two models (of
    different dimensions), and the state migration 0013 leaves it in."""
    papers = PaperFactory.create_batch(count)
    ids = [p.pk for p in papers]
    embeddings_store(stored_model_name(), ids, unit_vectors(count, 24, seed=5))
    embeddings_store("older-model", ids[: count // 2], unit_vectors(count // 2, 12, seed=6))
    EmbeddingVector.objects.all().delete()
    with connection.cursor() as cursor:  # as before 0013: no index either
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'papers_vec_hnsw_%%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    vectors.vector_store_forget()
    migration.vector_table_create(django_apps, SimpleNamespace(connection=connection))
    search_caches_forget()
    return {
        pk: np.frombuffer(bytes(raw), dtype="<f4")
        for pk, raw in Embedding.objects.values_list("pk", "vector")
    }


def assert_every_vector_copied(stored: dict[int, np.ndarray]) -> None:
    copied = dict(EmbeddingVector.objects.values_list("embedding_id", "vector"))
    assert copied.keys() == stored.keys()
    for pk, vector in stored.items():
        assert np.array_equal(np.asarray(copied[pk], dtype="<f4"), vector)


def test_an_install_copies_its_vectors_resuming_after_a_stop_and_a_failure(
    pgvector, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    stored = populated_install(300)  # 450 vectors: 300 of one model, 150 of another
    question_paper = Paper.objects.order_by("pk").first()
    assert EmbeddingVectorCopy.objects.get().finished_at is None

    def answers() -> list[int]:
        return [p.pk for p, _ in similar_papers(question_paper, limit=5)]

    before = answers()
    assert len(before) == 5 and vector_store().name == InProcessStore.name

    # Stopped after two batches: search keeps answering from the old store.
    first = vectors.embedding_vectors_copy(batch_size=100, max_batches=2)
    assert (first.copied, first.finished) == (200, False)
    vectors.vector_store_forget()
    assert vector_store().name == InProcessStore.name and answers() == before

    # A new paper embedded meanwhile is written to both stores.
    late = PaperFactory()
    embeddings_store(stored_model_name(), [late.pk], unit_vectors(1, 24, seed=7))
    stored[Embedding.objects.get(paper=late).pk] = unit_vectors(1, 24, seed=7)[0]
    assert EmbeddingVector.objects.filter(paper=late).exists()

    # A batch that fails loses nothing: its transaction is undone, the mark stays.
    real_write = vectors.embedding_vectors_write
    calls = []

    def failing(embeddings, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_write(embeddings, **kwargs)

    monkeypatch.setattr(vectors, "embedding_vectors_write", failing)
    with pytest.raises(RuntimeError):
        vectors.embedding_vectors_copy(batch_size=100)
    copy = EmbeddingVectorCopy.objects.get()
    assert copy.finished_at is None and copy.copied_upto == sorted(stored)[299]
    assert answers() == before
    monkeypatch.setattr(vectors, "embedding_vectors_write", real_write)

    # Run again (the command): it goes on from the mark and finishes.
    call_command("copy_embedding_vectors", "--batch-size", "100", stdout=(out := io.StringIO()))
    assert "finished" in out.getvalue()
    assert EmbeddingVectorCopy.objects.get().finished_at is not None
    assert_every_vector_copied(stored)
    vectors.vector_store_forget()
    assert vector_store().name == PgvectorStore.name
    assert answers()[:3] == before[:3]  # the same neighbours, now from the index
    own = stored[Embedding.objects.get(paper=question_paper, model_name=stored_model_name()).pk]
    found = vector_store().nearest(stored_model_name(), own, SearchFilters(kind="arxiv"), 5)
    assert found[0][0] == question_paper.pk and len(found) == 5

    # Running it again has nothing to do.
    call_command("copy_embedding_vectors", stdout=(again := io.StringIO()))
    assert "copied 0 vectors" in again.getvalue()


def test_a_copy_sweeps_up_vectors_committed_late_under_older_ids(pgvector) -> None:  # type: ignore[no-untyped-def]
    stored = populated_install(40)
    # The copy has passed ids that were not yet committed (ids are handed out first).
    copy = EmbeddingVectorCopy.objects.get()
    copy.copied_upto = max(stored)
    copy.save()
    progress = vectors.embedding_vectors_copy(batch_size=7)
    assert progress.finished and progress.copied == len(stored)
    assert_every_vector_copied(stored)


def test_writes_keep_a_vector_already_there_even_twice_in_one_transaction(pgvector) -> None:  # type: ignore[no-untyped-def]
    """The column is written by binary COPY through a temporary table: a vector already in
    the column stays as it is, and a second write before the commit neither loses rows nor
    writes the first write's rows again."""
    stored = populated_install(12)
    ids = sorted(stored)
    with transaction.atomic():
        first = vectors.embedding_vectors_write(Embedding.objects.filter(pk__in=ids[:8]))
        # The column's copy of one vector differs from the store: a rewrite would show.
        marker = np.full(stored[ids[0]].shape, 0.5, dtype="<f4")
        EmbeddingVector.objects.filter(embedding_id=ids[0]).update(vector=marker)
        second = vectors.embedding_vectors_write(Embedding.objects.filter(pk__in=ids[4:]))
    assert (first, second) == (8, len(ids) - 4)
    assert EmbeddingVector.objects.count() == len(ids)
    assert np.array_equal(
        np.asarray(EmbeddingVector.objects.get(embedding_id=ids[0]).vector, dtype="<f4"), marker
    )
    del stored[ids[0]]
    copied = dict(
        EmbeddingVector.objects.exclude(embedding_id=ids[0]).values_list("embedding_id", "vector")
    )
    for pk, vector in stored.items():
        assert np.array_equal(np.asarray(copied[pk], dtype="<f4"), vector)
    # The paper and model of each row came along with the vector.
    assert set(
        EmbeddingVector.objects.values_list("embedding_id", "paper_id", "model_name")
    ) == set(Embedding.objects.values_list("pk", "paper_id", "model_name"))


def test_a_fresh_install_needs_no_copy(pgvector) -> None:  # type: ignore[no-untyped-def]
    Embedding.objects.all().delete()
    EmbeddingVectorCopy.objects.all().delete()
    migration.vector_table_create(django_apps, SimpleNamespace(connection=connection))
    assert not EmbeddingVectorCopy.objects.exists()
    assert vectors.embedding_vectors_copy().finished


def test_an_unreadable_stored_vector_is_skipped_and_the_rest_copied(pgvector) -> None:  # type: ignore[no-untyped-def]
    stored = populated_install(20)
    broken = Embedding.objects.order_by("pk").first()
    assert broken is not None
    Embedding.objects.filter(pk=broken.pk).update(vector=b"\x00\x00\x80\x7f" * broken.dimension)
    progress = vectors.embedding_vectors_copy(batch_size=6)
    assert progress.finished
    del stored[broken.pk]
    assert_every_vector_copied(stored)
