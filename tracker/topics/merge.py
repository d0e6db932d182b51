"""Topics' part of merging two papers: the merged paper's topic moves only if the survivor
has none yet. Registered in TopicsConfig.ready()."""

from __future__ import annotations

from tracker.papers.merge import MergeMoves, MergeStep, rows_move
from tracker.papers.models import Paper
from tracker.topics.models import PaperTopic


def topics_merge(survivor: Paper, merged: Paper) -> MergeMoves:
    moved: list[int] = []
    if not PaperTopic.objects.filter(paper=survivor).exists():
        moved = rows_move(PaperTopic.objects.filter(paper=merged), survivor)
    return MergeMoves(rows={"PaperTopic": moved})


MERGE_STEP = MergeStep(
    app="topics",
    relations={"paper_topic": "moved if the survivor has no topic yet"},
    models={"PaperTopic": PaperTopic},
    merge=topics_merge,
)
