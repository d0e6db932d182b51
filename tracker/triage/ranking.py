"""Reads for the inbox's ranked orders: the member's "for you" ranking and the team's
predicted rating, from the database into pipeline.ranking's plain data and back.

A fixed number of queries whatever the number of papers: the window's ids, the ratings
(less the others' of papers rated blind for the member), the topics of the papers they
rated, the member's topic follows and skips (a "not interested" is a stronger skip), and,
when the set of papers changed, their texts and vectors.

What is read is bounded whatever the team's history: the window (RANK_LIMIT papers), every
rating of a paper in it, the member's own OWN_KEPT latest ratings and skips, and each
teammate's TEAM_KEPT_PER_MEMBER latest ratings. Fifty thousand team ratings cost no more
than five hundred.

The features of a set of papers (pipeline.ranking.PaperSpace) are kept per process and a
kept one serves any load whose papers it holds (with the same topics). It is built over
SPACE_MARGIN more candidates than are ranked, so a rating, which moves a paper from the
candidates to the rated papers and lets the next candidate into the window, finds its
papers kept: the next load only refits the member's own model (milliseconds).

The teammates' ratings (the prior) are kept in the "pages" cache per member for
TEAM_PRIOR_SECONDS: reading them numbers the team's every rating. The member's own ratings
are read on every fit, so a rating shows on the member's next load, a teammate's within
TEAM_PRIOR_SECONDS.

A member's fitted order is kept in the "pages" cache (Redis, shared by every web process)
under a key made of what it is fitted on: the window's papers and topics, a version of the
member's own ratings (one aggregate over their rows), the prior's digest, the member's
skips, follows and topic follows, and the model. A reload or a "Load more" reads those and
finds the order kept; a rating changes them, and the next load reads the member's ratings
and fits again. The fitted model is kept in the process too, with its scores of the
window, so that the inbox's filters (member_ranking's `within`) rank the papers they keep
by those scores instead of fitting again: a filtered page lists its papers in the order
they have among all, and its first load, given the key of the view's kept order, reads
neither the window nor the inputs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, cast

import numpy as np
from django.core.cache import caches
from django.db.models import (
    BooleanField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import RowNumber

from pipeline.ranking import (
    MemberModel,
    PaperDoc,
    PaperSpace,
    Scored,
    Signals,
    TeamPredictor,
    TeamRating,
)
from tracker.core.cache import pages_key
from tracker.core.lru import Lru
from tracker.follows.models import Follow
from tracker.follows.selectors import followed_reasons, inbox_follows, seed_papers
from tracker.papers.embeddings import search_model_name, stored_model_name
from tracker.papers.models import Embedding, Paper
from tracker.teams.models import Membership, Team
from tracker.topics.models import PaperTopic, TopicFollow
from tracker.triage.models import Rating, Skip
from tracker.triage.selectors import blind_assignments, own_versions

# The newest this many papers of the window are ranked; past a week of harvest (about a
# thousand a day) the rest keep date order behind them.
RANK_LIMIT = 5000
# Paper spaces kept per process: one per team's current set of papers, give or take.
SPACES_KEPT = 8
# A space holds this many candidates past the window, so that the window can move on by a
# few papers (each rating lets one in) without building the space again.
SPACE_MARGIN = 500
# A kept space serves a load whose papers it holds, or is extended by the few it misses
# (at most EXTEND_LIMIT: each member's own rated papers, a harvest's new papers), while it
# is not more than SPACE_SLACK times as large as the load needs: its extra papers only
# stand in as the background. Past that it is built again, vocabularies and all.
SPACE_SLACK = 4.0
EXTEND_LIMIT = 1000
# The member's own latest ratings and skips that teach their model: a taste moves, and a
# model over two hundred ratings fits in milliseconds where one over thousands took
# seconds (its cost grows with the square of its examples and more).
OWN_KEPT = 200
# Each teammate's latest ratings: the team's prior for the member's model and the papers
# the team's prediction finds neighbours among. Every rating of a candidate counts besides.
TEAM_KEPT_PER_MEMBER = 50
# The teammates' ratings are read at most this often for a member (_Prior); the member's
# own ratings, skips and follows on every load that fits.
TEAM_PRIOR_SECONDS = 60
# Reasons and team predictions are worked out for the papers a page can show (`explain`)
# and this many more, so that the next page ("Load more") finds them in the kept order.
EXPLAIN_AHEAD = 50


class RankedPaper(NamedTuple):
    """A paper's place in a member's order (a tuple: a kept order of thousands is made
    again on every reload, and a frozen dataclass costs several times as much to make)."""

    paper_id: int
    score: float
    reason: str
    team_prediction: float | None


@dataclass
class _Kept:
    model_name: str
    topics: dict[int, int | None]
    space: PaperSpace


# The paper spaces kept in this process (_space), each under its id().
_spaces: Lru[int, _Kept] = Lru(SPACES_KEPT)


# What the member's follows pick out of the inbox's papers, kept for a short while in the
# "pages" cache (shared by every web process): the matching reads the papers' texts,
# sources and topics (a few hundred ms over thousands of papers), while a rating, the usual
# reason to load the inbox again, only takes a paper out. Kept per set of follows, for the
# (paper, topic) pairs matched; a later load matches only the pairs it has not seen (new
# papers, a paper moved to another topic), and a new or changed follow is matched afresh at
# once. A source or lab that a paper gains shows within FOLLOWED_KEPT_SECONDS.
@dataclass(frozen=True)
class _Matched:
    at: float  # when the first of these pairs was matched (wall clock: shared by processes)
    pairs: frozenset[tuple[int, int | None]]
    reasons: dict[int, str]


FOLLOWED_KEPT_SECONDS = 300

# A kept order lives no longer than a kept follow match: what its key leaves out (a source
# a paper gains, a vector stored for a paper already ranked) shows within this long.
ORDER_KEPT_SECONDS = FOLLOWED_KEPT_SECONDS


def ranking_forget() -> None:
    """Drop the paper spaces and fitted models kept in this process (tests)."""
    _spaces.clear()
    _models.clear()
    _priors.clear()


def _follows_fingerprint(follows: Sequence[Follow]) -> str:
    """What of the follows decides which papers they match and the reason they give."""
    return repr(
        sorted(
            (f.pk, f.kind, f.value, f.label, f.source_id, f.topic_id, f.paper_id) for f in follows
        )
    )


def _followed_kept(
    follows: Sequence[Follow], candidates: QuerySet[Paper], window: list[tuple[int, int | None]]
) -> dict[int, str]:
    """followed_reasons of the window's papers, matching only the (paper, topic) pairs that
    the answer kept for these follows has not seen in the last FOLLOWED_KEPT_SECONDS."""
    if not follows:
        return {}
    key = pages_key("followed", _follows_fingerprint(follows))
    now = time.time()
    kept = caches["pages"].get(key)  # a miss while Redis is down (tracker.core.cache)
    if (
        not isinstance(kept, _Matched)
        or not 0 <= now - kept.at < FOLLOWED_KEPT_SECONDS
        or len(kept.pairs) > 4 * RANK_LIMIT
    ):
        kept = _Matched(now, frozenset(), {})
    unseen = [pair for pair in window if pair not in kept.pairs]
    if unseen:
        new_ids = [pk for pk, _ in unseen]
        fresh = followed_reasons(follows, candidates.filter(pk__in=new_ids))
        matched_again = set(new_ids)
        reasons = {pk: r for pk, r in kept.reasons.items() if pk not in matched_again} | fresh
        kept = _Matched(kept.at, kept.pairs | frozenset(unseen), reasons)
        left = max(1, int(FOLLOWED_KEPT_SECONDS - (now - kept.at)))
        caches["pages"].set(key, kept, left)
    in_window = {pk for pk, _ in window}
    return {pk: reason for pk, reason in kept.reasons.items() if pk in in_window}


def _space(
    model_name: str, topics: dict[int, int | None], margin: dict[int, int | None]
) -> PaperSpace:
    """A space holding these papers (id: topic id) with these topics: a kept one when one
    does, the kept one that misses fewest extended by the papers it misses (when they are
    few and the space stays within SPACE_SLACK of what is needed), else one built over
    them and the `margin` papers. A space whose papers moved topic is not used."""
    needed = len(topics) + len(margin)
    best: tuple[int, _Kept] | None = None
    for key, kept in reversed(_spaces.items()):
        if kept.model_name != model_name:
            continue
        missing = [pk for pk in topics if pk not in kept.topics]
        if (
            len(missing) <= EXTEND_LIMIT
            and len(kept.topics) + len(missing) <= SPACE_SLACK * needed
            and all(kept.topics.get(pk, topic) == topic for pk, topic in topics.items())
            and (best is None or len(missing) < best[0])
        ):
            best = (key, kept)
            if not missing:
                _spaces.get(key)  # the most recently used now
                return kept.space
    if best is not None:
        key, kept = best
        missing_topics = {pk: topic for pk, topic in topics.items() if pk not in kept.topics}
        dimension = kept.space.vectors.shape[1] if kept.space.vectors is not None else 0
        docs, matrix = _docs(model_name, missing_topics, dimension)
        space = kept.space.extended(docs, matrix)
        kept_topics = kept.topics | missing_topics
        _spaces.pop(key)
    else:
        topics = margin | topics
        docs, matrix = _docs(model_name, topics, None)
        space = PaperSpace(docs, matrix)
        kept_topics = dict(topics)
    _spaces.put(id(space), _Kept(model_name, kept_topics, space))
    return space


def _docs(
    model_name: str, topics: dict[int, int | None], dimension: int | None
) -> tuple[list[PaperDoc], np.ndarray | None]:
    """These papers as the ranking sees them, and their vectors (`dimension`: theirs, or
    None to take the stored vectors' own; 0: no vectors) in the same order: two queries."""
    ids = sorted(topics)
    texts = {
        pk: (title, abstract, authors, categories, primary)
        for pk, title, abstract, authors, categories, primary in Paper.objects.filter(
            pk__among=ids
        ).values_list("pk", "title", "abstract", "authors", "categories", "primary_category")
    }
    vectors = (
        {
            paper_id: np.frombuffer(bytes(vector), dtype="<f4")
            for paper_id, vector in Embedding.objects.filter(
                model_name=model_name, paper_id__among=ids
            ).values_list("paper_id", "vector")
        }
        if model_name and dimension != 0
        else {}
    )
    if dimension is None:
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
            categories=_categories(texts[pk][3], texts[pk][4]),
        )
        for pk in ids
    ]
    return docs, matrix


