"""Reads for papers and sources."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Prefetch, Subquery

from tracker.papers.models import (
    HarvestRun,
    Paper,
    PaperSource,
    RunErrorKind,
    RunStatus,
    Source,
)

RECENT_RUNS = 5


def papers_by_arxiv_id(ids: Iterable[str]) -> dict[str, Paper]:
    return {p.arxiv_id: p for p in Paper.objects.filter(arxiv_id__in=list(ids)) if p.arxiv_id}


@dataclass(frozen=True)
class SourceRow:
    """A row of the Sources page: the source, its latest runs (newest first) and how many of
    its lab reports wait for their arXiv paper."""

    source: Source
    recent_runs: list[HarvestRun]
    waiting_for_arxiv: int


def sources_with_recent_runs(limit: int = RECENT_RUNS) -> list[SourceRow]:
    """Every source with its latest runs and its lab reports that wait for their arXiv
    paper, in three queries whatever the number of sources."""
    recent = HarvestRun.objects.order_by("-started_at", "-id")[:limit]
    sources = list(
        Source.objects.order_by("kind", "name").prefetch_related(
            Prefetch("runs", queryset=recent, to_attr="recent")
        )
    )
    # Counted from the few waiting reports outward, never over every source's papers.
    waiting = dict(
        PaperSource.objects.filter(paper__in=Paper.objects.waiting_for_arxiv())
        .values_list("source")
        .annotate(count=Count("paper", distinct=True))
        .values_list("source", "count")
    )
    return [
        SourceRow(
            source=source,
            recent_runs=source.recent,  # Prefetch's to_attr: a sliced prefetch needs one
            waiting_for_arxiv=waiting.get(source.pk, 0),
        )
        for source in sources
    ]


def sources_all_offline() -> bool:
    """True when there are enabled sources and the latest finished run of every one of them
    failed for want of a network: then nothing will arrive until the machine is online, and
    the person should hear how to import papers instead. One query."""
    latest = HarvestRun.objects.filter(source=OuterRef("pk")).exclude(status=RunStatus.RUNNING)
    kinds = list(
        Source.objects.filter(enabled=True)
        .annotate(
            last_status=Subquery(latest.order_by("-started_at", "-id").values("status")[:1]),
            last_kind=Subquery(latest.order_by("-started_at", "-id").values("error_kind")[:1]),
        )
        .values_list("last_status", "last_kind")
    )
    return bool(kinds) and all(
        status == RunStatus.FAILED and kind == RunErrorKind.NETWORK for status, kind in kinds
    )


def reaped_runs_sources(run_ids: list[int]) -> set[int]:
    """The sources of these (reaped) runs, to be harvested again."""
    return set(HarvestRun.objects.filter(pk__in=run_ids).values_list("source_id", flat=True))
