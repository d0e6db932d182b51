"""Search: keyword and meaning fused into one ranking, filters, similar papers."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import client_for
from tests.corpus import load_papers, read_corpus
from tests.embedding_helpers import load_embedded, require_corpus
from tests.factories import LabReportFactory, PaperFactory, RatingFactory, ReproductionFactory
from tests.portal.helpers import session_queries
from tracker.papers import services
from tracker.papers.embeddings import embed_papers, embeddings_store, stored_model_name
from tracker.papers.models import Embedding, Paper
from tracker.reproductions.models import Status
from tracker.search import fusion as search_fusion
from tracker.search import index as search_index
from tracker.search import keyword as search_keyword
from tracker.search import semantic as search_semantic
from tracker.search.backends import InProcessStore, vector_store
from tracker.search.filters import SearchFilters
from tracker.search.fusion import search
from tracker.search.index import VectorIndex, _half_copy, similar_papers, vector_index
from tracker.search.keyword import keyword_search
from tracker.topics.models import PaperTopic, Topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_process(settings) -> None:  # type: ignore[no-untyped-def]
    """The in-process index answers, whatever the database: these tests look inside it."""
    settings.VECTOR_STORE = "in-process"


@pytest.fixture
def corpus() -> list[int]:
    require_corpus()
    ids = load_embedded()
    if connection.vendor == "postgresql":
        # The keyword side counts the papers and words from the planner's statistics:
        # those of this corpus, not of whatever an earlier test analysed (the count is
        # written in place, outside that test's transaction).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE papers_paper")
    return ids


def test_question_about_hallucination_finds_hallucination_papers_first(corpus) -> None:  # type: ignore[no-untyped-def]
    hits = search("reducing hallucination in vision-language models", limit=10)
    relevant = [h for h in hits[:5] if "hallucinat" in (h.paper.title + h.paper.abstract).lower()]
    assert len(relevant) >= 4, [h.paper.title for h in hits[:5]]
    top = hits[0].paper
    assert "hallucinat" in top.title.lower()
    assert hits[0].keyword_rank and hits[0].semantic_rank


def test_meaning_finds_papers_without_the_words(corpus) -> None:  # type: ignore[no-untyped-def]
    hits = search("teaching robots to grasp objects from camera input", limit=10)
    text = " ".join((h.paper.title + " " + h.paper.abstract).lower() for h in hits[:5])
    assert any(w in text for w in ("robot", "manipulation", "grasp", "embodied"))


def test_keyword_index_follows_inserts_updates_and_hides() -> None:
    paper = PaperFactory(title="Quokka attention", abstract="")
    assert keyword_search("quokka") == [paper.pk]
    paper.title = "Wombat attention"
    paper.save()
    assert keyword_search("quokka") == []
    assert keyword_search("wombats") == [paper.pk]  # stemmed
    paper.hidden = True
    paper.save()
    assert keyword_search("wombat") == []
    assert keyword_search("!!! ") == []
    assert keyword_search('"unbalanced quote') == []


def _toast_bytes(cursor) -> int:  # type: ignore[no-untyped-def]
    """The bytes of the papers' values kept out of their rows (those this test can see)."""
    cursor.execute(
        "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'papers_paper'::regclass"
    )
    cursor.execute(f"SELECT coalesce(sum(octet_length(chunk_data)), 0) FROM {cursor.fetchone()[0]}")  # noqa: S608
    return int(cursor.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row layout")
def test_a_papers_search_document_stays_in_its_row_and_its_abstract_goes_out() -> None:
    """The keyword side ranks its matches by their documents: each one kept out of its row
    cost an index probe and another page (papers migration 0018). Real papers, written
    with their document and written first without it (a harvest) then filled: what each
    one put out of its row is its abstract as stored, or nothing, never its document."""
    require_corpus()
    records = read_corpus(limit=60)
    layouts = []
    with connection.cursor() as cursor:
        for i, record in enumerate(records):
            before = _toast_bytes(cursor)
            if i % 2:
                [pk] = load_papers([record])
            else:
                with services._search_documents_deferred():
                    [pk] = load_papers([record])
                assert services.search_documents_fill([pk]) == 1
            cursor.execute(
                "SELECT pg_column_size(abstract), pg_column_size(search_document) "
                "FROM papers_paper WHERE id = %s",
                [pk],
            )
            abstract, document = cursor.fetchone()
            out = _toast_bytes(cursor) - before
            assert out in (0, abstract), (record.arxiv_id, out, abstract, document)
            layouts.append(out)
    # Most real papers are too long to keep both: the abstract is the one that went out.
    assert sum(1 for out in layouts if out) >= len(layouts) // 2


def test_keyword_side_takes_the_rarest_words_within_its_match_budget(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search_keyword, "MATCH_BUDGET_MIN", 6)
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 0.5)
    # The 20 papers made here, whatever count another test's ANALYZE left the planner.
    monkeypatch.setattr(search_keyword, "_paper_count", lambda cursor: 20)
    PaperFactory.create_batch(5, title="Gradient descent", abstract="")
    PaperFactory.create_batch(3, title="Gradient quokka", abstract="")
    numbat = PaperFactory(title="Numbat descent", abstract="")
    PaperFactory.create_batch(11, title="Filler paper", abstract="")
    # 20 papers: "gradient" is in 8 (not rarer than half), "descent" in 6, "quokka" in 3,
    # "numbat" in 1. The rarest come first until their matches would pass 6.
    with connection.cursor() as cursor:
        assert list(
            search_keyword._distinctive_counts(cursor, ["gradient", "descent", "quokka", "numbat"])
        ) == ["numbat", "quokka"]
    assert keyword_search("numbat descent gradient")[0] == numbat.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's full-text ranking")