def _categories(categories: object, primary: str) -> tuple[str, ...]:
    """A paper's arXiv categories, the primary first (a lab's report has none)."""
    names = [str(c) for c in categories if c] if isinstance(categories, list) else []
    if primary:
        names = [primary, *(c for c in names if c != primary)]
    return tuple(names)


def _own_ratings(
    team: Team, user_id: int, window: Sequence[int] | QuerySet[Paper, Any]
) -> list[tuple[int, int, int]]:
    """(user id, paper id, value): the member's own OWN_KEPT latest ratings and those of the
    window's papers. Read on every fit: a rating shows in the member's next load."""
    mine = Rating.objects.filter(team=team, user_id=user_id)
    latest = mine.order_by("-updated_at", "-pk").values("pk")[:OWN_KEPT]
    found = mine.filter(Q(pk__in=latest) | Q(paper_id__in=window)).values_list("paper_id", "value")
    return sorted((user_id, paper_id, value) for paper_id, value in found)


def _ratings(
    team: Team, user_id: int, window: Sequence[int] | QuerySet[Paper, Any]
) -> list[tuple[int, int, int]]:
    """(user id, paper id, value): every rating of the window's papers, the member's own
    OWN_KEPT latest (_own_ratings) and each teammate's TEAM_KEPT_PER_MEMBER latest. Others'
    ratings of a paper rated blind for the member stay out: the team's prediction would give
    them away. `window` is the papers' ids, or the query that selects them (_window_ids)."""
    hidden = blind_assignments(team, user_id).values("paper_id")
    visible = Rating.objects.filter(team=team).exclude(Q(paper_id__in=hidden) & ~Q(user_id=user_id))
    # One query: the window function numbers each member's ratings, latest first.
    nth = Window(
        RowNumber(),
        partition_by=F("user_id"),
        order_by=[F("updated_at").desc(), F("pk").desc()],
    )
    # The window's test is a column of its own: Django moves a filter that sits beside a
    # window function's into an outer query, where a subquery would compare as a value.
    in_window = ExpressionWrapper(Q(paper_id__in=window), output_field=BooleanField())
    found = (
        visible.annotate(nth=nth, in_window=in_window)
        .filter(
            Q(in_window=True)
            | Q(user_id=user_id, nth__lte=OWN_KEPT)
            | (~Q(user_id=user_id) & Q(nth__lte=TEAM_KEPT_PER_MEMBER))
        )
        .values_list("user_id", "paper_id", "value")
    )
    return sorted(found)


