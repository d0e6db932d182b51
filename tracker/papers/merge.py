"""Merging two records of one work into one paper, and undoing that merge exactly.

A merge moves what people said and did about the merged paper (ratings, comments,
reproductions, claims, its sources and versions) to the survivor and points the merged
paper at it; the merged row itself stays, so nothing is ever deleted that an undo could
not put back. `PaperMerge.moved` records every id that moved and every value displaced.

Papers sit below the apps whose rows point at a paper (ratings, reproductions, topics), so
this module does not import them: each of those apps registers a `MergeStep` in its
AppConfig.ready() saying what a merge does with its rows and how to undo it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from tracker.papers.models import (
    CandidateStatus,
    DuplicateCandidate,
    Paper,
    PaperMerge,
    PaperSource,
    PaperVersion,
)

MERGE_REASON = "merge"

# Every relation to Paper and what a merge does with it; a test fails when a new one appears
# without a decision here. The apps above papers add theirs with merge_step_register().
HANDLED_RELATIONS: dict[str, str] = {
    "versions": "moved unless the survivor has that version number; the clash stays behind",
    "paper_sources": "moved unless the survivor already lists that URL",
    "merged_papers": "papers merged into the merged paper now point at the survivor",
    "embeddings": "stay: each is the vector of its own record's text",
    "vectors": "stay: the pgvector copy of each embedding, with its embedding",
    "merges_received": "history, stays",
    "code_watch": "stay: the survivor's watch reads the merged records' text as well",
    "code_events": "stay, with their link",
    "merges_given": "history, stays",
}
# Blank on the survivor, known on the merged record (a lab post knows its lab): filled in.
_FILLED_FIELDS = ("lab", "pdf_url", "doi", "code_urls", "pinned_for_digest")


class MergeError(ValueError):
    """The merge or undo cannot happen as asked; nothing was changed."""


@dataclass
class MergeMoves:
    """What one step did: ids moved and ids left behind, per model label, and anything else
    its undo needs (stored under its own key of `PaperMerge.moved`)."""

    rows: dict[str, list[int]]
    kept: dict[str, list[int]] = dataclass_field(default_factory=dict)
    extra: dict[str, Any] = dataclass_field(default_factory=dict)


@dataclass(frozen=True)
class MergeStep:
    """One app's part of a merge. `models` names the models whose moved ids `PaperMerge`
    records, so that undo can move them back; `undo` restores anything else (`extra`)."""

    app: str
    relations: dict[str, str]
    models: dict[str, type[models.Model]]
    merge: Callable[[Paper, Paper], MergeMoves]
    undo: Callable[[Paper, Paper, dict[str, Any]], None] | None = None


# Keyed by app label, so that running ready() twice registers nothing twice.
_STEPS: dict[str, MergeStep] = {}


def merge_step_register(step: MergeStep) -> None:
    """Called from the AppConfig.ready() of an app whose rows point at papers."""
    _STEPS[step.app] = step
    HANDLED_RELATIONS.update(step.relations)


def rows_move(queryset: models.QuerySet[Any], to: Paper) -> list[int]:
    """Point every row of `queryset` at `to`; the ids moved, for the undo."""
    ids = list(queryset.values_list("pk", flat=True))
    if ids:
        queryset.model._base_manager.filter(pk__in=ids).update(paper=to)
    return ids


def _lock_pair(first_id: int, second_id: int) -> tuple[Paper, Paper]:
    # Locked in id order so two curators merging crossing pairs cannot deadlock.
    rows = {
        paper.pk: paper
        for paper in Paper.objects.select_for_update()
        .filter(pk__in=[first_id, second_id])
        .order_by("pk")
    }
    if len(rows) != 2:
        raise MergeError("Both papers must exist.")
    return rows[first_id], rows[second_id]


@transaction.atomic
def paper_merge(
    survivor: Paper,
    merged: Paper,
    by: User | None,
    candidate: DuplicateCandidate | None = None,
) -> PaperMerge:
    """Merge `merged` into `survivor`, keeping everything, and record how to undo it."""
    if survivor.pk == merged.pk:
        raise MergeError("A paper cannot be merged into itself.")
    survivor, merged = _lock_pair(survivor.pk, merged.pk)
    if survivor.merged_into_id or merged.merged_into_id:
        raise MergeError("One of these papers was already merged into another.")

    rows: dict[str, list[int]] = {}
    kept: dict[str, list[int]] = {}

    survivor_urls = PaperSource.objects.filter(paper=survivor).values("url")
    rows["PaperSource"] = rows_move(
        PaperSource.objects.filter(paper=merged).exclude(url__in=survivor_urls), survivor
    )
    kept["PaperSource"] = list(
        PaperSource.objects.filter(paper=merged).values_list("pk", flat=True)
    )
    # The survivor's version numbers are its own history (arXiv's v1, v2...). A clashing
    # number from the other record stays on the merged row, reachable through merged_into,
    # rather than being renumbered into a version that never existed.
    survivor_versions = PaperVersion.objects.filter(paper=survivor).values("version")
    rows["PaperVersion"] = rows_move(
        PaperVersion.objects.filter(paper=merged).exclude(version__in=survivor_versions),
        survivor,
    )
    kept["PaperVersion"] = list(
        PaperVersion.objects.filter(paper=merged).values_list("pk", flat=True)
    )

    extra: dict[str, Any] = {}
    for step in _STEPS.values():
        moves = step.merge(survivor, merged)
        rows.update(moves.rows)
        kept.update(moves.kept)
        extra.update(moves.extra)

    earlier = list(Paper.objects.filter(merged_into=merged).values_list("pk", flat=True))
    Paper.objects.filter(pk__in=earlier).update(merged_into=survivor)

    filled: dict[str, dict[str, Any]] = {}
    for field in _FILLED_FIELDS:
        mine, theirs = getattr(survivor, field), getattr(merged, field)
        if not mine and theirs:
            filled[field] = {"old": mine, "new": theirs}
            setattr(survivor, field, theirs)
    if filled:
        survivor.save(update_fields=[*filled, "updated_at"])
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into", "updated_at"])

    low, high = sorted((survivor.pk, merged.pk))
    candidate = candidate or DuplicateCandidate.objects.filter(paper_a=low, paper_b=high).first()
    previous: dict[str, Any] | None = None
    if candidate is not None:
        previous = {
            "status": candidate.status,
            "decided_by": candidate.decided_by_id,
            "decided_at": candidate.decided_at.isoformat() if candidate.decided_at else None,
        }
        candidate.status = CandidateStatus.ACCEPTED
        candidate.decided_by = by
        candidate.decided_at = timezone.now()
        candidate.save(update_fields=["status", "decided_by", "decided_at"])

    return PaperMerge.objects.create(
        survivor=survivor,
        merged=merged,
        candidate=candidate,
        merged_by=by,
        moved={
            "rows": rows,
            "kept": kept,
            **extra,
            "merged_papers": earlier,
            "filled": filled,
            "candidate": previous,
        },
    )


def _models() -> dict[str, type[models.Model]]:
    """Every model whose moved ids a merge records, by its label in `PaperMerge.moved`."""
    found: dict[str, type[models.Model]] = {
        "PaperSource": PaperSource,
        "PaperVersion": PaperVersion,
    }
    for step in _STEPS.values():
        found.update(step.models)
    return found


@transaction.atomic
def paper_merge_undo(merge: PaperMerge, by: User | None) -> PaperMerge:
    """Put both papers back as they were before `merge`; the record stays, marked undone."""
    merge = PaperMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise MergeError("This merge was already undone.")
    survivor, merged = _lock_pair(merge.survivor_id, merge.merged_id)
    if merged.merged_into_id != survivor.pk:
        raise MergeError("The merged paper no longer points at the survivor.")
    # Later merges may have moved or displaced the very rows this one moved: unwinding out
    # of order could not restore them exactly, so it is refused.
    if survivor.merged_into_id is not None:
        raise MergeError("The survivor was merged again since; undo that merge first.")
    later = PaperMerge.objects.filter(
        Q(survivor__in=[survivor, merged]) | Q(merged__in=[survivor, merged]),
        merged_at__gt=merge.merged_at,
        undone_at__isnull=True,
    )
    if later.exists():
        raise MergeError("A later merge involves these papers; undo it first.")
    moved = merge.moved

    known = _models()
    for label, ids in moved["rows"].items():
        known[label]._base_manager.filter(pk__in=ids, paper=survivor).update(paper=merged)
    for step in _STEPS.values():
        if step.undo is not None:
            step.undo(survivor, merged, moved)

    Paper.objects.filter(pk__in=moved["merged_papers"], merged_into=survivor).update(
        merged_into=merged
    )
    # A field a curator changed after the merge is theirs now; only untouched ones go back.
    restored = [
        field
        for field, change in moved["filled"].items()
        if getattr(survivor, field) == change["new"]
    ]
    for field in restored:
        setattr(survivor, field, moved["filled"][field]["old"])
    if restored:
        survivor.save(update_fields=[*restored, "updated_at"])
    merged.merged_into = None
    merged.save(update_fields=["merged_into", "updated_at"])

    previous = moved.get("candidate")
    if merge.candidate_id and previous:
        DuplicateCandidate.objects.filter(pk=merge.candidate_id).update(
            status=previous["status"],
            decided_by_id=previous["decided_by"],
            decided_at=datetime.fromisoformat(previous["decided_at"])
            if previous["decided_at"]
            else None,
        )

    merge.undone_by = by
    merge.undone_at = timezone.now()
    merge.save(update_fields=["undone_by", "undone_at"])
    return merge
