"""Reproductions' part of merging two papers: reproductions (with their events and results)
and claims (with their results) follow the paper; nothing on the survivor can clash with
them. Registered in ReproductionsConfig.ready()."""

from __future__ import annotations

from tracker.papers.merge import MergeMoves, MergeStep, rows_move
from tracker.papers.models import Paper
from tracker.reproductions.models import Claim, Reproduction


def reproductions_merge(survivor: Paper, merged: Paper) -> MergeMoves:
    return MergeMoves(
        rows={
            "Reproduction": rows_move(Reproduction._base_manager.filter(paper=merged), survivor),
            "Claim": rows_move(Claim._base_manager.filter(paper=merged), survivor),
        }
    )


MERGE_STEP = MergeStep(
    app="reproductions",
    relations={
        "reproductions": "moved, with their events and results",
        "claims": "moved, with their results",
        "claim_drafts": (
            "stay: each is read from its own record's text; a merged record's are closed"
        ),
    },
    models={"Reproduction": Reproduction, "Claim": Claim},
    merge=reproductions_merge,
)