def _own_version(team: Team, user_id: int) -> tuple[object, ...]:
    """What changes whenever the member's own ratings do (made, changed, taken back), and
    their shares (given, moved to them or away): one query of two aggregates over the
    member's rows alone (index ranges, not the team's). The shares are in it because they
    decide which teammates' ratings are blind to the member: a paper moved to them must
    leave the kept prior (_prior) at once, not within TEAM_PRIOR_SECONDS."""
    versions = own_versions(team, user_id)
    row = (
        Team.objects.filter(pk=team.pk)
        .annotate(rated=versions["v_rated"], shared=versions["v_shares"])
        .values_list("rated", "shared")
        .get()
    )
    return tuple(map(repr, row))


@dataclass(frozen=True)
class _Prior:
    """The teammates' ratings a member's model learns from as a prior (those of _ratings),
    kept in the "pages" cache for TEAM_PRIOR_SECONDS: reading them numbers the team's every
    rating (a few hundred ms at fifty thousand), and a teammate's rating may take a minute
    to move the member's order. What the member does is read afresh on every fit."""

    at: float  # wall clock: shared by every web process
    covered: frozenset[int]  # the papers whose every teammate's rating is here
    ratings: list[tuple[int, int, int]]
    digest: str
    # The member's own ratings, when they were read with the prior for this load (never
    # kept: _own_ratings reads them for a load that finds the prior kept).
    own: list[tuple[int, int, int]] | None = None


