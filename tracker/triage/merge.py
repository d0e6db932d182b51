"""Triage's part of merging two papers: comments and rating history follow the paper; one
rating per member per team survives (the newer), the older goes to history; a skip moves
unless the member skipped the survivor too. Registered in TriageConfig.ready()."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracker.papers.merge import MERGE_REASON, MergeMoves, MergeStep, rows_move
from tracker.papers.models import Paper
from tracker.triage.models import Assignment, Comment, Rating, RatingHistory, Skip


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


def triage_merge(survivor: Paper, merged: Paper) -> MergeMoves:
    rows = {
        # Nothing on the survivor can clash with these: they always follow the paper.
        "Comment": rows_move(Comment._base_manager.filter(paper=merged), survivor),
        "RatingHistory": rows_move(RatingHistory._base_manager.filter(paper=merged), survivor),
    }
    rows["Rating"], displaced = _merge_ratings(survivor, merged)
    kept: dict[str, list[int]] = {}
    for name, model in (("Skip", Skip), ("Assignment", Assignment)):
        on_survivor = set(model.objects.filter(paper=survivor).values_list("team_id", "user_id"))
        clash = [
            row.pk
            for row in model.objects.filter(paper=merged)
            if (row.team_id, row.user_id) in on_survivor
        ]
        rows[name] = rows_move(model.objects.filter(paper=merged).exclude(pk__in=clash), survivor)
        kept[name] = list(model.objects.filter(paper=merged).values_list("pk", flat=True))
    return MergeMoves(rows=rows, kept=kept, extra={"displaced_ratings": displaced})


def triage_merge_undo(survivor: Paper, merged: Paper, moved: dict[str, Any]) -> None:
    """Put back the ratings the merge displaced (the moved rows went back already)."""
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


MERGE_STEP = MergeStep(
    app="triage",
    relations={
        "ratings": "moved; where a member rated both, the newer wins, the older goes to history",
        "skips": "moved unless the member skipped the survivor too",
        "comments": "moved",
        "assignments": "moved unless the member has the survivor in their share too",
    },
    models={
        "Comment": Comment,
        "RatingHistory": RatingHistory,
        "Rating": Rating,
        "Skip": Skip,
        "Assignment": Assignment,
    },
    merge=triage_merge,
    undo=triage_merge_undo,
)