def test_keyword_side_ranks_a_capped_set_that_keeps_the_papers_holding_every_word(
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search_keyword, "RANKED_AT_MOST", 2)
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 0.9)
    PaperFactory.create_batch(15, title="Quokka study", abstract="")
    best = PaperFactory(title="Quokka burrow", abstract="")
    PaperFactory.create_batch(15, title="Quokka study", abstract="")
    PaperFactory.create_batch(8, title="Filler paper", abstract="")
    # "quokka" is in 31 papers: two of them are ranked (whichever the index gives first),
    # and the one holding every word of the question, which ranks first.
    found = keyword_search("quokka burrow", 40)
    assert found[0] == best.pk
    assert len(found) <= 3
    monkeypatch.setattr(search_keyword, "RANKED_AT_MOST", 100)
    assert len(keyword_search("quokka burrow", 40)) == 31


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's full-text ranking")
@pytest.mark.parametrize("window_id_cost", [1e9, 0.0], ids=["sorted", "windowed"])
def test_the_capped_set_is_the_newest_matches_as_an_uncapped_ranking_breaks_ties(
    monkeypatch, window_id_cost: float
) -> None:  # type: ignore[no-untyped-def]
    """Matches of equal rank come newest first; the cap keeps the newest of them, so the
    capped ranking's first rows are the uncapped ranking's, whether the newest are sorted
    out of every match or read from windows of the newest ids (here too narrow at first:
    the windows below are read until the cap is reached)."""
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 0.9)
    monkeypatch.setattr(search_keyword, "WINDOW_ID_COST", window_id_cost)
    # A first window of the cap's size in ids (its least), which holds a third of the cap,
    # whatever ids earlier tests left the sequence at (the newest id sizes a window).
    monkeypatch.setattr(search_keyword, "WINDOW_MARGIN", 1e-9)
    studies = []
    for _ in range(30):
        studies.append(PaperFactory(title="Quokka study", abstract=""))
        PaperFactory.create_batch(2, title="Filler paper", abstract="")
    with connection.cursor() as cursor:  # the planner's estimate of the matches sizes a window
        cursor.execute("ANALYZE papers_paper")
    uncapped = keyword_search("quokka", 10)
    assert uncapped == [p.pk for p in reversed(studies[-10:])]
    monkeypatch.setattr(search_keyword, "RANKED_AT_MOST", 8)
    with CaptureQueriesContext(connection) as queries:
        assert keyword_search("quokka", 10) == uncapped[:8]
    windows = [q["sql"] for q in queries if '"papers_paper"."id" >' in q["sql"]]
    if window_id_cost:
        assert not windows
    else:
        assert len(windows) >= 2