def _prior(
    team: Team,
    user_id: int,
    scope: str,
    shares: object,
    candidates: QuerySet[Paper],
    keys: list[int],
    known: list[int],
) -> _Prior:
    """The member's kept prior when it is of the last TEAM_PRIOR_SECONDS and covers the
    window's papers `keys`, else the teammates' ratings read now for the candidates' first
    papers, `known` (the window and its margin, so that a rating, which moves the window on
    by a paper, finds the next one covered), with the member's own (_Prior.own)."""
    # Keyed on the member's shares (_own_version): a share decides what is blind to them.
    key = pages_key("prior", (RANK_LIMIT, TEAM_KEPT_PER_MEMBER), team.pk, user_id, scope, shares)
    now = time.time()
    kept = caches["pages"].get(key)  # a miss while Redis is down (tracker.core.cache)
    if (
        isinstance(kept, _Prior)
        and 0 <= now - kept.at < TEAM_PRIOR_SECONDS
        and kept.covered.issuperset(keys)
    ):
        return kept
    window = _window_ids(candidates, keys, len(known))
    # The member's own are read with the teammates' (one query), for the fit that follows.
    ratings = _ratings(team, user_id, window)
    others = [rating for rating in ratings if rating[0] != user_id]
    # The query selects the window and its margin; a list of ids is the window's alone.
    covered = frozenset(keys if isinstance(window, list) else known)
    digest = hashlib.sha256(repr(others).encode()).hexdigest()
    prior = _Prior(now, covered, others, digest)
    caches["pages"].set(key, prior, TEAM_PRIOR_SECONDS)
    return replace(prior, own=[rating for rating in ratings if rating[0] == user_id])


def _topic_of() -> Subquery:
    """A paper's topic id, as SQL (an index probe per paper)."""
    return Subquery(PaperTopic.objects.filter(paper_id=OuterRef("pk")).values("topic_id")[:1])


def _window_ids(
    candidates: QuerySet[Paper], keys: list[int], limit: int | None = None
) -> list[int] | QuerySet[Paper, Any]:
    """The window's papers for a query that filters by them: the query that selects them
    when it selects the same papers (all the candidates, or the first `limit`, RANK_LIMIT
    unless given, in their order), else their ids. Five thousand ids as parameters cost
    the ORM, the driver and PostgreSQL's planner far more (0.3-0.8 s a load) than selecting
    them again."""
    limit = limit or RANK_LIMIT
    if len(keys) < RANK_LIMIT:
        return candidates.order_by().values("pk")
    if candidates.ordered:
        return candidates.values("pk")[:limit]
    return keys


