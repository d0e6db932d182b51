"""Merging two records of one work into one paper, and undoing that merge exactly.

A merge moves what people said and did about the merged paper (ratings, comments,
reproductions, claims, its sources and versions) to the survivor and points the merged
paper at it; the merged row itself stays, so nothing is ever deleted that an undo could
not put back. `PaperMerge.moved` records every id that moved and every value displaced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
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
from tracker.reproductions.models import Claim, Reproduction
from tracker.topics.models import PaperTopic
from tracker.triage.models import Comment, Rating, RatingHistory, Skip

MERGE_REASON = "merge"

# Rows that always follow the paper: nothing on the survivor can clash with them.
_ALWAYS_MOVED: dict[str, type[models.Model]] = {
    "Comment": Comment,
    "Reproduction": Reproduction,
    "Claim": Claim,
    "RatingHistory": RatingHistory,
}
# Every relation to Paper and what a merge does with it; a test fails when a new one appears
# without a decision here.
HANDLED_RELATIONS = {
    "versions": "moved unless the survivor has that version number; the clash stays behind",
    "paper_sources": "moved unless the survivor already lists that URL",
    "ratings": "moved; where a member rated both, the newer wins, the older goes to history",
    "skips": "moved unless the member skipped the survivor too",
    "comments": "moved",
    "reproductions": "moved, with their events and results",
    "claims": "moved, with their results",
    "paper_topic": "moved if the survivor has no topic yet",
    "merged_papers": "papers merged into the merged paper now point at the survivor",
    "embeddings": "stay: each is the vector of its own record's text",
    "claim_drafts": "stay: each is read from its own record's text; a merged record's are closed",
    "merges_received": "history, stays",
    "code_watch": "stay: the survivor's watch reads the merged records' text as well",
    "code_events": "stay, with their link",
    "merges_given": "history, stays",
}
# Blank on the survivor, known on the merged record (a lab post knows its lab): filled in.
_FILLED_FIELDS = ("lab", "pdf_url", "doi", "code_urls", "pinned_for_digest")


class MergeError(ValueError):
    """The merge or undo cannot happen as asked; nothing was changed."""


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


def _move(queryset: models.QuerySet[Any], to: Paper) -> list[int]:
    ids = list(queryset.values_list("pk", flat=True))
    if ids:
        queryset.model._base_manager.filter(pk__in=ids).update(paper=to)
    return ids


def _rating_snapshot(rating: Rating) -> dict[str, Any]:
    return {
        "id": rating.pk,
        "paper": rating.paper_id,
        "team": rating.team_id,
        "user": rating.user_id,
        "value": rating.value,
        "note": rating.note,
        "created_at": rating.created_at.isoformat(),
        "updated_at": rating.updated_at.isoformat(),
    }


def _merge_ratings(survivor: Paper, merged: Paper) -> tuple[list[int], list[dict[str, Any]]]:
    """One rating per member per team: the newer stays live, the older goes to history."""
    on_survivor = {(r.team_id, r.user_id): r for r in Rating.objects.filter(paper=survivor)}
    moving: list[int] = []
    displaced: list[dict[str, Any]] = []
    history: list[RatingHistory] = []
    for rating in Rating.objects.filter(paper=merged).order_by("pk"):
        other = on_survivor.get((rating.team_id, rating.user_id))
        if other is None:
            moving.append(rating.pk)
            continue
        # On a tie the survivor's rating stays: it is the record people were looking at.
        newer, older = (rating, other) if rating.updated_at > other.updated_at else (other, rating)
        displaced.append(_rating_snapshot(older))
        history.append(
            RatingHistory(
                team_id=older.team_id,
                paper=survivor,
                user_id=older.user_id,
                value=older.value,
                note=older.note,
                rated_at=older.updated_at,
                reason=MERGE_REASON,
            )
        )
        older.delete()
        if newer is rating:
            moving.append(rating.pk)
    Rating.objects.filter(pk__in=moving).update(paper=survivor)
    displaced_history = RatingHistory.objects.bulk_create(history)
    for snapshot, entry in zip(displaced, displaced_history, strict=True):
        snapshot["history_id"] = entry.pk
    return moving, displaced


@transaction.atomic
def paper_merge(
    survivor: Paper,
    merged: Paper,
    by: AbstractBaseUser | None,
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
    rows["PaperSource"] = _move(
        PaperSource.objects.filter(paper=merged).exclude(url__in=survivor_urls), survivor
    )
    kept["PaperSource"] = list(
        PaperSource.objects.filter(paper=merged).values_list("pk", flat=True)
    )
    # The survivor's version numbers are its own history (arXiv's v1, v2...). A clashing
    # number from the other record stays on the merged row, reachable through merged_into,
    # rather than being renumbered into a version that never existed.
    survivor_versions = PaperVersion.objects.filter(paper=survivor).values("version")
    rows["PaperVersion"] = _move(
        PaperVersion.objects.filter(paper=merged).exclude(version__in=survivor_versions),
        survivor,
    )
    kept["PaperVersion"] = list(
        PaperVersion.objects.filter(paper=merged).values_list("pk", flat=True)
    )

    for label, model in _ALWAYS_MOVED.items():
        rows[label] = _move(model._base_manager.filter(paper=merged), survivor)

    rows["Rating"], displaced = _merge_ratings(survivor, merged)

    skipped_survivor = set(Skip.objects.filter(paper=survivor).values_list("team_id", "user_id"))
    clash = [
        skip.pk
        for skip in Skip.objects.filter(paper=merged)
        if (skip.team_id, skip.user_id) in skipped_survivor
    ]
    rows["Skip"] = _move(Skip.objects.filter(paper=merged).exclude(pk__in=clash), survivor)
    kept["Skip"] = list(Skip.objects.filter(paper=merged).values_list("pk", flat=True))

    rows["PaperTopic"] = []
    if not PaperTopic.objects.filter(paper=survivor).exists():
        rows["PaperTopic"] = _move(PaperTopic.objects.filter(paper=merged), survivor)

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
        candidate.decided_by = by  # type: ignore[assignment]
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
            "displaced_ratings": displaced,
            "merged_papers": earlier,
            "filled": filled,
            "candidate": previous,
        },
    )


_MODELS: dict[str, type[models.Model]] = {
    "PaperSource": PaperSource,
    "PaperVersion": PaperVersion,
    "Rating": Rating,
    "Skip": Skip,
    "PaperTopic": PaperTopic,
    **_ALWAYS_MOVED,
}


@transaction.atomic
def paper_merge_undo(merge: PaperMerge, by: AbstractBaseUser | None) -> PaperMerge:
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

    for label, ids in moved["rows"].items():
        _MODELS[label]._base_manager.filter(pk__in=ids, paper=survivor).update(paper=merged)

    displaced = moved["displaced_ratings"]
    RatingHistory.objects.filter(
        pk__in=[d["history_id"] for d in displaced], reason=MERGE_REASON
    ).delete()
    Rating.objects.bulk_create(
        [
            Rating(
                pk=d["id"],
                paper_id=d["paper"],
                team_id=d["team"],
                user_id=d["user"],
                value=d["value"],
                note=d["note"],
                created_at=datetime.fromisoformat(d["created_at"]),
                updated_at=datetime.fromisoformat(d["updated_at"]),
            )
            for d in displaced
        ]
    )

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

    merge.undone_by = by  # type: ignore[assignment]
    merge.undone_at = timezone.now()
    merge.save(update_fields=["undone_by", "undone_at"])
    return merge
