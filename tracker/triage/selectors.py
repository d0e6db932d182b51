"""Reads for the inbox and for a paper's team ratings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import mean, pstdev
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.utils import timezone

from tracker.papers.models import Paper, PaperKind
from tracker.teams.models import Membership, Team
from tracker.teams.selectors import with_usernames
from tracker.topics.models import PaperTopic, Topic, TopicFollow
from tracker.triage.models import Rating, RatingHistory, Skip

# The inbox is about this week's papers: without a date filter it looks this far back,
# which bounds its queries by a week of harvest instead of the whole corpus.
INBOX_WINDOW_DAYS = 7
INBOX_PAGE_SIZE = 50
# Raters "disagree" when one calls a paper essential and another close to worthless.
DISPUTE_RANGE = 3
# The inbox's sort orders: the member's ranking (the default), the team's predicted
# rating, and date.
INBOX_ORDERS = {"for_you": "For you", "team": "Team value", "newest": "Newest"}
DEFAULT_ORDER = "for_you"


INBOX_ROW_FIELDS = (
    "title",
    "authors",
    "kind",
    "lab",
    "primary_category",
    "published_at",
    "has_code",
)


@dataclass(frozen=True)
class InboxFilters:
    topic: int | None = None
    source: str = ""  # "", "arxiv" or "lab"
    category: str = ""
    since: date | None = None
    until: date | None = None
    has_code: bool = False
    order: str = DEFAULT_ORDER

    def window_start(self) -> datetime:
        start = self.since or (timezone.localdate() - timedelta(days=INBOX_WINDOW_DAYS))
        return datetime.combine(start, time.min, tzinfo=timezone.get_current_timezone())

    def as_query(self) -> dict[str, str]:
        """The filters as GET parameters, for export links and the no-JS forms."""
        query = {
            "topic": str(self.topic or ""),
            "source": self.source,
            "category": self.category,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "has_code": "1" if self.has_code else "",
            "order": self.order if self.order != DEFAULT_ORDER else "",
        }
        return {key: value for key, value in query.items() if value}


def inbox_rows(papers: QuerySet[Paper]) -> QuerySet[Paper]:
    """What an inbox row reads (triage/templatetags/inbox.py) of a paper: the abstract and
    comment are left out, they are kilobytes a row. The team score comes after
    (team_scores_attach)."""
    return papers.only(*INBOX_ROW_FIELDS)


@dataclass(frozen=True)
class TeamMark:
    """What a team already thinks of a paper: its score (the mean), how many rated it, and
    the member's own rating."""

    score: float | None
    raters: int
    mine: int | None


def team_marks(team: Team, user_id: int, paper_ids: list[int]) -> dict[int, TeamMark]:
    """The team score, its number of raters and the member's own rating of each paper that
    has any, in one query whatever the number of papers."""
    rows = (
        Rating.objects.filter(team=team, paper_id__in=paper_ids)
        .values("paper_id")
        .annotate(
            score=Avg("value"),
            raters=Count("id"),
            mine=Max(Case(When(user_id=user_id, then="value"))),
        )
        .values_list("paper_id", "score", "raters", "mine")
    )
    return {pk: TeamMark(score, raters, mine) for pk, score, raters, mine in rows}


def team_scores_attach(papers: list[Paper], membership: Membership) -> None:
    """Set each paper's team_score and team_raters, as an inbox row shows them: one query
    for the rows of a page, cheaper than two subqueries a row in the page's own queries."""
    marks = team_marks(membership.team, membership.user_id, [paper.pk for paper in papers])
    for paper in papers:
        mark = marks.get(paper.pk)
        paper.team_score = mark.score if mark else None  # type: ignore[attr-defined]
        paper.team_raters = mark.raters if mark else 0  # type: ignore[attr-defined]


def inbox_papers(membership: Membership, filters: InboxFilters | None = None) -> QuerySet[Paper]:
    """Visible papers this member has neither rated nor skipped in this team, newest first."""
    filters = filters or InboxFilters()
    team, user_id = membership.team, membership.user_id
    rated = Rating.objects.filter(team=team, user_id=user_id, paper=OuterRef("pk"))
    skipped = Skip.objects.filter(team=team, user_id=user_id, paper=OuterRef("pk"))
    papers = Paper.objects.visible().filter(
        ~Exists(rated), ~Exists(skipped), published_at__gte=filters.window_start()
    )
    if filters.until:
        end = datetime.combine(filters.until, time.max, tzinfo=timezone.get_current_timezone())
        papers = papers.filter(published_at__lte=end)
    if filters.source == "arxiv":
        papers = papers.filter(kind=PaperKind.ARXIV)
    elif filters.source == "lab":
        papers = papers.filter(kind=PaperKind.LAB_REPORT)
    if filters.category:
        papers = papers.filter(primary_category=filters.category)
    if filters.has_code:
        papers = papers.filter(has_code=True)
    return papers.order_by("-published_at", "-id")