@dataclass(frozen=True)
class _Inputs:
    """What a member's order is fitted on, as read for one load: all of it but the member's
    own ratings, which are read (_own_ratings) only when the order is fitted, and stand in
    the key by their version; the teammates' ratings are the kept prior (_prior)."""

    model_name: str
    window: list[tuple[int, int | None]]
    margin: dict[int, int | None]
    own_version: tuple[object, ...]
    prior: _Prior
    passed: list[tuple[int, bool]]
    follows: list[Follow]
    topic_follows: list[int]

    def key(self, membership: Membership) -> str:
        """The kept order's cache key: a digest of every input (the margin only stands in
        as background when a space is built, so it is left out) and of the reading bounds."""
        return pages_key(
            "ranked",
            (RANK_LIMIT, OWN_KEPT, TEAM_KEPT_PER_MEMBER),
            self.model_name,
            membership.team_id,
            membership.user_id,
            self.window,
            self.own_version,
            self.prior.digest,
            self.passed,
            _follows_fingerprint(self.follows),
            sorted(self.topic_follows),
        )


def _inputs(
    membership: Membership,
    candidates: QuerySet[Paper],
    scope: str,
    topic_follows: Collection[int] | None,
    own_version: tuple[object, ...] | None = None,
) -> _Inputs | None:
    """The load's inputs, in a fixed number of queries; None when nothing is a candidate.
    `scope` names the candidates for the kept prior (the inbox's view); `topic_follows`,
    the topics the member follows when the caller has read them already."""
    team, user_id = membership.team, membership.user_id
    window = list(
        candidates.annotate(in_topic=_topic_of()).values_list("pk", "in_topic")[
            : RANK_LIMIT + SPACE_MARGIN
        ]
    )
    if not window:
        return None
    # The member's latest skips (a "not interested" is a firm one).
    passed = list(
        Skip.objects.filter(team=team, user_id=user_id)
        .order_by("-pk")
        .values_list("paper_id", "not_interested")[:OWN_KEPT]
    )
    keys = [pk for pk, _ in window[:RANK_LIMIT]]
    window_keys = [pk for pk, _ in window]
    own_version = own_version or _own_version(team, user_id)
    return _Inputs(
        model_name=search_model_name(stored_model_name()) or "",
        # The candidates past the window are in a space built now, not ranked.
        window=window[:RANK_LIMIT],
        margin=dict(window[RANK_LIMIT:]),
        own_version=own_version,
        prior=_prior(team, user_id, scope, own_version[1], candidates, keys, window_keys),
        passed=passed,
        follows=inbox_follows(membership),
        topic_follows=list(
            TopicFollow.objects.filter(user_id=user_id).values_list("topic_id", flat=True)
        )
        if topic_follows is None
        else list(topic_follows),
    )


@dataclass(frozen=True)
class _KeptOrder:
    """A fitted order as the cache keeps it: plain lists, which pickle small and fast."""

    explained: int | None  # reasons and predictions are of the first this many (None: all)
    ids: list[int]
    scores: list[float]
    reasons: list[str]
    predictions: list[float | None]


def _order_get(key: str, explain: int | None) -> list[RankedPaper] | None:
    """The kept order under `key` when it explains the first `explain` papers."""
    kept = caches["pages"].get(key)  # a miss while Redis is down (tracker.core.cache)
    if not isinstance(kept, _KeptOrder):
        return None
    if kept.explained is not None and (explain is None or kept.explained < explain):
        return None
    return list(
        map(
            RankedPaper._make,
            zip(kept.ids, kept.scores, kept.reasons, kept.predictions, strict=True),
        )
    )


def _order_set(key: str, explained: int | None, ranked: list[RankedPaper]) -> None:
    kept = _KeptOrder(
        explained,
        [r.paper_id for r in ranked],
        [r.score for r in ranked],
        [r.reason for r in ranked],
        [r.team_prediction for r in ranked],
    )
    caches["pages"].set(key, kept, ORDER_KEPT_SECONDS)