def newest_quokkas_within(monkeypatch, every: int, category: str) -> tuple[list[int], list[str]]:  # type: ignore[no-untyped-def]
    """120 papers about quokkas among 360, one in `every` of each (and of the others) in
    cs.CL and the rest in cs.CV, the table analysed as the planner's estimates need; then
    "quokka" asked within `category`, with a cap of 8 matches a set. Asserts that it finds
    the category's 8 newest, and returns the SQL of the reads of matches newest first."""
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 0.9)
    for i in range(120):
        kept = "cs.CL" if i % every == 0 else "cs.CV"
        PaperFactory(title="Quokka study", abstract="", primary_category=kept)
        PaperFactory.create_batch(2, title="Filler paper", abstract="", primary_category=kept)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE papers_paper")
    within = SearchFilters(category=category).apply(Paper.objects.visible())
    monkeypatch.setattr(search_keyword, "RANKED_AT_MOST", 8)
    with CaptureQueriesContext(connection) as queries:
        found = keyword_search("quokka", 10, within)
    studies = Paper.objects.filter(primary_category=category, title="Quokka study")
    assert found == sorted(studies.values_list("pk", flat=True), reverse=True)[:8]
    return [q["sql"] for q in queries if "@@" in q["sql"] and "ORDER BY 1 DESC" in q["sql"]]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's full-text ranking")
def test_a_filtered_window_is_sized_on_the_matches_within_the_filter(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A fifth of the papers, matches and others alike, are in the category filtered to:
    the first window is sized for the matches within the filter (the planner's estimate)
    and holds the cap, where one sized on every match held a fifth of what it needed and
    was widened."""
    monkeypatch.setattr(search_keyword, "WINDOW_ID_COST", 0.0)
    monkeypatch.setattr(search_keyword, "WINDOW_MARGIN", 2.0)
    reads = newest_quokkas_within(monkeypatch, every=5, category="cs.CL")
    windows = [sql for sql in reads if '"papers_paper"."id" >' in sql]
    # One window: for a question of one word, "every word" and "a rare word" are one set.
    assert len(windows) == 1, windows
    assert "primary_category" in windows[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's full-text ranking")
def test_a_broad_filter_is_applied_when_the_newest_matches_are_ranked(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two thirds of the papers are in the category filtered to: the newest matches are
    read from every paper, half as many more (12 for a cap of 8, of which 8 are in it),
    and the ranking keeps those within the filter; the reads never test the category
    (its btree's bitmap cost more than it saved)."""
    reads = newest_quokkas_within(monkeypatch, every=3, category="cs.CV")
    assert reads and not any("primary_category" in sql for sql in reads), reads
    assert all(sql.endswith("LIMIT 12") for sql in reads), reads


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's full-text ranking")
def test_a_question_of_one_word_reads_its_newest_matches_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The papers holding every rare word and those holding any are the same set when
    the question has one rare word: read once, whatever else it holds (stop words, words
    the ranking leaves out). A question of two rare words reads both."""
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 0.9)
    monkeypatch.setattr(search_keyword, "RANKED_AT_MOST", 4)
    # Both words rare whatever count another test's ANALYZE left the planner, and each set
    # sorted out of its matches (one read), not read from windows that may be widened.
    monkeypatch.setattr(search_keyword, "_paper_count", lambda cursor: 100)
    monkeypatch.setattr(search_keyword, "WINDOW_ID_COST", 1e9)
    PaperFactory.create_batch(6, title="Quokka burrow", abstract="")
    PaperFactory.create_batch(6, title="Quokka study", abstract="")

    def reads(question: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            found = keyword_search(question, 10)
        assert found
        return [q["sql"] for q in queries if "@@" in q["sql"] and "ORDER BY 1 DESC" in q["sql"]]

    assert len(reads("quokka")) == 1
    assert len(reads("quokka burrow")) == 2
    # Stop words are no words of the question's: once again, with them in any place.
    assert len(reads("the quokka")) == 1
    assert len(reads("on the quokka of")) == 1
    assert len(reads("the quokka burrow")) == 2
    # A word the ranking leaves out is no word of the sets either: with a budget of 6
    # matches, "burrow" (6) is taken and "study" (6) and "quokka" (12) are not.
    monkeypatch.setattr(search_keyword, "MATCH_BUDGET_MIN", 6)
    assert len(reads("burrow study quokka")) == 1


def test_a_word_is_counted_only_up_to_the_match_budget(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A word past the budget is taken only as the rarest, so counting it further reads
    rows for nothing: its count stops one past the budget."""
    monkeypatch.setattr(search_keyword, "MATCH_BUDGET_MIN", 4)
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 0.9)
    # The papers made here: the planner's count of them is whatever the last ANALYZE of
    # another test left (PostgreSQL writes it in place, outside the test's transaction).
    monkeypatch.setattr(search_keyword, "_paper_count", lambda cursor: 20)
    PaperFactory.create_batch(12, title="Gradient descent", abstract="")
    numbat = PaperFactory(title="Numbat gradient", abstract="")
    PaperFactory.create_batch(7, title="Filler paper", abstract="")
    with connection.cursor() as cursor:
        assert search_keyword._distinctive_counts(cursor, ["gradient", "numbat"]) == {"numbat": 1}
        # Alone, the frequent word is the rarest: taken, its count stopped at 5.
        assert search_keyword._distinctive_counts(cursor, ["descent"]) == {"descent": 5}
    assert keyword_search("numbat gradient")[0] == numbat.pk


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's column statistics (DATABASE_URL)"
)
def test_common_words_are_known_from_the_column_statistics_without_counting() -> None:
    PaperFactory.create_batch(40, title="Zebra crossing", abstract="")
    PaperFactory.create_batch(2, title="Okapi sighting", abstract="")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE papers_paper")
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        rare = list(search_keyword._distinctive_counts(cursor, ["zebras", "okapi", "the"]))
    # A stop word matches nothing: it costs no count, and it is no word to rank by.
    assert rare == ["okapi"]
    counted = [q["sql"] for q in queries if "count(*)" in q["sql"]]
    assert not any("zebra" in sql for sql in counted), counted
    # Common words beside a stop word still find their newest matches.
    assert len(keyword_search("the zebra crossing", 5)) == 5


