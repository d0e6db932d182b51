"""Reads for the home page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from tracker.papers.models import HarvestRun, Paper
from tracker.reproductions.models import Reproduction
from tracker.teams.models import Team
from tracker.topics.models import Topic
from tracker.triage.models import Rating


def home_summary(user: AbstractBaseUser | AnonymousUser) -> dict[str, Any]:
    teams = list(Team.objects.for_user(user))
    return {
        "teams": teams,
        "paper_count": Paper.objects.visible().count(),
        "topic_count": Topic.objects.active().count(),
        "my_rating_count": Rating.objects.for_user(user).filter(user=user).count(),
        "open_reproductions": Reproduction.objects.for_user(user).open().count(),
        "recent_runs": HarvestRun.objects.select_related("source").order_by("-started_at")[:5],
    }