@dataclass
class TopicGroup:
    topic_id: int | None
    label: str
    followed: bool
    count: int
    papers: list[Paper] = field(default_factory=list)
    follow_url: str = ""


@dataclass
class Inbox:
    groups: list[TopicGroup]
    topic_counts: list[TopicGroup]
    categories: list[tuple[str, int]]
    followed_topics: list[Topic]
    total: int
    shown: int


def _topic_of() -> Subquery:
    # A paper's topic is looked up per paper (an index probe each) rather than joined: a
    # join lets PostgreSQL hash the whole paper-to-topic table to match a week of papers.
    return Subquery(PaperTopic.objects.filter(paper_id=OuterRef("pk")).values("topic_id")[:1])


def _inbox_halves(
    papers: QuerySet[Paper], filters: InboxFilters, followed_ids: set[int]
) -> tuple[QuerySet[Paper], QuerySet[Paper]]:
    """The inbox's papers (annotated with in_topic) in its two halves, each newest first:
    those in a followed topic, which the inbox shows first, and the rest."""
    if filters.topic:
        papers = papers.filter(in_topic=filters.topic)
    followed = papers.filter(in_topic__in=followed_ids) if followed_ids else papers.none()
    # "Not in a followed topic" includes papers in no topic yet (NULL is not NOT IN).
    rest = (
        papers.filter(Q(in_topic__isnull=True) | ~Q(in_topic__in=followed_ids))
        if followed_ids
        else papers
    )
    return followed, rest


def inbox_build(
    membership: Membership, filters: InboxFilters, limit: int = INBOX_PAGE_SIZE
) -> Inbox:
    """The inbox page: one page of papers grouped by topic, followed topics first.

    Five queries whatever the number of papers: the topics, the page in two halves (LIMIT
    before grouping, so grouping never touches more than `limit` rows), the page's team
    scores, and the counts per topic and category.
    """
    user_id = membership.user_id
    # Every topic a paper can be in, with the member's follow: the labels of the counts
    # come from here rather than from a lookup per paper of the window.
    follows_of_member = TopicFollow.objects.filter(user_id=user_id)
    topics = list(
        Topic.objects.filter(Q(active=True) | Q(pk__in=follows_of_member.values("topic_id")))
        .annotate(is_followed=Exists(follows_of_member.filter(topic=OuterRef("pk"))))
        .only("pk", "label")
        .order_by("label")
    )
    label_of = {topic.pk: topic.label for topic in topics}

    def topic_label(topic_id: int | None) -> str:
        # A retired topic that still holds papers is named by its number.
        return label_of.get(topic_id, f"Topic {topic_id}") if topic_id else "No topic yet"

    followed_topics = [topic for topic in topics if topic.is_followed]  # type: ignore[attr-defined]
    followed_ids = {topic.pk for topic in followed_topics}

    topic_of = _topic_of()
    base = inbox_papers(membership, filters)
    if filters.order == "newest":
        followed, rest = _inbox_halves(
            inbox_rows(base.annotate(in_topic=topic_of)), filters, followed_ids
        )
        # Followed topics first, newest first within each half. Two LIMITed queries that
        # walk the published_at index and stop early, instead of one that sorts the window.
        page = list(followed[:limit])  # none() when nothing is followed: no query
        page += list(rest[: limit - len(page)])
    else:
        page = _ranked_page(membership, filters, base, limit)
    team_scores_attach(page, membership)

    # One scan of the window gives both facets: counts per topic and per category.
    per_topic: Counter[int | None] = Counter()
    per_category: Counter[str] = Counter()
    for row in (
        base.order_by()
        .annotate(window_topic=topic_of)
        .values("window_topic", "primary_category")
        .annotate(n=Count("id"))
    ):
        per_topic[row["window_topic"]] += row["n"]
        if row["primary_category"]:
            per_category[row["primary_category"]] += row["n"]
    topic_counts = sorted(
        (
            TopicGroup(
                topic_id=topic_id,
                label=topic_label(topic_id),
                followed=topic_id in followed_ids,
                count=n,
            )
            for topic_id, n in per_topic.items()
        ),
        key=lambda g: (not g.followed, -g.count, g.label),
    )
    categories = sorted(per_category.items(), key=lambda item: (-item[1], item[0]))

    groups: dict[int | None, TopicGroup] = {}
    for paper in page:
        key = paper.in_topic  # type: ignore[attr-defined]
        if key not in groups:
            groups[key] = TopicGroup(
                topic_id=key,
                label=topic_label(key),
                followed=key in followed_ids,
                count=per_topic[key],
            )
        groups[key].papers.append(paper)
    total = per_topic[filters.topic] if filters.topic else sum(per_topic.values())
    return Inbox(
        groups=list(groups.values()),
        topic_counts=topic_counts,
        categories=categories,
        followed_topics=followed_topics,
        total=total,
        shown=len(page),
    )