def test_filters_narrow_the_results() -> None:
    vision = PaperFactory(
        title="Zebra detection", primary_category="cs.CV", published_at="2025-03-01T00:00:00Z"
    )
    language = PaperFactory(
        title="Zebra parsing", primary_category="cs.CL", published_at="2025-06-01T00:00:00Z"
    )
    report = LabReportFactory(title="Zebra report", published_at="2025-06-02T00:00:00Z")
    embed_papers([vision.pk, language.pk, report.pk], owner="test")
    topic = Topic.objects.create(label="zebras")
    PaperTopic.objects.create(paper=language, topic=topic)

    def found(**filters) -> set[int]:  # type: ignore[no-untyped-def]
        return {h.paper.pk for h in search("zebra", SearchFilters(**filters))}

    assert found() == {vision.pk, language.pk, report.pk}
    assert found(category="cs.CV") == {vision.pk}
    assert found(kind="lab_report") == {report.pk}
    assert found(topic_id=topic.pk) == {language.pk}
    assert found(date_from=date(2025, 5, 1)) == {language.pk, report.pk}
    assert found(date_to=date(2025, 5, 1)) == {vision.pk}
    # A day runs from midnight to midnight in the site's time zone, both ends included.
    assert found(date_from=date(2025, 6, 1), date_to=date(2025, 6, 1)) == {language.pk}
    late = PaperFactory(title="Zebra night", published_at="2025-06-01T23:59:59Z")
    embed_papers([late.pk], owner="test")
    assert found(date_to=date(2025, 6, 1)) == {vision.pk, language.pk, late.pk}
    assert found(date_from=date(2025, 6, 2)) == {report.pk}


