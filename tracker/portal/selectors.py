"""Reads for the home page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from tracker.papers.embeddings import embedding_progress, stored_model_name
from tracker.papers.models import HarvestRun, Paper, RunStatus
from tracker.papers.progress import import_progress
from tracker.reproductions.models import Reproduction
from tracker.teams.models import Team
from tracker.topics.models import Topic
from tracker.topics.selectors import clustering_progress
from tracker.topics.services import MIN_PAPERS
from tracker.triage.models import Rating


def home_summary(user: User) -> dict[str, Any]:
    teams = list(Team.objects.for_user(user))
    return {
        "teams": teams,
        "paper_count": Paper.objects.visible().count(),
        "topic_count": Topic.objects.active().count(),
        "my_rating_count": Rating.objects.for_user(user).filter(user=user).count(),
        "open_reproductions": Reproduction.objects.for_user(user).open().count(),
        "recent_runs": HarvestRun.objects.select_related("source").order_by("-started_at")[:5],
    }


def pipeline_progress() -> dict[str, Any]:
    """What the pipeline is doing now, for the progress panel of the home and Sources pages:
    an import, harvests under way, embedding (papers with a vector of all papers) and
    clustering, each with counts and the time left where it can be told."""
    configured = stored_model_name()
    embedding = embedding_progress(configured)
    harvests = list(
        HarvestRun.objects.filter(status=RunStatus.RUNNING)
        .select_related("source")
        .only("source__name", "started_at", "fetched", "new", "updated")
        .order_by("started_at")
    )
    clustering = clustering_progress(embedding.total)
    importing = import_progress()
    topics_waiting = (
        embedding.total >= MIN_PAPERS
        and clustering.topic_count == 0
        and clustering.running_since is None
    )
    return {
        "importing": importing,
        "harvests": harvests,
        "embedding": embedding,
        "clustering": clustering,
        "topics_waiting": topics_waiting,
        "active": bool(
            importing
            or harvests
            or not embedding.finished
            or clustering.running_since
            or topics_waiting
        ),
    }


def readme_section(heading: str) -> str:
    """The text of one `### heading` section of the README (to the next heading), so the
    page that links to it shows the same words a reader of the checkout sees."""
    from django.conf import settings

    lines = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8").splitlines()
    marker = f"### {heading}"
    if marker not in lines:
        return ""
    body = lines[lines.index(marker) + 1 :]
    end = next((i for i, line in enumerate(body) if line.startswith("#")), len(body))
    return "\n".join(body[:end]).strip()
