"""Builders shared by the portal tests: topics, papers in topics, a reproduction underway."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from tests.factories import ClaimFactory, PaperFactory, ReproductionFactory
from tracker.papers.models import Paper
from tracker.reproductions.models import Reproduction, Status
from tracker.topics.models import PaperTopic, Topic


def session_queries() -> int:
    """Queries a signed-in page spends on its session: the sessions are cached, and only the
    database cache (no REDIS_URL) reads the cache with a query."""
    backend = settings.CACHES["default"]["BACKEND"]
    return 1 if backend.endswith("DatabaseCache") else 0


def topic(label: str) -> Topic:
    return Topic.objects.create(label=label)


def paper_in(topic_: Topic | None, *, days_ago: float = 0, **kwargs: Any) -> Paper:
    """A paper published `days_ago`, which reached the tracker then too unless `created_at`
    says when it did (an import of older papers)."""
    published = timezone.now() - timedelta(days=days_ago)
    kwargs.setdefault("created_at", published)
    paper = PaperFactory(published_at=published, **kwargs)
    if topic_ is not None:
        PaperTopic.objects.create(paper=paper, topic=topic_)
    return paper


def reproduction_underway(cast: Any, *, assignee: Any = None, **kwargs: Any) -> Reproduction:
    """A Vision reproduction in progress, proposed by ben, assigned to `assignee` (ben)."""
    repro = ReproductionFactory(
        team=cast.vision, proposed_by=cast.ben, status=Status.IN_PROGRESS, **kwargs
    )
    repro.assignees.add(assignee or cast.ben)
    ClaimFactory(team=cast.vision, paper=repro.paper, claimed_value=71.3, tolerance=0.5)
    return repro
