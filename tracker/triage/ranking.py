"""Reads for the inbox's ranked orders: the member's "for you" ranking and the team's
predicted rating, from the database into pipeline.ranking's plain data and back.

A fixed number of queries whatever the number of papers: the window's ids, the team's
ratings (less the others' of papers rated blind for the member), the topics of the papers
they rated, the member's topic follows and skips (a "not interested" is a stronger skip), and,
when the set of papers changed, their texts and vectors. The features of a set of papers
(pipeline.ranking.PaperSpace) are kept per process, keyed by the set: a rating moves a
paper from the candidates to the rated papers, which leaves the set as it was, so the
next load only refits the member's own model (milliseconds).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import cast

import numpy as np
from django.db.models import OuterRef, Q, QuerySet, Subquery

from pipeline.ranking import MemberModel, PaperDoc, PaperSpace, Signals, TeamRating, team_predict
from tracker.papers.embeddings import search_model_name, stored_model_name
from tracker.papers.models import Embedding, Paper
from tracker.teams.models import Membership
from tracker.topics.models import PaperTopic, TopicFollow
from tracker.triage.models import Rating, Skip
from tracker.triage.selectors import blind_assignments

# The newest this many papers of the window are ranked; past a week of harvest (about a
# thousand a day) the rest keep date order behind them.
RANK_LIMIT = 5000
# Paper spaces kept per process: one per team's current set of papers, give or take.
SPACES_KEPT = 8


@dataclass(frozen=True)
class RankedPaper:
    paper_id: int
    score: float
    reason: str
    team_prediction: float | None


_spaces: OrderedDict[tuple[str, str], PaperSpace] = OrderedDict()
_lock = threading.Lock()


def ranking_forget() -> None:
    """Drop the kept paper spaces (tests)."""
    with _lock:
        _spaces.clear()


def _space(model_name: str, topics: dict[int, int | None]) -> PaperSpace:
    """The features of these papers (id: topic id), from the kept ones when the set and
    its topics are unchanged, else read (texts, vectors: two queries) and built."""
    ids = sorted(topics)
    fingerprint = ",".join(f"{pk}:{topics[pk] or ''}" for pk in ids)
    key = (model_name, hashlib.sha256(fingerprint.encode()).hexdigest())
    with _lock:
        space = _spaces.get(key)
        if space is not None:
            _spaces.move_to_end(key)
            return space
    texts = {
        pk: (title, abstract, authors)
        for pk, title, abstract, authors in Paper.objects.filter(pk__in=ids).values_list(
            "pk", "title", "abstract", "authors"
        )
    }
    vectors = (
        {
            paper_id: np.frombuffer(bytes(vector), dtype="<f4")
            for paper_id, vector in Embedding.objects.filter(
                model_name=model_name, paper_id__in=ids
            ).values_list("paper_id", "vector")
        }
        if model_name
        else {}
    )
    dimension = len(next(iter(vectors.values()))) if vectors else 0
    # A paper not embedded yet has no direction: close to nothing, far from nothing.
    matrix = (
        np.vstack([vectors.get(pk, np.zeros(dimension, dtype="<f4")) for pk in ids])
        if dimension
        else None
    )
    docs = [
        PaperDoc(
            key=pk,
            title=texts[pk][0],
            abstract=texts[pk][1],
            authors=tuple(texts[pk][2] or ()),
            labels=frozenset({f"topic:{topics[pk]}"} if topics[pk] else ()),
        )
        for pk in ids
    ]
    space = PaperSpace(docs, matrix)
    with _lock:
        _spaces[key] = space
        while len(_spaces) > SPACES_KEPT:
            _spaces.popitem(last=False)
    return space


def member_ranking(
    membership: Membership, candidates: QuerySet[Paper], explain: int | None = None
) -> list[RankedPaper]:
    """`candidates` (newest first) ranked for the member, best first, each with why (the
    first `explain` only, when given) and with what the team would rate it. With no
    signal at all the order stays newest first."""
    team, user_id = membership.team, membership.user_id
    topic_of = Subquery(PaperTopic.objects.filter(paper_id=OuterRef("pk")).values("topic_id")[:1])
    window = list(candidates.annotate(in_topic=topic_of).values_list("pk", "in_topic")[:RANK_LIMIT])
    if not window:
        return []
    # Others' ratings of a paper rated blind for the member stay out: the team's
    # prediction would give them away.
    hidden = blind_assignments(team, user_id).values("paper_id")
    ratings = list(
        Rating.objects.filter(team=team)
        .exclude(Q(paper_id__in=hidden) & ~Q(user_id=user_id))
        .values_list("user_id", "paper_id", "value")
    )
    # The member's skips, and every "not interested" of the team: a "not interested" is a
    # negative only when its paper is in the space, which is the team's (one per team, so
    # it is kept), hence everyone's.
    passed = list(
        Skip.objects.filter(team=team)
        .filter(Q(user_id=user_id) | Q(not_interested=True))
        .values_list("user_id", "paper_id", "not_interested")
    )
    topics = dict(window)
    rated_ids = (
        {paper_id for _, paper_id, _ in ratings}
        | {paper_id for _, paper_id, flat_no in passed if flat_no}
    ) - topics.keys()
    if rated_ids:
        topics |= dict(
            Paper.objects.filter(pk__in=rated_ids)
            .annotate(in_topic=topic_of)
            .values_list("pk", "in_topic")
        )
    space = _space(search_model_name(stored_model_name()) or "", topics)
    follows = TopicFollow.objects.filter(user_id=user_id).values_list("topic_id", flat=True)
    mine = [(paper_id, flat_no) for uid, paper_id, flat_no in passed if uid == user_id]
    signals = Signals(
        ratings={paper_id: value for uid, paper_id, value in ratings if uid == user_id},
        skipped={paper_id for paper_id, flat_no in mine if not flat_no},
        not_interested={paper_id for paper_id, flat_no in mine if flat_no},
        labels={f"topic:{topic_id}" for topic_id in follows},
    )
    everyone = [TeamRating(uid, paper_id, value) for uid, paper_id, value in ratings]
    others = [r for r in everyone if r.member != user_id]
    keys = [pk for pk, _ in window]
    predicted = team_predict(space, everyone, keys)
    return [
        RankedPaper(cast(int, r.key), r.score, r.reason, predicted.get(r.key))  # paper ids
        for r in MemberModel(space, signals, others).rank(keys, explain=explain)
    ]
