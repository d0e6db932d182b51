"""The pipeline's progress on the home and Sources pages, and on a paper still waiting."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import PaperFactory
from tracker.core.templatetags.portal import eta
from tracker.papers.embeddings import (
    Progress,
    embedding_progress,
    embeddings_store,
    stored_model_name,
)
from tracker.papers.models import RunStatus
from tracker.papers.progress import IMPORT_KEY, import_progress, import_progress_reporter
from tracker.topics.models import ClusteringRun, Topic

pytestmark = pytest.mark.django_db


def _embed(papers, moment) -> None:  # type: ignore[no-untyped-def]
    vectors = np.random.default_rng(len(papers)).normal(size=(len(papers), 4)).astype("<f4")
    with time_machine_at(moment):
        embeddings_store(stored_model_name(), [p.pk for p in papers], vectors)


def time_machine_at(moment):  # type: ignore[no-untyped-def]
    import time_machine

    return time_machine.travel(moment, tick=False)


def test_home_and_sources_say_how_far_embedding_is_and_keep_polling(cast) -> None:  # type: ignore[no-untyped-def]
    papers = PaperFactory.create_batch(12)
    _embed(papers[:1], timezone.now())
    client = client_for(cast.ben)
    for url in ("/", "/sources/"):
        body = client.get(url).content.decode()
        assert "Embedding</strong>: 1 of 12 papers" in body
        assert 'hx-trigger="every 3s"' in body
        assert "clustering starts once every paper has its vector" in body
    panel = client.get("/progress/").content.decode()
    assert panel.startswith("<section") or panel.lstrip().startswith("<section")
    assert "1 of 12 papers" in panel


def test_the_panel_polls_slowly_once_everything_is_done(cast) -> None:  # type: ignore[no-untyped-def]
    cache.delete(IMPORT_KEY)  # what an import in another test left in a shared cache
    papers = PaperFactory.create_batch(2)
    _embed(papers, timezone.now() - timedelta(hours=1))
    ClusteringRun.objects.create(
        model_name=stored_model_name(),
        status=RunStatus.SUCCEEDED,
        finished_at=timezone.now(),
        duration_seconds=2.0,
        paper_count=2,
    )
    Topic.objects.create(label="agents")
    panel = client_for(cast.ben).get("/progress/").content.decode()
    assert 'hx-trigger="every 30s"' in panel
    assert "2 of 2 papers" in panel and "left" not in panel


def test_embedding_pace_and_time_left_come_from_the_newest_vectors() -> None:
    papers = PaperFactory.create_batch(30)
    now = timezone.now()
    # Ten vectors in the last nine seconds: one a second; twenty papers left.
    for i, paper in enumerate(papers[:10]):
        _embed([paper], now - timedelta(seconds=9 - i))
    with time_machine_at(now):
        progress = embedding_progress(stored_model_name())
    assert (progress.done, progress.total, progress.remaining) == (10, 30, 20)
    assert progress.per_second == pytest.approx(1.0)
    assert progress.eta_seconds == pytest.approx(20.0)
    # A backlog nobody works on has no pace, so no time left is promised.
    with time_machine_at(now + timedelta(hours=1)):
        assert embedding_progress(stored_model_name()).eta_seconds is None


def test_a_paper_waiting_for_its_vector_says_how_far_embedding_is(cast) -> None:  # type: ignore[no-untyped-def]
    waiting, done = PaperFactory.create_batch(2)
    _embed([done], timezone.now())
    body = client_for(cast.ben).get(f"/papers/{waiting.pk}/").content.decode()
    assert "Embedding: 1 of 2 papers" in body
    assert "None yet (no embedding)" not in body


def test_an_import_reports_how_much_of_its_file_is_read(cast) -> None:  # type: ignore[no-untyped-def]
    report = import_progress_reporter("listing.jsonl", total_bytes=1000)
    report(250)
    now = import_progress()
    assert now is not None and now.name == "listing.jsonl"
    assert (now.bytes.done, now.bytes.total) == (250, 1000)
    body = client_for(cast.ben).get("/progress/").content.decode()
    assert "Import</strong> of listing.jsonl: 25% read" in body
    report(750)  # the end of the file: nothing left to show
    assert import_progress() is None


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(None, ""), (12, "under a minute"), (150, "about 2 min"), (4 * 3600, "about 4 h")],
)
def test_time_left_reads_as_people_say_it(seconds, words: str) -> None:  # type: ignore[no-untyped-def]
    assert eta(seconds) == words


def test_progress_of_nothing_is_finished() -> None:
    assert Progress(0, 0).finished and Progress(0, 0).percent == 100
