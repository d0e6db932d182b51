"""papers_upsert on its own: what a page of records leaves in the database, and its cost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from pipeline.records import PaperRecord
from tests.factories import LabReportFactory
from tracker.papers.embeddings import embed_papers
from tracker.papers.models import DuplicateCandidate, Paper, PaperSource, PaperVersion, Source
from tracker.papers.services import paper_upsert, papers_upsert, search_documents_fill
from tracker.search.keyword import keyword_search

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def _record(n: int, version: int | None = 1, title: str = "") -> PaperRecord:
    return PaperRecord(
        arxiv_id=f"2605.{n:05d}",
        version=version,
        title=title or f"Paper number {n}",
        abstract="An abstract\nwith a line break and a quote ' and a percent %s.",
        authors=["Ada Lovelace", "Zoë Ünicode"],
        categories=["cs.CL", "cs.LG"],
        primary_category="cs.CL",
        doi="10.1000/xyz",
        published_at=WHEN,
        updated_at=WHEN,
        pdf_url=f"https://arxiv.org/pdf/2605.{n:05d}v{version or 1}",
    )


def _source() -> Source:
    return Source.objects.create(name="s", kind="arxiv", query="all:x")


def test_a_new_paper_is_stored_with_every_field_and_the_models_defaults() -> None:
    result = papers_upsert([_record(1)], source=_source())

    paper = Paper.objects.get()
    assert (result.new, result.updated, result.paper_ids) == (1, 0, [paper.pk])
    assert paper.authors == ["Ada Lovelace", "Zoë Ünicode"]
    assert paper.categories == ["cs.CL", "cs.LG"]
    assert "percent %s" in paper.abstract and paper.published_at == WHEN
    assert paper.updated_at_source == WHEN and paper.version == 1 and not paper.is_revised
    assert (paper.kind, paper.lab, paper.code_urls, paper.hidden) == ("arxiv", "", [], False)
    assert paper.canonical_url == "https://arxiv.org/abs/2605.00001"
    assert paper.versions.get().authors == ["Ada Lovelace", "Zoë Ünicode"]
    assert PaperSource.objects.get().url == "https://arxiv.org/abs/2605.00001"


def test_a_record_without_a_version_is_stored_as_version_one_without_history() -> None:
    papers_upsert([_record(1, version=None)])
    assert Paper.objects.get().version == 1
    assert not PaperVersion.objects.exists()


def test_an_older_version_changes_nothing_but_the_history() -> None:
    papers_upsert([_record(1, version=3, title="Third")])
    result = papers_upsert([_record(1, version=2, title="Second")])

    paper = Paper.objects.get()
    assert (result.new, result.updated, result.paper_ids) == (0, 0, [paper.pk])
    assert (paper.version, paper.title, paper.is_revised) == (3, "Third", False)
    assert sorted(paper.versions.values_list("version", flat=True)) == [2, 3]


def test_two_versions_in_one_batch_keep_the_newest_and_record_both() -> None:
    result = papers_upsert([_record(1, version=2, title="New"), _record(1, title="Old")])

    paper = Paper.objects.get()
    assert (result.new, paper.version, paper.title) == (1, 2, "New")
    assert sorted(paper.versions.values_list("version", flat=True)) == [1, 2]


def test_seeing_a_paper_again_moves_only_its_last_seen_time() -> None:
    source = _source()
    papers_upsert([_record(1)], source=source)
    first = PaperSource.objects.get()
    papers_upsert([_record(1)], source=source)

    again = PaperSource.objects.get()
    assert again.first_seen_at == first.first_seen_at
    assert again.last_seen_at > first.last_seen_at


def test_a_new_paper_titled_like_a_lab_report_is_a_duplicate_candidate() -> None:
    report = LabReportFactory(title="Paper number 7")
    papers_upsert([_record(7), _record(8)])

    candidate = DuplicateCandidate.objects.get()
    paper = Paper.objects.get(arxiv_id="2605.00007")
    assert {candidate.paper_a_id, candidate.paper_b_id} == {report.pk, paper.pk}


@pytest.mark.parametrize("size", [10, 300])
def test_a_page_costs_the_same_number_of_queries_whatever_its_size(
    size: int,
    django_assert_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    source = _source()
    # Savepoint and release, the paper upsert, the versions, the sources, the title check;
    # on PostgreSQL, around the paper upsert, the two settings that defer its documents.
    queries = 6 + (2 if connection.vendor == "postgresql" else 0)
    with django_assert_num_queries(queries):
        papers_upsert([_record(n) for n in range(size)], source=source)
    # Seen again: nothing new, so no title check, but the unchanged rows' ids are read.
    with django_assert_num_queries(queries):
        result = papers_upsert([_record(n) for n in range(size)], source=source)
    assert (result.new, result.updated, len(result.paper_ids)) == (0, 0, size)


def _document(paper_id: int) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_document::text FROM papers_paper WHERE id = %s", [paper_id])
        return cursor.fetchone()[0]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the stored full-text document (DATABASE_URL)"
)
def test_a_harvest_leaves_the_full_text_document_to_the_embedding_step() -> None:
    """Parsing the document was half of a page's time; the embedding step, which every new
    paper goes through next, makes it. Every other write still makes it at once."""
    source = _source()
    harvested = papers_upsert(
        [_record(1, title="Quokka attention"), _record(2)], source=source
    ).paper_ids
    typed = LabReportFactory(title="Quokka blog post")
    assert [_document(pk) for pk in harvested] == [None, None]
    assert "quokka" in _document(typed.pk)
    assert keyword_search("quokka") == [typed.pk]

    embed_papers(harvested[:1], owner="test")
    assert "quokka" in _document(harvested[0]) and _document(harvested[1]) is None
    assert set(keyword_search("quokka")) == {typed.pk, harvested[0]}
    assert search_documents_fill() == 1
    # The same document as the database makes itself for any other write.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM papers_paper WHERE search_document IS DISTINCT FROM "
            "to_tsvector('english', coalesce(title, '') || ' ' || coalesce(abstract, ''))"
        )
        assert cursor.fetchone()[0] == 0

    # A new version's text, and an edit, are parsed at once.
    papers_upsert([_record(2, version=2, title="Wombat scaling")], source=source)
    assert keyword_search("wombat") == [harvested[1]]
    Paper.objects.filter(pk=typed.pk).update(abstract="numbat")
    assert keyword_search("numbat") == [typed.pk]
    # The transaction's own later inserts are not deferred.
    assert "platypus" in _document(LabReportFactory(title="Platypus").pk)
    # A paper added by hand is found by its words at once.
    added, _ = paper_upsert(_record(3, title="Echidna spines"), source=source)
    assert keyword_search("echidna") == [added.pk]
