"""Reads for the weekly digest: what one member sees, in a fixed number of queries.

What is the same for many members is read once per run and kept in `DigestWeek`: the
corpus-wide part (new and fastest-growing topics, this week's papers per topic, pinned
papers) by `digest_week`, and each team's part (its top-rated papers, its finished
reproductions) the first time a member of that team is built. `digest_for` adds what
belongs to one member. Team-owned rows are always read for the member's own teams, so a
member of team A never sees team B's ratings, comments or reproductions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import mean
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Avg, Case, Count, Exists, F, Max, OuterRef, Prefetch, Q, When

from tracker.follows.models import Alert
from tracker.papers.models import CodeEvent, CodeEventKind, Paper
from tracker.reproductions.models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    Claim,
    Reproduction,
    ResultLog,
    Status,
)
from tracker.reproductions.verdicts import INCONCLUSIVE, claim_judgement
from tracker.teams.models import Membership, Team
from tracker.topics.models import PaperTopic, TopicFollow
from tracker.triage.models import Comment, Rating
from tracker.triage.selectors import blind_rated_papers

WEEK = timedelta(days=7)
TOP_RATED_PER_TEAM = 5
# "Top rated" means the team liked it: an average below this is a verdict, not a pick.
TOP_RATED_FLOOR = 3.5
FOLLOWED_LIMIT = 8
FOLLOW_ALERTS_LIMIT = 10
TOPICS_LIMIT = 5
PINNED_LIMIT = 5
# Failed claims first: what the team most needs to know about a paper it may build on.
VERDICT_ORDER: dict[str | None, int] = {
    Status.NOT_REPRODUCED: 0,
    Status.PARTLY_REPRODUCED: 1,
    Status.REPRODUCED: 2,
}


@dataclass(frozen=True)
class TopicTrend:
    topic_id: int
    label: str
    this_week: int
    last_week: int

    @property
    def growth(self) -> int:
        return self.this_week - self.last_week


@dataclass
class RatedPaper:
    paper: Paper
    score: float | None
    raters: int
    comments: int = 0


@dataclass
class ClaimResult:
    claim: Claim
    reproduced_value: float
    verdict: str | None
    gap: float
    gap_pct: float | None = None
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict == Status.NOT_REPRODUCED

    @property
    def inconclusive(self) -> bool:
        return self.verdict == INCONCLUSIVE


@dataclass
class FinishedReproduction:
    reproduction: Reproduction
    claims: list[ClaimResult]


@dataclass
class Assignment:
    reproduction: Reproduction
    days_left: int | None

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def days_overdue(self) -> int:
        return -self.days_left if self.days_left is not None and self.days_left < 0 else 0


@dataclass(frozen=True)
class NewPaper:
    """A paper of this week in a topic: enough to rank it before loading the row."""

    paper_id: int
    topic_id: int
    similarity: float
    published_at: datetime | None


@dataclass
class TeamWeek:
    """A team's part, the same for all its members: read once per run."""

    top_rated: list[RatedPaper]
    finished: list[FinishedReproduction]


@dataclass
class DigestWeek:
    """What every member's digest for one week shares, filled in as members are built."""

    since: datetime
    until: datetime
    new_topics: list[TopicTrend]
    growing_topics: list[TopicTrend]
    pinned: list[Paper]
    new_by_topic: dict[int, list[NewPaper]]
    teams: dict[int, TeamWeek] = field(default_factory=dict)


@dataclass
class TeamDigest:
    team: Team
    top_rated: list[RatedPaper] = field(default_factory=list)
    finished: list[FinishedReproduction] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    new_versions: list[Paper] = field(default_factory=list)
    # Code or weights that appeared this week for papers the member rated or the team
    # reproduces (the code watch).
    code_events: list[CodeEvent] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (
            self.top_rated
            or self.finished
            or self.assignments
            or self.new_versions
            or self.code_events
        )


