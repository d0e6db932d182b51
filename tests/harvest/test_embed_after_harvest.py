"""A harvest that stored new or revised papers asks for their embeddings at once."""

from __future__ import annotations

from unittest import mock

import pytest

from tests.factories import SourceFactory
from tracker.papers.models import HarvestRun, RunStatus
from workers.tasks import harvest_source_task


@pytest.mark.parametrize(("new", "updated", "queued"), [(3, 0, True), (0, 2, True), (0, 0, False)])
def test_embedding_is_queued_only_when_the_harvest_stored_text(
    db: None, new: int, updated: int, queued: bool
) -> None:
    source = SourceFactory()
    run = HarvestRun.objects.create(
        source=source, status=RunStatus.SUCCEEDED, new=new, updated=updated
    )
    with (
        mock.patch("tracker.papers.harvest.source_harvest", return_value=run),
        mock.patch("workers.tasks.embed_pending_papers_task.delay") as delay,
    ):
        assert harvest_source_task.run(source.pk) == run.pk
    assert delay.called is queued
