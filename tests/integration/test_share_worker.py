"""New papers are shared out by a real worker over Redis, queued after an embedding run
commits; the task is safe to run twice."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.factories import MembershipFactory, PaperFactory, UserFactory
from tests.integration.conftest import celery_app, running_worker, wait_for
from tracker.papers.embeddings import embedding_run_announce
from tracker.teams.models import Membership
from tracker.triage.models import Assignment

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _readers() -> set[tuple[str, int, str]]:
    return set(Assignment.objects.values_list("team__name", "paper_id", "user__username"))


def test_an_embedding_run_queues_the_sharing_of_its_new_papers_after_commit(
    cast, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    app = celery_app(redis_url, redis_url)
    with running_worker(app):
        with transaction.atomic():
            paper = PaperFactory()
            embedding_run_announce([paper.pk])
            # Queued on commit: nothing has run while the transaction is open.
            assert not Assignment.objects.exists()
        assert wait_for(lambda: len(_readers()) == 3, timeout=60)
        assert _readers() == {
            ("Vision", paper.pk, "ada"),
            ("Vision", paper.pk, "ben"),
            ("Language", paper.pk, "carol"),
        }
        # A second delivery of the same papers shares nothing twice.
        task = app.tasks["workers.tasks.share_papers_task"]
        assert task.apply_async(args=[[paper.pk]]).get(timeout=60) == 0
        # A rolled-back run queues nothing.
        with pytest.raises(RuntimeError), transaction.atomic():
            rolled_back = PaperFactory()
            embedding_run_announce([rolled_back.pk])
            raise RuntimeError("the run failed")
        sweep = app.tasks["workers.tasks.sweep_shares_task"]
        assert sweep.apply_async().get(timeout=60) == 0
        # ben leaves Vision; dan, who joined, takes over his unread share.
        dan = UserFactory(username="dan")
        MembershipFactory(team=cast.vision, user=dan)
        Membership.objects.filter(team=cast.vision, user=cast.ben).delete()
        assert wait_for(lambda: ("Vision", paper.pk, "dan") in _readers(), timeout=60)
    assert _readers() == {
        ("Vision", paper.pk, "ada"),
        ("Vision", paper.pk, "dan"),
        ("Language", paper.pk, "carol"),
    }