@dataclass
class Digest:
    user: User
    since: datetime
    until: datetime
    teams: list[TeamDigest]
    followed: list[RatedPaper]
    followed_new_count: int
    followed_topic_count: int
    followed_topic_ids: set[int]
    corpus: DigestWeek
    # This week's new papers for the member's follows and the team channel's (authors,
    # labs, keywords ...), one row per paper with the follow that matched it.
    follow_alerts: list[Alert] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing worth a message: then no message is sent at all."""
        if not self.teams:
            return True
        return (
            all(team.is_empty for team in self.teams)
            and not self.followed
            and not self.follow_alerts
            and not self.corpus.new_topics
            and not self.corpus.growing_topics
            and not self.corpus.pinned
        )

    @property
    def finished_count(self) -> int:
        return sum(len(team.finished) for team in self.teams)

    @property
    def top_rated_count(self) -> int:
        return sum(len(team.top_rated) for team in self.teams)

    @property
    def assignment_count(self) -> int:
        return sum(len(team.assignments) for team in self.teams)

    @property
    def overdue_count(self) -> int:
        return sum(a.overdue for team in self.teams for a in team.assignments)

    @property
    def new_version_count(self) -> int:
        return sum(len(team.new_versions) for team in self.teams)

    @property
    def code_event_count(self) -> int:
        return sum(len(team.code_events) for team in self.teams)


# Only what the email shows: abstracts and other long columns stay in the database.
PAPER_FIELDS = ("id", "title", "authors", "lab", "version", "revised_at", "published_at")
LISTED = (*PAPER_FIELDS, "paper_topic__id", "paper_topic__topic__id", "paper_topic__topic__label")


def _fields(prefix: str, names: tuple[str, ...] = PAPER_FIELDS) -> list[str]:
    return [f"{prefix}{name}" for name in names]


def _listed_papers(ids: list[int]) -> dict[int, Paper]:
    return Paper.objects.select_related("paper_topic__topic").only(*LISTED).in_bulk(ids)


def digest_week(until: datetime) -> DigestWeek:
    """The corpus-wide part of every digest for the week ending at `until`: three queries.

    Fastest-growing compares this week's papers per topic with last week's; a topic made
    this week is "new" instead. A lab report with no publication date counts from when
    it was stored.
    """
    since = until - WEEK
    before = since - WEEK
    visible = {
        "topic__active": True,
        "topic__merged_into__isnull": True,
        "paper__hidden": False,
        "paper__merged_into__isnull": True,
    }
    rows = (
        PaperTopic.objects.filter(
            **visible, paper__published_at__gte=before, paper__published_at__lt=until
        )
        .values("topic_id", "topic__label", "topic__created_at")
        .annotate(
            this_week=Count("id", filter=Q(paper__published_at__gte=since)),
            last_week=Count("id", filter=Q(paper__published_at__lt=since)),
        )
    )
    new: list[TopicTrend] = []
    growing: list[TopicTrend] = []
    for row in rows:
        trend = TopicTrend(row["topic_id"], row["topic__label"], row["this_week"], row["last_week"])
        if row["topic__created_at"] >= since:
            if trend.this_week:
                new.append(trend)
        elif trend.growth > 0:
            growing.append(trend)
    new.sort(key=lambda t: (-t.this_week, t.label))
    # Growth in papers first; between equal growth, the topic that was smaller grew faster.
    growing.sort(key=lambda t: (-t.growth, t.last_week, t.label))

    this_week = Q(paper__published_at__gte=since, paper__published_at__lt=until) | Q(
        paper__published_at__isnull=True,
        paper__created_at__gte=since,
        paper__created_at__lt=until,
    )
    new_by_topic: dict[int, list[NewPaper]] = defaultdict(list)
    for paper_id, topic_id, similarity, published_at in PaperTopic.objects.filter(
        this_week, **visible
    ).values_list("paper_id", "topic_id", "similarity", "paper__published_at"):
        new_by_topic[topic_id].append(NewPaper(paper_id, topic_id, similarity, published_at))

    pinned = list(
        Paper.objects.visible()
        .filter(pinned_for_digest=True)
        .select_related("paper_topic__topic")
        .only(*LISTED)
        .order_by("-published_at", "-id")[:PINNED_LIMIT]
    )
    return DigestWeek(
        since, until, new[:TOPICS_LIMIT], growing[:TOPICS_LIMIT], pinned, dict(new_by_topic)
    )


def _team_weeks(team_ids: list[int], since: datetime, until: datetime) -> dict[int, TeamWeek]:
    """Top-rated papers of the week (scored by the team's own ratings, with the team's own
    comment count) and finished reproductions, for several teams in five queries."""
    rated_this_week = Rating.objects.filter(
        team_id__in=team_ids, updated_at__gte=since, updated_at__lt=until
    ).values("paper_id")
    # A paper still rated blind waits for next week: its readers read the digest too.
    blind = blind_rated_papers(team_ids)
    rows = (
        Rating.objects.filter(
            team_id__in=team_ids,
            paper_id__in=rated_this_week,
            paper__hidden=False,
            paper__merged_into__isnull=True,
        )
        .exclude(Exists(blind.filter(team_id=OuterRef("team_id"), paper_id=OuterRef("paper_id"))))
        .values("team_id", "paper_id")
        .annotate(score=Avg("value"), raters=Count("id"), latest=Max("updated_at"))
        .filter(latest__gte=since, score__gte=TOP_RATED_FLOOR)
        .order_by("-score", "-raters", "-paper_id")
    )
    top: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        if len(top[row["team_id"]]) < TOP_RATED_PER_TEAM:
            top[row["team_id"]].append(row)
    papers = _listed_papers([row["paper_id"] for rows in top.values() for row in rows])
    discussed = (
        Comment.objects.filter(team_id__in=team_ids, paper_id__in=list(papers))
        .values("team_id", "paper_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    comments = {(row["team_id"], row["paper_id"]): row["n"] for row in discussed}
    weeks = {
        team_id: TeamWeek(
            top_rated=[
                RatedPaper(
                    papers[row["paper_id"]],
                    row["score"],
                    row["raters"],
                    comments.get((team_id, row["paper_id"]), 0),
                )
                for row in top.get(team_id, [])
            ],
            finished=[],
        )
        for team_id in team_ids
    }
    finished = (
        Reproduction.objects.filter(
            team_id__in=team_ids,
            status__in=FINISHED_STATUSES,
            finished_at__gte=since,
            finished_at__lt=until,
        )
        .select_related("paper")
        .only("id", "team_id", "status", "finished_at", *_fields("paper__"))
        .prefetch_related(
            Prefetch("results", queryset=ResultLog.objects.select_related("claim").order_by("id"))
        )
        .order_by(
            Case(*(When(status=s, then=n) for s, n in VERDICT_ORDER.items()), default=3),
            "-finished_at",
        )
    )
    for repro in finished:
        weeks[repro.team_id].finished.append(FinishedReproduction(repro, _claim_results(repro)))
    return weeks


def _claim_results(reproduction: Reproduction) -> list[ClaimResult]:
    by_claim: dict[int, list[ResultLog]] = defaultdict(list)
    claims: dict[int, Claim] = {}
    for result in reproduction.results.all():
        by_claim[result.claim_id].append(result)
        claims[result.claim_id] = result.claim
    out = []
    for claim_id, results in by_claim.items():
        claim = claims[claim_id]
        judgement = claim_judgement(claim, results)
        assert judgement is not None  # each claim here has results
        out.append(
            ClaimResult(
                claim,
                judgement.estimate.mean,
                judgement.status,
                judgement.gap,
                judgement.gap_pct,
                judgement.reason,
            )
        )
    # Failed claims first, then the undecided, then the ones that held.
    order = {Status.NOT_REPRODUCED: 0, INCONCLUSIVE: 1, Status.REPRODUCED: 2}
    out.sort(key=lambda c: (order.get(c.verdict or "", 3), -c.gap))
    return out


def digest_for(
    user: User,
    until: datetime,
    shared: DigestWeek | None = None,
    today: date | None = None,
) -> Digest:
    """One member's digest for the week ending at `until`.

    At most six queries for the member (fewer when they follow no topic with new
    papers), five more the first time one of their teams is seen in
    `shared`, three more when `shared` is not given: never more, whatever the number of
    papers, ratings or reproductions (tests pin it).
    """
    since = until - WEEK
    week = shared or digest_week(until)
    today = today or until.date()
    memberships = list(
        Membership.objects.filter(user=user).select_related("team").order_by("team__name")
    )
    teams = {m.team_id: TeamDigest(team=m.team) for m in memberships}
    team_ids = list(teams)
    followed_topic_ids = set(
        TopicFollow.objects.filter(user=user).values_list("topic_id", flat=True)
    )
    if not team_ids:
        return Digest(user, since, until, [], [], 0, 0, followed_topic_ids, week)

    missing = [team_id for team_id in team_ids if team_id not in week.teams]
    if missing:
        week.teams.update(_team_weeks(missing, since, until))
    for team_id, team in teams.items():
        team.top_rated = week.teams[team_id].top_rated
        team.finished = week.teams[team_id].finished

    # This week's papers in the topics the member follows, less those they rated, ranked
    # by their teams' ratings, then by how central each is to its topic, then newest.
    candidates = [p for topic_id in followed_topic_ids for p in week.new_by_topic.get(topic_id, [])]
    ratings = Rating.objects.filter(
        team_id__in=team_ids, paper_id__in=[p.paper_id for p in candidates]
    ).values_list("paper_id", "user_id", "value")
    rated_by_member: set[int] = set()
    team_values: dict[int, list[int]] = defaultdict(list)
    for paper_id, user_id, value in ratings:
        team_values[paper_id].append(value)
        if user_id == user.pk:
            rated_by_member.add(paper_id)
    unrated = [p for p in candidates if p.paper_id not in rated_by_member]
    oldest = datetime.min.replace(tzinfo=until.tzinfo)

    def rank(p: NewPaper) -> tuple[float, float, datetime, int]:
        values = team_values.get(p.paper_id)
        return (mean(values) if values else 0.0, p.similarity, p.published_at or oldest, p.paper_id)

    best = sorted(unrated, key=rank, reverse=True)[:FOLLOWED_LIMIT]
    papers = _listed_papers([p.paper_id for p in best])
    followed = [
        RatedPaper(
            papers[p.paper_id],
            mean(team_values[p.paper_id]) if team_values.get(p.paper_id) else None,
            len(team_values.get(p.paper_id, [])),
        )
        for p in best
        if p.paper_id in papers
    ]

    assigned = (
        Reproduction.objects.filter(team_id__in=team_ids, assignees=user, status__in=OPEN_STATUSES)
        .select_related("paper")
        .only("id", "team_id", "status", "due_date", "created_at", *_fields("paper__"))
        .order_by(F("due_date").asc(nulls_last=True), "created_at", "id")
    )
    for repro in assigned:
        days_left = (repro.due_date - today).days if repro.due_date else None
        teams[repro.team_id].assignments.append(Assignment(repro, days_left))

    revised = (
        Rating.objects.filter(
            user=user,
            team_id__in=team_ids,
            paper__hidden=False,
            paper__merged_into__isnull=True,
            paper__revised_at__gte=since,
            paper__revised_at__lt=until,
            paper__revised_at__gt=F("updated_at"),
        )
        .select_related("paper")
        .only("id", "team_id", *_fields("paper__"))
        .order_by("-paper__revised_at")
    )
    for rating in revised:
        teams[rating.team_id].new_versions.append(rating.paper)

    # Three queries whatever the number of papers: the papers each team cares about, then
    # their code events of the week.
    watched: dict[int, set[int]] = defaultdict(set)
    for paper_id, team_id in Rating.objects.filter(user=user, team_id__in=team_ids).values_list(
        "paper_id", "team_id"
    ):
        watched[paper_id].add(team_id)
    for paper_id, team_id in Reproduction.objects.filter(team_id__in=team_ids).values_list(
        "paper_id", "team_id"
    ):
        watched[paper_id].add(team_id)
    if watched:
        for event in (
            CodeEvent.objects.filter(paper_id__among=watched, at__gte=since, at__lt=until)
            .exclude(kind=CodeEventKind.CODE_PROMISED)
            .select_related("link", "paper")
            .only("id", "kind", "at", "paper_id", "link__url", *_fields("paper__"))
            .order_by("at", "id")
        ):
            for team_id in sorted(watched[event.paper_id]):
                teams[team_id].code_events.append(event)

    return Digest(
        user=user,
        since=since,
        until=until,
        follow_alerts=_follow_alerts(user, team_ids, since, until),
        teams=list(teams.values()),
        followed=followed,
        followed_new_count=len(unrated),
        followed_topic_count=len({p.topic_id for p in unrated}),
        followed_topic_ids=followed_topic_ids,
        corpus=week,
    )


def _follow_alerts(
    user: User, team_ids: list[int], since: datetime, until: datetime
) -> list[Alert]:
    """The week's alerts of the member's follows and their teams' channels, a paper once
    (the newest alert of it says why): one query."""
    alerts = (
        Alert.objects.filter(
            Q(user=user) | Q(user__isnull=True),
            team_id__in=team_ids,
            code_event__isnull=True,
            created_at__gte=since,
            created_at__lt=until,
            paper__hidden=False,
            paper__merged_into__isnull=True,
        )
        .select_related("paper")
        .order_by("-created_at", "-id")[: FOLLOW_ALERTS_LIMIT * 4]
    )
    seen: set[int] = set()
    listed: list[Alert] = []
    for alert in alerts:
        if alert.paper_id not in seen and len(listed) < FOLLOW_ALERTS_LIMIT:
            seen.add(alert.paper_id)
            listed.append(alert)
    return listed