@pytest.mark.parametrize("kind", ["arxiv", "lab_report"])
def test_filters_checked_on_the_best_candidates_rank_as_within_all_they_allow(
    monkeypatch, in_process, kind: str
) -> None:  # type: ignore[no-untyped-def]
    # 300 papers, one in 30 a lab report: "arXiv only" lets most of the best through,
    # "lab reports only" too few of them, so that side is ranked within all it allows.
    for module in (search_keyword, search_semantic, search_fusion):
        monkeypatch.setattr(module, "CANDIDATES", 10)
    rng = np.random.default_rng(5)
    papers = [
        (LabReportFactory if i % 30 == 0 else PaperFactory)(
            title=f"{'zebra stripes' if i % 3 == 0 else 'other'} paper {i}"
        )
        for i in range(300)
    ]
    vectors = rng.normal(size=(300, 384)).astype("<f4")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embeddings_store(stored_model_name(), [p.pk for p in papers], vectors)
    filters = SearchFilters(kind=kind)

    def ranked() -> list[tuple[int, int | None, int | None]]:
        hits = search("zebra stripes", filters, limit=30)
        return [(h.paper.pk, h.keyword_rank, h.semantic_rank) for h in hits]

    found = ranked()

    def within_all_allowed(papers, index, scores, filters):  # type: ignore[no-untyped-def]
        allowed = set(papers.values_list("pk", flat=True))
        return search_semantic.best_of(index, scores, search_keyword.CANDIDATES, allowed)

    monkeypatch.setattr(search_fusion, "semantic_within", within_all_allowed)
    assert found == ranked()
    assert len(found) >= 10
    assert {Paper.objects.get(pk=pk).kind for pk, _, _ in found} == {kind}


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(category="cs.CV"),
        SearchFilters(kind="lab_report"),
        SearchFilters(date_from=date(2025, 1, 10)),
        SearchFilters(date_from=date(2025, 1, 5), date_to=date(2025, 1, 12), category="cs.CL"),
    ],
    ids=str,
)
def test_rows_allowed_in_memory_are_the_papers_the_database_allows(filters) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    papers = [
        (LabReportFactory if i % 7 == 0 else PaperFactory)(
            primary_category=("cs.CL", "cs.CV", "cs.LG")[i % 3],
            # Midnight on a boundary day, and papers with no date at all.
            published_at=None if i % 11 == 0 else f"2025-01-{i % 20 + 1:02d}T{i % 24:02d}:00:00Z",
        )
        for i in range(60)
    ]
    vectors = rng.normal(size=(60, 8)).astype("<f4")
    embeddings_store(stored_model_name(), [p.pk for p in papers], vectors)
    index = vector_index(stored_model_name())
    rows = filters.rows_allowed(index)
    expected = set(filters.apply(Paper.objects.all()).values_list("pk", flat=True))
    assert 0 < len(expected) < 60
    assert {int(pk) for pk in index.ids[rows]} == expected
    # The search ranks within them, hidden papers left out by the database check.
    hidden = sorted(expected)[0]
    Paper.objects.filter(pk=hidden).update(hidden=True)
    semantic = search_semantic.semantic_within(
        filters.apply(Paper.objects.visible()), index, index.scores(vectors[0]), filters
    )
    assert {pk for pk, _ in semantic} == expected - {hidden}


def test_topic_filters_go_to_the_database_and_unknown_values_allow_no_row() -> None:
    paper = PaperFactory()
    embeddings_store(stored_model_name(), [paper.pk], np.ones((1, 8), dtype="<f4"))
    index = vector_index(stored_model_name())
    assert SearchFilters(topic_id=1).rows_allowed(index) is None
    assert SearchFilters().rows_allowed(index).all()
    # A value no paper has allows no row.
    for category in ("a.none", "cs.AA", "zz.none"):
        assert not SearchFilters(category=category).rows_allowed(index).any()
    assert not SearchFilters(kind="unknown").rows_allowed(index).any()


def test_keyword_side_ranks_within_the_filters() -> None:
    # Every paper holds the word, so it is common and matches rank newest first: the
    # newest are all after the date filter, which must not leave the words side empty.
    papers = [
        PaperFactory(title=f"Zebra study {i}", published_at=f"2025-01-{i + 1:02d}T12:00:00Z")
        for i in range(28)
    ]
    early = SearchFilters(date_to=date(2025, 1, 3))
    assert keyword_search("zebra", 5) == [p.pk for p in reversed(papers[-5:])]
    within = early.apply(Paper.objects.visible())
    assert keyword_search("zebra", 5, within) == [p.pk for p in reversed(papers[:3])]
    hits = search("zebra", early, limit=10)
    assert {h.paper.pk for h in hits} == {p.pk for p in papers[:3]}
    assert all(h.keyword_rank for h in hits)


def test_similar_papers_are_exact_and_skip_hidden_and_self(corpus) -> None:  # type: ignore[no-untyped-def]
    paper = Paper.objects.get(pk=corpus[0])
    hits = similar_papers(paper, limit=10)
    assert len(hits) == 10 and paper not in [p for p, _ in hits]
    index = vector_index(stored_model_name())
    own = index.matrix[index.row_of[paper.pk]]
    exact = np.argsort(-(index.matrix @ own))[1:11]
    assert [p.pk for p, _ in hits] == [int(index.ids[i]) for i in exact]
    hidden = hits[0][0]
    Paper.objects.filter(pk=hidden.pk).update(hidden=True)
    assert hidden not in [p for p, _ in similar_papers(paper, limit=10)]


def test_new_vectors_refresh_the_cached_index() -> None:
    a, b = PaperFactory.create_batch(2)
    model = stored_model_name()
    embeddings_store(model, [a.pk], np.array([[1, 0]], dtype="<f4"))
    assert similar_papers(a) == []
    embeddings_store(model, [b.pk], np.array([[0.8, 0.6]], dtype="<f4"))
    assert [(p.pk, round(s, 2)) for p, s in similar_papers(a)] == [(b.pk, 0.8)]


