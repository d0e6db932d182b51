"""Reads for papers and sources."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from tracker.papers.models import HarvestRun, Paper, Source

RECENT_RUNS = 5


def papers_by_arxiv_id(ids: Iterable[str]) -> dict[str, Paper]:
    return {p.arxiv_id: p for p in Paper.objects.filter(arxiv_id__in=list(ids)) if p.arxiv_id}


def sources_with_recent_runs(limit: int = RECENT_RUNS) -> QuerySet[Source]:
    """Every source with its latest runs, in two queries whatever the number of sources."""
    recent = HarvestRun.objects.order_by("-started_at", "-id")[:limit]
    return Source.objects.order_by("kind", "name").prefetch_related(
        Prefetch("runs", queryset=recent, to_attr="recent_runs")
    )
