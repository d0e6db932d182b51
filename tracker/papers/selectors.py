"""Reads for papers and sources."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Prefetch

from tracker.papers.models import HarvestRun, Paper, PaperSource, Source

RECENT_RUNS = 5


def papers_by_arxiv_id(ids: Iterable[str]) -> dict[str, Paper]:
    return {p.arxiv_id: p for p in Paper.objects.filter(arxiv_id__in=list(ids)) if p.arxiv_id}


def sources_with_recent_runs(limit: int = RECENT_RUNS) -> list[Source]:
    """Every source with its latest runs and `waiting_for_arxiv` (its lab reports that wait
    for their arXiv paper), in three queries whatever the number of sources."""
    recent = HarvestRun.objects.order_by("-started_at", "-id")[:limit]
    sources = list(
        Source.objects.order_by("kind", "name").prefetch_related(
            Prefetch("runs", queryset=recent, to_attr="recent_runs")
        )
    )
    # Counted from the few waiting reports outward, never over every source's papers.
    waiting = dict(
        PaperSource.objects.filter(paper__in=Paper.objects.waiting_for_arxiv())
        .values_list("source")
        .annotate(count=Count("paper", distinct=True))
        .values_list("source", "count")
    )
    for source in sources:
        source.waiting_for_arxiv = waiting.get(source.pk, 0)  # type: ignore[attr-defined]
    return sources


def reaped_runs_sources(run_ids: list[int]) -> set[int]:
    """The sources of these (reaped) runs, to be harvested again."""
    return set(HarvestRun.objects.filter(pk__in=run_ids).values_list("source_id", flat=True))
