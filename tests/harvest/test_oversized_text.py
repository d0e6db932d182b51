"""One oversized or otherwise unindexable paper never stops the papers around it from
being indexed: what is indexed is capped, and a paper that still fails is recorded (its
`index_error`, a filter in the admin) and skipped."""

from __future__ import annotations

import random
import string

import numpy as np
import pytest
from django.db import connection

import tests.embedding_helpers  # noqa: F401  (offline guard)
from pipeline.records import PaperRecord
from tracker.papers import embeddings as embedder
from tracker.papers import services
from tracker.papers.embeddings import embed_papers, embed_pending
from tracker.papers.models import Embedding, Paper
from tracker.papers.services import papers_upsert, search_documents_fill

pytestmark = pytest.mark.django_db


def _huge_abstract(size: int = 2_000_000) -> str:
    """2 MB of distinct words: their full-text document is over PostgreSQL's 1 MB."""
    rng = random.Random(20)
    words: list[str] = []
    length = 0
    while length < size:
        word = "".join(rng.choices(string.ascii_lowercase, k=9))
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def _store(*abstracts: str) -> list[int]:
    records = [
        PaperRecord(arxiv_id=f"2601.{n:05d}", version=1, title=f"Paper {n}", abstract=a)
        for n, a in enumerate(abstracts, start=1)
    ]
    return papers_upsert(records).paper_ids


def _documents(ids: list[int]) -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, search_document::text FROM papers_paper WHERE id = ANY(%s)", [ids]
        )
        return dict(cursor.fetchall())


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's tsvector limit (DATABASE_URL)"
)


@pytest.mark.integration
@postgresql_only
def test_a_2mb_abstract_does_not_stop_any_paper_from_being_indexed_and_embedded() -> None:
    ids = _store("Sparse attention for long inputs.", _huge_abstract(), "Tabular transformers.")

    assert embed_pending(owner="test") == 3

    documents = _documents(ids)
    assert all(documents[pk] for pk in ids)
    assert "'tabular'" in documents[ids[2]]
    # Capped, not refused: the start of the huge abstract is searchable.
    first_word = _huge_abstract().split()[0]
    assert f"'{first_word}'" in documents[ids[1]]
    assert Embedding.objects.count() == 3
    assert not Paper.objects.exclude(index_error="").exists()


@pytest.mark.integration
@postgresql_only
def test_a_paper_whose_document_still_fails_is_recorded_and_the_rest_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "SEARCH_TEXT_MAX_CHARS", 10_000_000)  # as if uncapped
    ids = _store("First paper.", _huge_abstract(), "Third paper.")

    assert search_documents_fill(ids) == 3

    documents = _documents(ids)
    assert "'first'" in documents[ids[0]] and "'third'" in documents[ids[2]]
    assert documents[ids[1]] == ""
    broken = Paper.objects.get(pk=ids[1])
    assert "too long for tsvector" in broken.index_error
    # It is no longer waiting: the next run does not trip over it again.
    assert search_documents_fill() == 0


@pytest.mark.integration
@postgresql_only
def test_a_2mb_abstract_arriving_as_a_new_version_is_stored() -> None:
    """The database trigger that remakes the document on update reads the capped text too."""
    (paper_id,) = _store("A short first version.")
    search_documents_fill([paper_id])
    record = PaperRecord(
        arxiv_id="2601.00001", version=2, title="Paper 1", abstract=_huge_abstract()
    )

    assert papers_upsert([record]).updated == 1

    assert _documents([paper_id])[paper_id]


def test_a_paper_the_model_cannot_take_is_recorded_and_its_chunk_is_embedded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = embedder.encode_texts

    def choking(texts: list[str], stored_name: str | None = None) -> np.ndarray:
        if any("POISON" in text for text in texts):
            raise RuntimeError("the tokenizer gave up")
        return real(texts, stored_name)

    monkeypatch.setattr(embedder, "encode_texts", choking)
    ids = _store("A fine paper.", "POISON in the text.", "Another fine paper.")

    assert embed_papers(ids, owner="test") == 2
    assert embed_pending(owner="test") == 0  # the bad one is skipped again, not fatal

    assert set(Embedding.objects.values_list("paper_id", flat=True)) == {ids[0], ids[2]}
    assert "the tokenizer gave up" in Paper.objects.get(pk=ids[1]).index_error