def _ranked(
    membership: Membership, filters: InboxFilters, base: QuerySet[Paper], explain: int | None
) -> list:
    """The window ranked in the filters' order: the member's ranking, or the team's
    predicted rating (the member's ranking breaks its ties)."""
    from tracker.triage.ranking import member_ranking

    if filters.topic:
        base = base.filter(paper_topic__topic_id=filters.topic)
    # The team's order puts papers first that the member's order may rank anywhere.
    ranked = member_ranking(membership, base, explain if filters.order == "for_you" else None)
    if filters.order == "team":
        ranked.sort(key=lambda r: -(r.team_prediction or 0.0))
    return ranked


def _ranked_page(
    membership: Membership, filters: InboxFilters, base: QuerySet[Paper], limit: int
) -> list[Paper]:
    """One page of the window in a ranked order, each paper with why (rank_reason) and
    what the team would rate it (team_prediction)."""
    ranked = _ranked(membership, filters, base, limit)[:limit]
    rows = inbox_rows(base.annotate(in_topic=_topic_of())).filter(
        pk__in=[r.paper_id for r in ranked]
    )
    by_id = {paper.pk: paper for paper in rows}
    page = []
    for r in ranked:
        paper = by_id.get(r.paper_id)
        if paper is not None:
            paper.rank_reason = r.reason  # type: ignore[attr-defined]
            paper.team_prediction = r.team_prediction  # type: ignore[attr-defined]
            page.append(paper)
    return page


def inbox_next(
    membership: Membership, filters: InboxFilters, after: Paper | None = None
) -> int | None:
    """The paper the inbox lists after `after` (its first when None), in the inbox's own
    order. Newest: followed topics first, newest first within each half. `after` need not be in
    the inbox any more (it has just been rated); its place in that order still counts, so
    a paper read and left unrated is not handed back. A few LIMIT 1 queries."""
    if filters.order != "newest":
        # In a ranked order a rating re-ranks what is left: the next paper is the best of
        # it, unless `after` is still there (read, not rated), then the one ranked below.
        papers = inbox_papers(membership, filters)
        ids = [r.paper_id for r in _ranked(membership, filters, papers, explain=0)]
        if after is not None and after.pk in ids:
            below = ids[ids.index(after.pk) + 1 :]
            return below[0] if below else None
        return ids[0] if ids else None
    followed_ids = set(
        TopicFollow.objects.filter(user_id=membership.user_id).values_list("topic_id", flat=True)
    )
    papers = inbox_papers(membership, filters).annotate(in_topic=_topic_of())
    followed, rest = _inbox_halves(papers, filters, followed_ids)

    def first(papers: QuerySet[Paper]) -> int | None:
        return papers.values_list("pk", flat=True).first()

    if after is None:
        return first(followed) or first(rest)
    later = Q(published_at__lt=after.published_at) | Q(
        published_at=after.published_at, pk__lt=after.pk
    )
    if _paper_topic_id(after) in followed_ids:
        return first(followed.filter(later)) or first(rest)
    return first(rest.filter(later))


def _paper_topic_id(paper: Paper) -> int | None:
    """The paper's topic id: from paper_topic when it was selected with the paper, else one
    query for it."""
    try:
        return paper.paper_topic.topic_id
    except Paper.paper_topic.RelatedObjectDoesNotExist:
        return None


def paper_topic(paper: Paper) -> Topic | None:
    try:
        return paper.paper_topic.topic
    except Paper.paper_topic.RelatedObjectDoesNotExist:
        return None


@dataclass
class RatingSummary:
    count: int
    mean: float | None
    spread: float | None
    low: int | None
    high: int | None
    disputed: bool
    ratings: list[Rating]
    mine: Rating | None
    history: list[RatingHistory]


def rating_summary(team: Team, paper: Paper, user: Any) -> RatingSummary:
    """The team's ratings of a paper: mean (the team score), count, spread, disputed or not."""
    ratings = list(
        with_usernames(Rating.objects.for_team(team).filter(paper=paper), "user").order_by("-value")
    )
    values = [r.value for r in ratings]
    history = list(
        with_usernames(RatingHistory.objects.for_team(team).filter(paper=paper), "user").order_by(
            "-recorded_at"
        )[:20]
    )
    return RatingSummary(
        count=len(values),
        mean=mean(values) if values else None,
        spread=pstdev(values) if len(values) > 1 else None,
        low=min(values) if values else None,
        high=max(values) if values else None,
        disputed=len(values) > 1 and max(values) - min(values) >= DISPUTE_RANGE,
        ratings=ratings,
        mine=next((r for r in ratings if r.user_id == user.pk), None),
        history=history,
    )