def test_a_question_asked_again_is_scored_once_until_new_vectors_arrive(
    monkeypatch, in_process
) -> None:  # type: ignore[no-untyped-def]
    a, b = PaperFactory.create_batch(2)
    model = stored_model_name()
    embeddings_store(model, [a.pk], np.array([[1, 0]], dtype="<f4"))
    monkeypatch.setattr(
        search_index, "query_vector", lambda name, q: np.array([0.6, 0.8], dtype="<f4")
    )
    scored: list[str] = []
    real_scores = VectorIndex.scores
    monkeypatch.setattr(
        VectorIndex, "scores", lambda self, vector: scored.append("") or real_scores(self, vector)
    )

    assert [h.paper.pk for h in search("qqzx")] == [a.pk]
    assert [h.paper.pk for h in search("qqzx", SearchFilters(kind=a.kind))] == [a.pk]
    assert len(scored) == 1  # the second search, with a filter, reused the scores

    # A new paper's vector loads a new matrix: the question is scored against it.
    embeddings_store(model, [b.pk], np.array([[0, 1]], dtype="<f4"))
    assert [h.paper.pk for h in search("qqzx")] == [b.pk, a.pk]
    assert len(scored) == 2

    # The memory is bounded: with room for one question, the older one is scored again.
    monkeypatch.setattr(search_index, "QUESTION_SCORES_BYTES", 1)
    search("qqzy")
    search("qqzx")
    assert len(scored) == 4


def test_similar_papers_one_process_computed_serve_the_others(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search_index, "SHARED_NEAREST_FROM", 0)
    products = []
    full_product = VectorIndex.scores

    def counted(self, vector):  # type: ignore[no-untyped-def]
        products.append(vector)
        return full_product(self, vector)

    monkeypatch.setattr(VectorIndex, "scores", counted)
    a, b, c, d = PaperFactory.create_batch(4)
    model = stored_model_name()

    def near_a() -> list[tuple[int, float]]:
        return [(p.pk, round(s, 2)) for p, s in similar_papers(a)]

    embeddings_store(model, [a.pk, b.pk], np.array([[1, 0], [0.8, 0.6]], dtype="<f4"))
    assert near_a() == [(b.pk, 0.8)] and len(products) == 1

    # Another web process: nothing of its own in memory, and no product to run.
    search_index.vector_index_forget()
    assert near_a() == [(b.pk, 0.8)] and len(products) == 1

    # A harvest adds vectors: the kept list takes them in, still without the product.
    embeddings_store(model, [c.pk, d.pk], np.array([[0.6, 0.8], [0.99, 0.1411]], dtype="<f4"))
    assert near_a() == [(d.pk, 0.99), (b.pk, 0.8), (c.pk, 0.6)] and len(products) == 1

    # A vector on the list replaced: its kept cosine no longer holds, so the product runs.
    Embedding.objects.filter(paper=b, model_name=model).delete()
    embeddings_store(model, [b.pk], np.array([[0, 1]], dtype="<f4"))
    assert near_a() == [(d.pk, 0.99), (c.pk, 0.6), (b.pk, 0.0)] and len(products) == 2

    # With the cache down the product still answers.
    search_index.vector_index_forget()
    monkeypatch.setattr(search_index.cache, "get", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(search_index.cache, "set", lambda *a, **k: 1 / 0)
    assert near_a() == [(d.pk, 0.99), (c.pk, 0.6), (b.pk, 0.0)] and len(products) == 3


def test_embedding_makes_the_new_papers_similar_lists_ahead(monkeypatch, in_process) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search_index, "SHARED_NEAREST_FROM", 0)
    products = []
    full_product = VectorIndex.scores
    monkeypatch.setattr(
        VectorIndex, "scores", lambda self, v: products.append(v) or full_product(self, v)
    )
    titles = ["Sparse attention for long context", "Long-context sparse attention", "Tabby cats"]
    papers = [PaperFactory(title=t, abstract="") for t in titles]
    assert embed_papers([p.pk for p in papers], owner="test") == 3

    # A web process opening the papers finds their lists made: no product runs.
    search_index.vector_index_forget()
    made = {p.pk: [(o.pk, round(s, 4)) for o, s in similar_papers(p)] for p in papers}
    assert products == []
    assert made[papers[0].pk][0][0] == papers[1].pk
    assert all(len(made[p.pk]) == 2 and p.pk not in dict(made[p.pk]) for p in papers)

    # The same lists as the page's own product gives.
    search_index.vector_index_forget()
    monkeypatch.setattr(search_index, "_shared_nearest_get", lambda key: None)
    assert {p.pk: [(o.pk, round(s, 4)) for o, s in similar_papers(p)] for p in papers} == made
    assert len(products) == 3