@dataclass
class _Model:
    """A member's model fitted on one load's inputs, kept in the process (_models): the
    same order cut by the inbox's filters (a category, a topic, code) ranks the papers the
    filters keep with it, rather than fitting again."""

    space: PaperSpace
    model: MemberModel
    everyone: list[TeamRating]
    followed: dict[int, str]
    window: list[int]  # the candidates it ranks, newest first
    # The window scored once (MemberModel.scored): each set of filters ranks its papers by
    # these scores, in the order they have among the whole window, for the cost of a sort.
    scored: Scored | None = None
    # What the team would rate a paper, from `everyone`'s ratings, worked out once.
    predictor: TeamPredictor | None = None


# Fitted models kept per process: a member's, give or take, for each of the last few
# members who loaded their inbox here.
MODELS_KEPT = 16
_models: Lru[str, _Model] = Lru(MODELS_KEPT)


def member_ranking(
    membership: Membership,
    candidates: QuerySet[Paper],
    explain: int | None = None,
    **options: Any,
) -> list[RankedPaper]:
    """`candidates` (newest first) ranked for the member, best first, each with why and with
    what the team would rate it (when `explain` is given, the first `explain` and
    EXPLAIN_AHEAD more only). With no signal at all the order stays newest first. An order
    fitted on the same inputs is taken from the cache (_Inputs.key). The `options` are
    member_ranking_keyed's."""
    return member_ranking_keyed(membership, candidates, explain, **options)[0]


def kept_ranking(order_key: str, explain: int | None) -> list[RankedPaper] | None:
    """The order member_ranking_keyed kept under `order_key`, when it is still kept and
    explains the first `explain` papers: what a caller that remembers the key (the inbox's
    kept load) reads instead of the inputs."""
    return _order_get(order_key, explain)


def member_ranking_keyed(
    membership: Membership,
    candidates: QuerySet[Paper],
    explain: int | None = None,
    *,
    within: QuerySet[Paper] | None = None,
    within_key: str = "",
    scope: str = "",
    topic_follows: Collection[int] | None = None,
    fitted_key: str | None = None,
    own_version: tuple[object, ...] | None = None,
) -> tuple[list[RankedPaper], str | None]:
    """member_ranking, and the key its order is kept under (kept_ranking); None when
    nothing was ranked.

    `within`: only those of the candidates that it selects too (the inbox's filters, in the
    candidates' order), ranked by the model fitted on all the candidates: one fit serves
    every set of filters, and its papers keep the order they have among all the candidates.
    `within_key` names those filters: an order kept for them is then found without reading
    which papers they select (a paper of the window that comes to match them, or no longer
    does, shows within ORDER_KEPT_SECONDS; the page's rows are read through the filters all
    the same). `fitted_key`: the key of the candidates' own order, as a load of them kept it
    a moment ago (the inbox's kept load): while the model fitted then is kept in this
    process, `within` is ranked with it and the candidates are not read again. `scope`
    names the candidates (the inbox's view) for the kept prior. `topic_follows`: the topics
    the member follows, and `own_version` the member's ratings and shares as _own_version
    has them, when the caller has read them."""
    inputs: _Inputs | None = None
    # The model fitted under that key, when this process still keeps it.
    fitted = _models.get(fitted_key) if within is not None and fitted_key else None
    if fitted is not None and fitted_key:
        key, keys = fitted_key, fitted.window
    else:
        inputs = _inputs(membership, candidates, scope, topic_follows, own_version)
        if inputs is None:
            return [], None
        key = inputs.key(membership)
        keys = [pk for pk, _ in inputs.window]
    order_key = key
    if within is not None:
        if within_key:
            order_key = pages_key("ranked-within", key, within_key)
            kept = _order_get(order_key, explain)
            if kept is not None:
                return kept, order_key
        # The filters' papers among the window's: a prefix of theirs, as they are in order.
        kept_ids = set(within.values_list("pk", flat=True)[:RANK_LIMIT])
        keys = [pk for pk in keys if pk in kept_ids]
        if not within_key:
            order_key = pages_key("ranked-within", key, keys)
        if not keys:
            return [], None
    else:
        kept = _order_get(order_key, explain)
        if kept is not None:
            return kept, order_key
    explained = explain + EXPLAIN_AHEAD if explain is not None else None
    if fitted is None:
        assert inputs is not None  # read above whenever no fitted model was found
        fitted = _model(membership, candidates, inputs, key)
    ranked = _ranked(fitted, keys, explained)
    _order_set(order_key, explained, ranked)
    return ranked, order_key


