"""Embedding: every paper gets one vector per model, odd texts work, bad models stop cleanly."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import CommandError, call_command

import tests.embedding_helpers  # noqa: F401  (offline guard)
from pipeline.embedding import EmbeddingModelError
from pipeline.embedding.static import StaticEncoder
from tests.factories import PaperFactory
from tracker.papers.embeddings import (
    embed_papers,
    embed_pending,
    embedding_claims_release,
    embedding_claims_take,
    embeddings_store,
    get_encoder,
    papers_missing_embedding,
    search_model_forget,
    search_model_name,
    stored_model_name,
)
from tracker.papers.models import Embedding
from workers.tasks import embed_papers_task, embed_pending_papers_task

pytestmark = pytest.mark.django_db


def test_odd_texts_are_embedded_once_each() -> None:
    papers = [
        PaperFactory(abstract=""),
        PaperFactory(abstract="long " * 10_000),
        PaperFactory(
            title="大规模语言模型的幻觉", abstract="Модели зрения и языка. 視覚言語モデル。"
        ),
    ]
    done = embed_papers([p.pk for p in papers], owner="test")
    assert done == 3
    model = stored_model_name()
    for paper in papers:
        (row,) = Embedding.objects.filter(paper=paper, model_name=model)
        vector = row.as_array()
        assert row.dimension == len(vector) == 384
        assert np.isfinite(vector).all()
        assert abs(np.linalg.norm(vector) - 1) < 1e-3


def test_running_twice_adds_nothing() -> None:
    papers = PaperFactory.create_batch(3)
    assert embed_pending(owner="first") == 3
    assert embed_pending(owner="second") == 0
    assert embed_papers_task([p.pk for p in papers]) == 0
    assert Embedding.objects.count() == 3


def test_store_ignores_a_vector_that_already_exists() -> None:
    paper = PaperFactory()
    model = stored_model_name()
    embeddings_store(model, [paper.pk], np.ones((1, 4), dtype="<f4") / 2)
    embeddings_store(model, [paper.pk], np.zeros((1, 4), dtype="<f4"))
    (row,) = Embedding.objects.filter(paper=paper)
    assert row.as_array().tolist() == [0.5] * 4


def test_a_paper_claimed_by_another_worker_is_left_to_it() -> None:
    a, b = PaperFactory.create_batch(2)
    model = stored_model_name()
    assert embedding_claims_take(model, [a.pk], owner="other") == [a.pk]
    assert embed_papers([a.pk, b.pk], owner="me") == 1
    assert list(Embedding.objects.values_list("paper_id", flat=True)) == [b.pk]
    # The same owner (a redelivered task) takes its own claims back.
    assert embedding_claims_take(model, [a.pk], owner="other") == [a.pk]
    embedding_claims_release(model, [a.pk])
    assert embed_papers([a.pk], owner="me") == 1


def test_deleted_embedding_is_made_again_by_the_pending_task() -> None:
    paper = PaperFactory()
    embed_pending(owner="first")
    Embedding.objects.filter(paper=paper).delete()
    assert embed_pending_papers_task() == 1
    assert Embedding.objects.filter(paper=paper).count() == 1


def test_unloadable_model_stops_with_a_clear_error_and_keeps_vectors(settings) -> None:
    paper = PaperFactory()
    embed_pending(owner="first")
    before = list(Embedding.objects.values_list("paper_id", "model_name", "vector"))
    settings.EMBEDDING_MODEL = "/nowhere/no-such-model"
    with pytest.raises(EmbeddingModelError, match="no-such-model"):
        embed_pending(owner="second")
    with pytest.raises(EmbeddingModelError):
        embed_papers_task([paper.pk])
    with pytest.raises(CommandError, match="cannot load embedding model"):
        call_command("embed_papers", verbosity=0)
    settings.EMBEDDING_MODEL = "packaged:no-such-package"
    with pytest.raises(EmbeddingModelError, match="not installed"):
        get_encoder(stored_model_name())
    assert list(Embedding.objects.values_list("paper_id", "model_name", "vector")) == before


def test_search_keeps_the_old_model_until_the_new_one_covers_every_paper() -> None:
    papers = PaperFactory.create_batch(3)
    vectors = np.eye(3, 4, dtype="<f4")
    embeddings_store("old-model", [p.pk for p in papers], vectors)
    embeddings_store("new-model", [p.pk for p in papers[:2]], vectors[:2])
    assert search_model_name("new-model") == "old-model"
    embeddings_store("new-model", [papers[2].pk], vectors[2:])
    search_model_forget()
    assert search_model_name("new-model") == "new-model"
    assert not papers_missing_embedding("new-model").exists()


def test_command_embeds_every_missing_paper() -> None:
    PaperFactory.create_batch(4)
    call_command("embed_papers", verbosity=0)
    assert not papers_missing_embedding(stored_model_name()).exists()


@pytest.mark.parametrize("run", ["command", "pending"])
def test_a_run_of_many_chunks_makes_the_similar_lists_once(run, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Each making reloads every vector: once per run, after its last chunk, not per chunk.
    # Lists are made ahead for the in-process index only: on pgvector the database's index
    # answers the paper page, and a run makes none.
    from tracker.search import index as search_module

    settings.VECTOR_STORE = "in-process"

    made: list[list[int]] = []
    monkeypatch.setattr(search_module, "similar_lists_warm", lambda ids: made.append(ids) or 0)
    settings.EMBEDDING_TASK_CHUNK = 2
    papers = PaperFactory.create_batch(5)
    if run == "command":
        call_command("embed_papers", verbosity=0)
    else:
        assert embed_pending(owner="test") == 5
    assert made == [[p.pk for p in papers]]


def test_static_encoder_averages_token_rows() -> None:
    class Tokenizer:
        def __call__(self, texts, **kwargs):  # type: ignore[no-untyped-def]
            vocab = {"a": 1, "b": 2}
            return {"input_ids": [[vocab[w] for w in t.split()] for t in texts]}

    table = np.array([[9, 9], [1, 0], [0, 1]], dtype="<f4")
    encoder = StaticEncoder("static", Tokenizer(), table, skip=np.array([0]))
    out = encoder.encode(["a b", "a", ""])
    assert np.allclose(out[0], [2**-0.5, 2**-0.5])
    assert np.allclose(out[1], [1, 0])
    assert np.allclose(out[2], [0, 0])


def test_static_table_fitted_to_model_vectors_reproduces_them() -> None:
    class Tokenizer:
        def __call__(self, texts, **kwargs):  # type: ignore[no-untyped-def]
            return {"input_ids": [[int(w) for w in t.split()] for t in texts]}

    rng = np.random.default_rng(0)
    table = rng.normal(size=(20, 8)).astype("<f4")
    encoder = StaticEncoder("static", Tokenizer(), table, skip=np.array([0]))
    texts = [" ".join(str(i) for i in rng.integers(1, 20, size=5)) for _ in range(60)]
    targets = rng.normal(size=(60, 8)).astype("<f4")
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    before = (encoder.encode(texts) * targets).sum(axis=1).mean()
    encoder.fit(texts, targets)
    after = (encoder.encode(texts) * targets).sum(axis=1).mean()
    assert after > before + 0.3


def test_onnx_backend_stores_its_own_vectors_close_to_the_models(settings) -> None:
    papers = PaperFactory.create_batch(2)
    settings.EMBEDDING_BACKEND = "onnx"
    embed_papers([p.pk for p in papers], owner="test")
    onnx_name = stored_model_name()
    assert onnx_name.endswith("#onnx")
    stored = Embedding.objects.filter(model_name=onnx_name).order_by("paper_id")
    assert stored.count() == 2
    texts = ["Sparse attention for long documents.", "Segmenting tumours in MRI scans."]
    fast = get_encoder(onnx_name).encode(texts)
    full = get_encoder(stored_model_name(backend="torch")).encode(texts)
    assert (fast * full).sum(axis=1).min() > 0.95


def test_onnx_threads_sleep_instead_of_spinning(settings) -> None:
    """Spinning idle threads burn the CPU that the web server and other workers share."""
    settings.EMBEDDING_BACKEND = "onnx"
    options = get_encoder(stored_model_name()).session.get_session_options()  # type: ignore[attr-defined]
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