def test_lists_made_ahead_cover_the_papers_asked_and_survive_a_cache_failure(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search_index, "SHARED_NEAREST_FROM", 0)
    monkeypatch.setattr(search_index, "WARM_BLOCK", 2)
    papers = PaperFactory.create_batch(5)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(5, 8)).astype("<f4")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embeddings_store(stored_model_name(), [p.pk for p in papers], vectors)
    # Blocks of two: the last block holds one paper; an unknown id is stepped over.
    monkeypatch.setattr(search_index, "HALF_SCAN_FROM", 0)
    assert search_index.similar_lists_warm([p.pk for p in papers] + [10**9]) == 5
    # Made in float32: the 16-bit copy waits for the first scan, which a worker never runs.
    index = vector_index(stored_model_name())
    assert index.half is None
    index.scores(vectors[0])
    assert index.half is not None
    monkeypatch.setattr(search_index.cache, "set_many", lambda *a, **k: 1 / 0)
    assert search_index.similar_lists_warm([papers[0].pk]) == 0
    # Below the shared size the pages run the product themselves: nothing is made.
    monkeypatch.setattr(search_index, "SHARED_NEAREST_FROM", 6)
    assert search_index.similar_lists_warm([papers[0].pk]) == 0


def test_a_vector_committed_late_under_an_older_id_still_reaches_kept_lists(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Ids are handed out before commit: an embedding run that commits after another one
    # brings rows older by id than the newest a kept list has seen.
    monkeypatch.setattr(search_index, "SHARED_NEAREST_FROM", 0)
    a, b, late, after = PaperFactory.create_batch(4)
    model = stored_model_name()
    embeddings_store(model, [a.pk], np.array([[1, 0]], dtype="<f4"))
    embeddings_store(model, [late.pk], np.array([[0.9, 0.4359]], dtype="<f4"))
    placeholder = Embedding.objects.get(paper=late)
    Embedding.objects.filter(pk=placeholder.pk).delete()
    embeddings_store(model, [b.pk], np.array([[0.8, 0.6]], dtype="<f4"))
    assert [p.pk for p, _ in similar_papers(a)] == [b.pk]

    placeholder.save(force_insert=True)  # its old id, below the newest the list saw
    embeddings_store(model, [after.pk], np.array([[0, 1]], dtype="<f4"))
    assert [p.pk for p, _ in similar_papers(a)] == [late.pk, b.pk, after.pk]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", None])
def test_half_precision_scan_keeps_the_exact_top_results(dtype: str | None) -> None:
    import torch

    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(3000, 64)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = np.arange(3000, dtype=np.int64)
    index = VectorIndex(
        "m", "1", ids, matrix, row_of={}, half=_half_copy(matrix, dtype and getattr(torch, dtype))
    )
    for query in matrix[:20] + rng.normal(0, 0.05, size=(20, 64)).astype(np.float32):
        exact = matrix @ query
        scores = index.scores(query)
        top = np.argsort(-scores)[:10]
        assert list(top) == list(np.argsort(-exact)[:10])
        assert np.allclose(scores[top], exact[top], atol=1e-6)


def test_search_page_needs_login_and_escapes(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(
        title="<img src=x onerror=alert(1)> Zebra", abstract="zebra <b>stripes</b>"
    )
    embed_papers([paper.pk], owner="test")
    url = reverse("search:search")
    assert Client().get(url, {"q": "zebra"}).status_code == 302
    response = client_for(cast.ada).get(url, {"q": "zebra", "kind": "arxiv"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "&lt;img src=x onerror=alert(1)&gt; Zebra" in body
    assert "<img src=x" not in body and "<b>stripes</b>" not in body
    assert client_for(cast.ada).get(url).status_code == 200
    assert client_for(cast.ada).get(url, {"q": "x", "date_from": "not a date"}).status_code == 400


def test_search_results_show_each_hit_escaped_with_a_cut_snippet(cast) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(f"w{i}" for i in range(60))
    paper = PaperFactory(
        title="Zebra & <i>stripes</i>",
        abstract=f"zebra <script>x</script> {words}",
        lab='<b onclick="x">Lab</b>',
        primary_category='cs.CL"><img src=x>',
    )
    embed_papers([paper.pk], owner="test")

    body = client_for(cast.ada).get(reverse("search:search"), {"q": "zebra"}).content.decode()

    link = reverse("papers:detail", args=[paper.pk])
    title = "Zebra &amp; &lt;i&gt;stripes&lt;/i&gt;"
    assert f'<a href="{link}" class="result-title">{title}</a>' in body
    assert "cs.CL&quot;&gt;&lt;img src=x&gt;" in body
    assert "&lt;b onclick=&quot;x&quot;&gt;Lab&lt;/b&gt;" in body
    assert "words #1</span>" in body and "meaning #1</span>" in body
    # truncatewords' cut: the first 45 words, then an ellipsis.
    assert "zebra &lt;script&gt;x&lt;/script&gt; w0" in body and " w42 …</p>" in body
    assert "w43" not in body and "<script>x" not in body and "<i>" not in body


def test_search_results_show_what_the_team_made_of_each_hit(cast) -> None:  # type: ignore[no-untyped-def]
    rated, untouched = (
        PaperFactory(title="Zebra stripes rated", abstract="zebra stripes"),
        PaperFactory(title="Zebra stripes untouched", abstract="zebra stripes"),
    )
    embed_papers([rated.pk, untouched.pk], owner="test")
    RatingFactory(team=cast.vision, paper=rated, user=cast.ada, value=5)
    RatingFactory(team=cast.vision, paper=rated, user=cast.ben, value=4)
    RatingFactory(team=cast.language, paper=rated, user=cast.carol, value=1)
    ReproductionFactory(
        team=cast.vision, paper=rated, status=Status.ABANDONED, abandon_reason="no GPUs"
    )
    ours = ReproductionFactory(team=cast.vision, paper=rated, status=Status.IN_PROGRESS)
    theirs = ReproductionFactory(team=cast.language, paper=rated, status=Status.NOT_REPRODUCED)
    url = reverse("search:search")

    body = client_for(cast.ada).get(url, {"q": "zebra stripes"}).content.decode()
    row = r'class="result-title">([^<]+)</a><div class="muted small">(.*?)</div>'
    rows = dict(re.findall(row, body))
    assert "team 4.5 (2)</span>" in rows["Zebra stripes rated"]
    assert "you 5" in rows["Zebra stripes rated"]
    ours_url = reverse("reproductions:detail", args=[ours.pk])
    assert f'href="{ours_url}"' in rows["Zebra stripes rated"]
    assert ">In progress</a>" in rows["Zebra stripes rated"]
    assert "team" not in rows["Zebra stripes untouched"]
    assert "badge in_progress" not in rows["Zebra stripes untouched"]

    # Another team's member sees their own team's marks, never these.
    other = client_for(cast.carol).get(url, {"q": "zebra stripes"}).content.decode()
    assert "team 1.0 (1)</span>" in other and "you 1" in other
    assert ">Not reproduced</a>" in other
    assert f"/reproductions/{theirs.pk}/" in other and ours_url not in other
    assert "team 4.5" not in other and "In progress" not in other


@pytest.mark.parametrize("rows", [3, 30])
def test_search_page_query_count_is_fixed(cast, rows: int, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    papers = [
        PaperFactory(title=f"Zebra stripes {i}", abstract="zebra stripes and camouflage")
        for i in range(rows)
    ]
    embed_papers([p.pk for p in papers], owner="test")
    for paper in papers:
        RatingFactory(team=cast.vision, paper=paper, user=cast.ada)
        ReproductionFactory(team=cast.vision, paper=paper)
    if connection.vendor == "postgresql":
        # The corpus size comes from the planner's estimate, once the table is analyzed
        # (autovacuum's work in production); before, a count stands in for it.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE papers_paper")
    client = client_for(cast.ada)
    url = reverse("search:search")
    client.get(url, {"q": "zebra stripes"})  # how common each word is, kept for a while
    # (session), user, the newest vector, the corpus size, the keyword side, which of the
    # best the filters allow, the hits, the team (page header), the team's ratings and
    # reproductions of the hits, the topic choices. On pgvector the newest vector and the
    # filter check give way to the nearest papers within the filters, in a savepoint that
    # scopes the index scan's settings (SAVEPOINT, the planner's estimate of the rows the
    # filters allow, the settings, the query, the settings set back as they were inside
    # this test's transaction, RELEASE).
    expected = 10 if vector_store().name == InProcessStore.name else 14
    with django_assert_num_queries(session_queries() + expected):
        response = client.get(url, {"q": "zebra stripes", "kind": "arxiv"})
    assert len(response.context["hits"]) == rows