def _model(
    membership: Membership, candidates: QuerySet[Paper], inputs: _Inputs, key: str
) -> _Model:
    """The member's model fitted on `inputs` (kept in the process under their `key`)."""
    kept = _models.get(key)
    if kept is not None:
        return kept
    user_id = membership.user_id
    window, margin, passed = inputs.window, inputs.margin, inputs.passed
    topics = dict(window)
    keys = [pk for pk, _ in window]
    own = inputs.prior.own
    if own is None:
        own = _own_ratings(membership.team, user_id, _window_ids(candidates, keys))
    others, others_papers = _prior_rows(inputs.prior)
    # Papers the member follows as "more like this" count as rated 5: a cold start.
    seeds = seed_papers(inputs.follows)
    rated_ids = (
        {paper_id for _, paper_id, _ in own}
        | others_papers
        | {paper_id for paper_id, _ in passed}
        | seeds
    ) - topics.keys()
    topics |= {pk: margin[pk] for pk in rated_ids if pk in margin}
    if rated_ids - margin.keys():
        topics |= dict(
            Paper.objects.filter(pk__in=rated_ids - margin.keys())
            .annotate(in_topic=_topic_of())
            .values_list("pk", "in_topic")
        )
    space = _space(inputs.model_name, topics, margin)
    mine: dict[Hashable, int] = dict.fromkeys(seeds, 5)
    mine |= {paper_id: value for _, paper_id, value in own}
    signals = Signals(
        ratings=mine,
        skipped={paper_id for paper_id, flat_no in passed if not flat_no},
        not_interested={paper_id for paper_id, flat_no in passed if flat_no},
        labels={f"topic:{topic_id}" for topic_id in inputs.topic_follows},
    )
    fitted = _Model(
        space=space,
        model=MemberModel(space, signals, others),
        everyone=[TeamRating(*rating) for rating in own] + others,
        followed=_followed_kept(inputs.follows, candidates, window),
        window=keys,
    )
    _models.put(key, fitted)
    return fitted


# The kept priors' ratings as the ranking takes them, per prior (its digest), kept in the
# process: a member's fit after each rating reads the same prior, of thousands of ratings.
_priors: Lru[str, tuple[list[TeamRating], frozenset[int]]] = Lru(MODELS_KEPT)


def _prior_rows(prior: _Prior) -> tuple[list[TeamRating], frozenset[int]]:
    """The prior's ratings as TeamRatings, and the papers they rate."""
    kept = _priors.get(prior.digest)
    if kept is not None:
        return kept
    rows = [TeamRating(*rating) for rating in prior.ratings]
    kept = (rows, frozenset(paper_id for _, paper_id, _ in prior.ratings))
    _priors.put(prior.digest, kept)
    return kept


def _ranked(fitted: _Model, keys: list[int], explain: int | None) -> list[RankedPaper]:
    """`keys` ranked by the fitted model, followed matches first; reasons and team
    predictions of the first `explain` (all when None)."""
    scored = fitted.scored
    if scored is None:
        # Another request may score the window meanwhile: the same scores, twice.
        scored = fitted.scored = fitted.model.scored(fitted.window)
    whole = len(keys) == len(fitted.window)  # keys are the window's, or some of them
    ranked = fitted.model.ranked(scored, explain=explain, within=None if whole else keys)
    # A followed match goes first, saying which follow (a stable sort keeps the order).
    followed = fitted.followed
    order = [(pk, r.score, followed.get(pk, r.reason)) for r in ranked for pk in [cast(int, r.key)]]
    if followed:
        order.sort(key=lambda row: row[0] not in followed)
    # Each paper's prediction stands on its own: only the papers a page can show need one
    # (the team's order, explaining all, predicts every paper).
    shown = [pk for pk, _, _ in order[:explain]] if explain is not None else keys
    predictor = fitted.predictor
    if predictor is None:
        predictor = fitted.predictor = TeamPredictor(fitted.space, fitted.everyone)
    predicted = predictor(shown)
    return [RankedPaper(pk, score, reason, predicted.get(pk)) for pk, score, reason in order]
