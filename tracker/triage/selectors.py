"""Reads for the inbox and for a paper's team ratings."""

from __future__ import annotations

import json
import math
import time as clock
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from statistics import mean, pstdev
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, JSONObject, Least
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from tracker.core.cache import pages_key
from tracker.core.http import url_for_pk
from tracker.core.lru import Lru
from tracker.papers.models import Paper, PaperKind
from tracker.teams.models import Absence, Membership, Team
from tracker.teams.selectors import with_usernames
from tracker.topics.models import PaperTopic, Topic, TopicFollow
from tracker.triage.models import Assignment, Rating, RatingHistory, Skip

if TYPE_CHECKING:
    from tracker.triage.ranking import RankedPaper

# What counts as new is what reached the tracker (Paper.created_at), not what was published:
# an import or a backfill of older papers shows up. The inbox reaches back this many days of
# arrivals, or to the member's last rating or skip when that is longer ago...
INBOX_WINDOW_DAYS = 7
# ...but no further than this: a member back from a long absence gets a month, and the
# inbox's queries stay bounded by a month of arrivals instead of the whole corpus.
INBOX_BACKLOG_DAYS = 30
INBOX_PAGE_SIZE = 50
# The inbox's orders; the first is the default. "newest" pages by keyset (_later); the
# ranked ones (the member's ranking, the team's predicted rating) by rank position.
INBOX_SORTS = ("for_you", "team", "newest")
SORT_LABELS = {"for_you": "For you", "team": "Team value", "newest": "Newest"}
# Raters "disagree" when one calls a paper essential and another close to worthless.
DISPUTE_RANGE = 3
# A paper's ratings stay hidden from its assigned readers until all of them rated it, or
# for this long after it was given to them: the first rating does not anchor the others.
BLIND_FOR = timedelta(days=1)
# The inbox's views: the member's share of the team's reading, or every new paper.
INBOX_VIEWS = ("share", "all")


INBOX_ROW_FIELDS = (
    "title",
    "authors",
    "abstract",
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
    # Publication dates, as the form's From/To say; without `since` the inbox is the
    # window of arrivals (inbox_papers).
    since: date | None = None
    until: date | None = None
    has_code: bool = False
    sort: str = INBOX_SORTS[0]
    # One of INBOX_VIEWS; "" until the page chooses (the share when the member has one).
    view: str = ""

    def as_query(self) -> dict[str, str]:
        """The filters as GET parameters, for export links and the no-JS forms."""
        query = {
            "topic": str(self.topic or ""),
            "source": self.source,
            "category": self.category,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "has_code": "1" if self.has_code else "",
            "order": "" if self.sort == INBOX_SORTS[0] else self.sort,
            "view": self.view,
        }
        return {key: value for key, value in query.items() if value}


@dataclass(frozen=True)
class RowLinks:
    """Where an inbox row's title and buttons go: URLs made of reversed patterns, numbers and
    escaped filters, so they are safe in HTML as they are."""

    detail: SafeString
    rate: SafeString
    skip: SafeString
    undo: SafeString
    propose: SafeString
    not_interested: SafeString


def row_links(query: dict[str, str] | None = None) -> Callable[[int], RowLinks]:
    """The links of any row, each URL reversed once for all the rows of a page. The paper's
    link carries the inbox's filters, so that its page's "next" stays within them."""
    detail, rate, skip, undo, propose, not_interested = (
        url_for_pk(view)
        for view in (
            "papers:detail",
            "triage:rate",
            "triage:skip",
            "triage:undo",
            "reproductions:propose",
            "triage:not_interested",
        )
    )
    # Escaped once here rather than at each of the row's dozen uses (a filtered link has &).
    filtered = escape("?" + urlencode(query)) if query else ""
    return lambda pk: RowLinks(
        detail=SafeString(detail(pk) + filtered),
        rate=SafeString(rate(pk)),
        skip=SafeString(skip(pk)),
        undo=SafeString(undo(pk)),
        propose=SafeString(propose(pk)),
        not_interested=SafeString(not_interested(pk)),
    )


@dataclass(frozen=True)
class InboxRow:
    """One paper as the inbox shows it (jinja2/triage/_rows.html), before or after the
    member acted on it."""

    pk: int
    title: str
    byline: str
    tag: str  # the lab of a lab report, else the arXiv category
    is_lab: bool
    published: str  # the local date, ISO
    has_code: bool
    abstract: str
    topic_id: int | None
    links: RowLinks
    team_score: float | None = None
    team_raters: int = 0
    # The team's ratings of it are hidden from the member for now (blind_papers).
    blind: bool = False
    # In a ranked order: why the row ranks where it does, and what the team would rate it.
    reason: str = ""
    team_prediction: float | None = None
    # After an action: what was done ("Rated 3", "Skipped"), and the rating and its note.
    done: str = ""
    value: int | None = None
    note: str = ""

    @property
    def dom_id(self) -> str:
        return f"paper-{self.pk}"

    @property
    def team_score_text(self) -> str:
        """The team score to one decimal and how many rated; halves round up, as floatformat
        does (a 3.25 mean reads 3.3). Text, not numbers: a template localizes each number."""
        if self.team_score is None:
            return ""
        return f"team {math.floor(self.team_score * 10 + 0.5) / 10:.1f} ({self.team_raters})"

    @property
    def team_prediction_text(self) -> str:
        """What the team would rate a paper none of them rated, to the nearest half; nothing
        once anyone rated it (the team score says it then)."""
        if self.team_prediction is None or self.team_raters:
            return ""
        return f"the team would rate this about {math.floor(self.team_prediction * 2 + 0.5) / 2:g}"

    @property
    def team_score_title(self) -> str:
        plural = "" if self.team_raters == 1 else "s"
        return f"Team score from {self.team_raters} rating{plural}"


def _byline(authors: list[str] | None) -> str:
    authors = authors or []
    return ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")


def inbox_row(
    paper: Paper,
    links: RowLinks,
    mark: TeamMark | None = None,
    topic_id: int | None = None,
    ranked: RankedPaper | None = None,
    **after_action: Any,
) -> InboxRow:
    """The row of a paper loaded with INBOX_ROW_FIELDS (or all of them); `after_action`
    sets done, value and note on a row that was just rated or skipped."""
    lab = paper.kind == PaperKind.LAB_REPORT
    return InboxRow(
        pk=paper.pk,
        title=paper.title,
        byline=_byline(paper.authors),
        tag=(paper.lab or "lab") if lab else paper.primary_category,
        is_lab=lab,
        published=(
            timezone.localtime(paper.published_at).date().isoformat() if paper.published_at else ""
        ),
        has_code=paper.has_code,
        abstract=paper.abstract,
        topic_id=topic_id,
        links=links,
        team_score=mark.score if mark else None,
        team_raters=mark.raters if mark else 0,
        blind=mark.blind if mark else False,
        reason=ranked.reason if ranked else "",
        team_prediction=ranked.team_prediction if ranked else None,
        **after_action,
    )


def inbox_row_of(membership: Membership, paper: Paper) -> InboxRow:
    """A paper's inbox row on its own, with its team score (one query): the row an undo
    puts back in place."""
    mark = team_marks(membership.team, membership.user_id, [paper.pk]).get(paper.pk)
    return inbox_row(paper, row_links()(paper.pk), mark, _paper_topic_id(paper))


@dataclass(frozen=True)
class TeamMark:
    """What a team already thinks of a paper: its score (the mean), how many rated it, and
    the member's own rating."""

    score: float | None
    raters: int
    mine: int | None
    blind: bool = False  # the others' ratings are hidden from the member for now


def _pending_readers() -> QuerySet[Assignment]:
    """The readers of the outer assignment's paper (in its team) who have not rated it."""
    rated = Rating.objects.filter(
        team_id=OuterRef("team_id"), paper_id=OuterRef("paper_id"), user_id=OuterRef("user_id")
    )
    return Assignment.objects.filter(
        team_id=OuterRef("team_id"), paper_id=OuterRef("paper_id")
    ).filter(~Exists(rated))


def blind_assignments(
    team: Team, user_id: int, since: datetime | None = None
) -> QuerySet[Assignment]:
    """The member's assignments whose paper's ratings are hidden from them: given to them
    less than BLIND_FOR ago (after `since`, when given), and with a reader (them or another)
    who has not rated it yet."""
    since = since or timezone.now() - BLIND_FOR
    return Assignment.objects.filter(team=team, user_id=user_id, assigned_at__gt=since).filter(
        Exists(_pending_readers())
    )


def blind_papers(team: Team, user_id: int, paper_ids: list[int] | None = None) -> set[int]:
    """The papers (of `paper_ids`, else any) whose other ratings the member may not see
    yet (blind_assignments); one query."""
    blind = blind_assignments(team, user_id)
    if paper_ids is not None:
        blind = blind.filter(paper_id__in=paper_ids)
    return set(blind.values_list("paper_id", flat=True))


def blind_rated_papers(team_ids: list[int]) -> QuerySet[Assignment]:
    """The shares whose paper is still rated blind in these teams (given less than
    BLIND_FOR ago, not rated by all its readers): a team-wide list (the digest) leaves
    those papers out until every reader has seen them."""
    return Assignment.objects.filter(
        team_id__in=team_ids, assigned_at__gt=timezone.now() - BLIND_FOR
    ).filter(Exists(_pending_readers()))


def ratings_version(team: Team, user_id: int) -> tuple[object, ...]:
    """What changes whenever a rating the member may see changes, for the keys of what the
    "pages" cache keeps (the member's ranking, the team's picks): a rating made, changed
    (its value, its paper) or taken back in the team, and how many of the others' ratings
    are hidden from the member (blind_assignments). One aggregate over the team's ratings."""
    hidden = blind_assignments(team, user_id).values("paper_id")
    version = Rating.objects.filter(team=team).aggregate(
        n=Count("id"),
        last=Max("id"),
        at=Max("updated_at"),
        values=Sum(F("id") * F("value")),
        papers=Sum("paper_id"),
        hidden=Count("id", filter=Q(paper_id__in=hidden) & ~Q(user_id=user_id)),
    )
    return tuple(version.values())


def open_assignments(team: Team) -> QuerySet[Assignment]:
    """The team's shares not read yet: neither rated nor skipped by their reader."""
    rated = Rating.objects.filter(
        team_id=OuterRef("team_id"), paper_id=OuterRef("paper_id"), user_id=OuterRef("user_id")
    )
    skipped = Skip.objects.filter(
        team_id=OuterRef("team_id"), paper_id=OuterRef("paper_id"), user_id=OuterRef("user_id")
    )
    return Assignment.objects.filter(team=team).exclude(Exists(rated)).exclude(Exists(skipped))


def team_marks(team: Team, user_id: int, paper_ids: list[int]) -> dict[int, TeamMark]:
    """The team score, its number of raters and the member's own rating of each paper that
    has any, in one query whatever the number of papers. A paper rated blind for the
    member (blind_assignments) shows their own rating alone."""
    hidden = blind_assignments(team, user_id).filter(paper_id=OuterRef("paper_id"))
    rows = (
        Rating.objects.filter(team=team, paper_id__in=paper_ids)
        .values("paper_id")
        .annotate(
            score=Avg("value"),
            raters=Count("id"),
            mine=Max(Case(When(user_id=user_id, then="value"))),
            blind=Exists(hidden),
        )
        .values_list("paper_id", "score", "raters", "mine", "blind")
    )
    return {
        pk: TeamMark(None, 0, mine, blind=True) if blind else TeamMark(score, raters, mine)
        for pk, score, raters, mine, blind in rows
    }


def _arrival_start(membership: Membership) -> Greatest:
    """Where the window of arrivals starts, as SQL (no query of its own): the earlier of
    INBOX_WINDOW_DAYS ago and the member's last rating or skip in the team, but not before
    INBOX_BACKLOG_DAYS ago."""
    now = timezone.now()
    window = Value(now - timedelta(days=INBOX_WINDOW_DAYS), output_field=DateTimeField())
    backlog = Value(now - timedelta(days=INBOX_BACKLOG_DAYS), output_field=DateTimeField())
    mine = {"team": membership.team, "user_id": membership.user_id}
    rated = Subquery(Rating.objects.filter(**mine).order_by("-updated_at").values("updated_at")[:1])
    skipped = Subquery(Skip.objects.filter(**mine).order_by("-created_at").values("created_at")[:1])
    # The later of the two, whichever exists; the window when neither does.
    last = Greatest(Coalesce(rated, skipped, window), Coalesce(skipped, rated, window))
    return Greatest(backlog, Least(window, last))


def inbox_papers(membership: Membership, filters: InboxFilters | None = None) -> QuerySet[Paper]:
    """Visible papers this member has neither rated nor skipped in this team, in the sort's
    order: those that arrived in the window (_arrival_start), or, with a `since` date,
    those published since then."""
    filters = filters or InboxFilters()
    team, user_id = membership.team, membership.user_id
    rated = Rating.objects.filter(team=team, user_id=user_id, paper=OuterRef("pk"))
    skipped = Skip.objects.filter(team=team, user_id=user_id, paper=OuterRef("pk"))
    papers = Paper.objects.visible().filter(~Exists(rated), ~Exists(skipped))
    tz = timezone.get_current_timezone()
    if filters.view == "share":
        # The member's share, however long ago it was given to them: it waits for them.
        mine = Assignment.objects.filter(team=team, user_id=user_id, paper=OuterRef("pk"))
        papers = papers.filter(Exists(mine))
    if filters.since:
        papers = papers.filter(published_at__gte=datetime.combine(filters.since, time.min, tz))
    elif filters.view != "share":
        papers = papers.filter(created_at__gte=_arrival_start(membership))
    if filters.until:
        papers = papers.filter(published_at__lte=datetime.combine(filters.until, time.max, tz))
    if filters.source == "arxiv":
        papers = papers.filter(kind=PaperKind.ARXIV)
    elif filters.source == "lab":
        papers = papers.filter(kind=PaperKind.LAB_REPORT)
    if filters.category:
        papers = papers.filter(primary_category=filters.category)
    if filters.has_code:
        papers = papers.filter(has_code=True)
    return _ordered(papers, filters.sort)


def _ordered(papers: QuerySet[Paper], sort: str) -> QuerySet[Paper]:
    """The papers in the inbox's order for `sort` ("newest": newest published first)."""
    return papers.order_by("-published_at", "-id")


def _later(after: Paper, sort: str) -> Q:
    """The papers that come after `after` in _ordered's order for `sort`: the keyset that
    pages the inbox, so that rows rated meanwhile shift nothing."""
    return Q(published_at__lt=after.published_at) | Q(
        published_at=after.published_at, pk__lt=after.pk
    )


@dataclass
class TopicGroup:
    topic_id: int | None
    label: str
    followed: bool
    count: int
    rows: list[InboxRow] = field(default_factory=list)
    follow_url: str = ""


@dataclass
class Inbox:
    groups: list[TopicGroup]
    topic_counts: list[TopicGroup]
    categories: list[tuple[str, int]]
    followed_topics: Sequence[Topic]
    total: int  # every paper of the window still to triage (with the topic filter)
    shown: int  # rows on this page
    # What "Load more" asks for when more rows follow: the last row's pk (newest), or the
    # rank position of the next row (ranked orders); None at the end.
    more_after: int | None = None
    more_offset: int | None = None
    ranked: bool = False  # in a ranked order, whose "Load more" names the rows shown


def _topic_of() -> Subquery:
    # A paper's topic is looked up per paper (an index probe each) rather than joined: a
    # join lets PostgreSQL hash the whole paper-to-topic table to match a week of papers.
    return Subquery(PaperTopic.objects.filter(paper_id=OuterRef("pk")).values("topic_id")[:1])


def _inbox_halves(
    papers: QuerySet[Paper],
    filters: InboxFilters,
    followed_ids: set[int],
    after: Paper | None = None,
) -> tuple[QuerySet[Paper], QuerySet[Paper]]:
    """The inbox's papers (annotated with in_topic) in its two halves, each in the sort's
    order: those in a followed topic, which the inbox shows first, and the rest. With
    `after`, only what the inbox lists after that paper. `after` need not be in the inbox
    any more (it has just been rated); its place in the order still counts."""
    # in_topic is the callers' annotation, which django-stubs cannot see through the
    # QuerySet[Paper] these helpers share; its lookups are checked by the tests instead.
    if filters.topic:
        papers = papers.filter(in_topic=filters.topic)  # type: ignore[misc]
    followed = papers.filter(in_topic__in=followed_ids) if followed_ids else papers.none()  # type: ignore[misc]
    # "Not in a followed topic" includes papers in no topic yet (NULL is not NOT IN).
    rest = (
        papers.filter(Q(in_topic__isnull=True) | ~Q(in_topic__in=followed_ids))
        if followed_ids
        else papers
    )
    if after is not None:
        later = _later(after, filters.sort)
        if _paper_topic_id(after) in followed_ids:
            followed = followed.filter(later)
        else:
            followed, rest = papers.none(), rest.filter(later)
    return followed, rest


# The inbox's reload finds what it read of the window kept: the ranked order's key, the
# facets (counts per topic and per category) and the member's unread share, in the "pages"
# cache under a version of what the member did (inbox_versions). A rating, skip, undo, a
# share given or moved, a follow, or a new paper changes that version, and shows on the next
# load. What the version leaves out shows within INBOX_KEPT_SECONDS: a paper hidden, merged
# or unhidden, moved to another topic or category, or aged out of the window of arrivals; a
# follow edited in the admin; a teammate's rating (the team's prior is kept as long).
INBOX_KEPT_SECONDS = 60


@dataclass(frozen=True)
class InboxVersions:
    """What the member's inbox and the team's picks are made of, as versions, read in one
    query: `member` (the member's ratings, skips, shares and follows, and the newest paper)
    keys the inbox's kept load; `picks` (the team's ratings as the member sees them, and
    the team's shares) keys the kept picks (team_picks)."""

    member: tuple[object, ...]
    picks: tuple[object, ...]

    @property
    def own(self) -> tuple[object, ...]:
        """The member's ratings and shares alone, as the ranking keys its kept order and
        prior with them (own_versions; tracker.triage.ranking)."""
        return (self.member[0], self.member[2])


def version_of(rows: QuerySet[Any], group: str, **aggregates: Any) -> Subquery:
    """The aggregates of `rows` (all of one `group`) as one JSON value, for a column of
    inbox_versions' query; NULL when there are none."""
    return Subquery(rows.order_by().values(group).annotate(v=JSONObject(**aggregates)).values("v"))


# Rows of papers (skips, shares) are made, moved to another member, or taken back.
ROWS_OF_PAPERS = {"n": Count("id"), "last": Max("id"), "papers": Sum("paper_id")}


def own_rating_version() -> dict[str, Any]:
    """The aggregates whose change says the member's ratings changed (made, changed, taken
    back): tracker.triage.ranking keys the kept order with the same."""
    return {
        "n": Count("id"),
        "last": Max("id"),
        "at": Max("updated_at"),
        "values": Sum(F("id") * F("value")),
        "papers": Sum("paper_id"),
    }


def own_versions(team: Team, user_id: int) -> dict[str, Subquery]:
    """The member's own rows as versions, for annotations: their ratings (own_rating_version)
    and their shares (made, moved to them or away). The ranking keys its kept order and
    prior with the same (tracker.triage.ranking)."""
    mine = {"team": team, "user_id": user_id}
    return {
        "v_rated": version_of(Rating.objects.filter(**mine), "user_id", **own_rating_version()),
        "v_shares": version_of(Assignment.objects.filter(**mine), "user_id", **ROWS_OF_PAPERS),
    }


# inbox_versions' query as SQL, per member, kept in the process: building its nested
# aggregates took the ORM four to five times as long as PostgreSQL takes to run it, on
# every inbox load. Only the start of the blind window moves from one load to the next.
VERSIONS_SQL_KEPT = 256
_versions_sql: Lru[tuple[int, int], tuple[str, tuple[Any, ...], int]] = Lru(VERSIONS_SQL_KEPT)


def inbox_versions(membership: Membership) -> InboxVersions:
    """InboxVersions, one query: an aggregate over each of the member's own rows (ratings,
    skips, shares, follows) and the team's ratings and shares, and the newest paper's id."""
    since = timezone.now() - BLIND_FOR
    # The window's start as the database takes it (SQLite: as text).
    start = connection.ops.adapt_datetimefield_value(since)
    member = (membership.team_id, membership.user_id)
    kept = _versions_sql.get(member)
    if kept is None:
        versions = _versions_query(membership, since)
        sql, params = versions.query.sql_with_params()
        moving = [i for i, param in enumerate(params) if param == start]
        if len(moving) != 1:  # the query changed shape: compile it on every load
            return _versions_of(versions.get())
        kept = (sql, tuple(params), moving[0])
        _versions_sql.put(member, kept)
    sql, params, at = kept
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params[:at], start, *params[at + 1 :]))
        row = cursor.fetchone()
    # The versions are JSON, as the ORM would give them (and _own_version does).
    return _versions_of(tuple(json.loads(v) if isinstance(v, str) else v for v in row))


def _versions_of(row: Sequence[object]) -> InboxVersions:
    return InboxVersions(member=tuple(map(repr, row[:5])), picks=tuple(map(repr, row[5:])))


def _versions_query(membership: Membership, since: datetime) -> QuerySet[Team, tuple[Any, ...]]:
    from tracker.follows.selectors import follows_of

    team, user_id = membership.team, membership.user_id
    mine = {"team": team, "user_id": user_id}
    hidden = blind_assignments(team, user_id, since).values("paper_id")
    return (
        Team.objects.filter(pk=team.pk)
        .annotate(
            **own_versions(team, user_id),
            v_skipped=version_of(
                Skip.objects.filter(**mine),
                "user_id",
                **ROWS_OF_PAPERS,
                firm=Count("id", filter=Q(not_interested=True)),
            ),
            v_follows=version_of(
                follows_of(membership), "team_id", n=Count("id"), last=Max("id"), ids=Sum("id")
            ),
            v_newest=Subquery(Paper.objects.order_by("-pk").values("pk")[:1]),
            v_team_rated=version_of(
                Rating.objects.filter(team=team),
                "team_id",
                **own_rating_version(),
                hidden=Count("id", filter=Q(paper_id__in=hidden) & ~Q(user_id=user_id)),
            ),
            v_team_shares=version_of(
                Assignment.objects.filter(team=team),
                "team_id",
                n=Count("id"),
                last=Max("id"),
                readers=Sum(F("id") * F("user_id")),
            ),
        )
        .values_list(
            "v_rated",
            "v_skipped",
            "v_shares",
            "v_follows",
            "v_newest",
            "v_team_rated",
            "v_team_shares",
        )
    )


@dataclass(frozen=True)
class _KeptLoad:
    """What an inbox load read of its window, as the "pages" cache keeps it."""

    at: float  # wall clock: shared by every web process
    order_key: str | None  # the ranked order's (tracker.triage.ranking.kept_ranking)
    per_topic: dict[int | None, int]
    per_category: dict[str, int]


@dataclass(frozen=True)
class _KeptShare:
    at: float
    left: int


def _kept(key: str, kind: type[Any]) -> Any:
    """The value kept under `key` when it is a `kind` of the last INBOX_KEPT_SECONDS."""
    kept = caches["pages"].get(key)  # a miss while Redis is down (tracker.core.cache)
    if isinstance(kept, kind) and 0 <= clock.time() - kept.at < INBOX_KEPT_SECONDS:
        return kept
    return None


def share_left(membership: Membership, versions: InboxVersions) -> int:
    """share_count, kept under the member's version (INBOX_KEPT_SECONDS)."""
    key = pages_key("inbox-share", membership.team_id, membership.user_id, versions.member)
    kept = _kept(key, _KeptShare)
    if kept is not None:
        return int(kept.left)
    left = share_count(membership)
    caches["pages"].set(key, _KeptShare(clock.time(), left), INBOX_KEPT_SECONDS)
    return left


def inbox_build(
    membership: Membership,
    filters: InboxFilters,
    limit: int | None = None,
    after: Paper | None = None,
    offset: int = 0,
    shown: frozenset[int] = frozenset(),
    versions: InboxVersions | None = None,
) -> Inbox:
    """The inbox page: one page of rows grouped by topic. Newest: followed topics first;
    with `after` (loaded with paper_topic), the page that follows that paper; five queries
    whatever the number of papers: the topics, the page in two halves (LIMIT before
    grouping, so grouping never touches more than `limit` rows), the page's team scores,
    and the counts per topic and category. Ranked orders: the best rows not `shown` yet
    (the rows already on the page, which "Load more" names: a rating refits the ranking, so
    a position in the old one means nothing in the new), else from rank `offset` on (a plain
    link); the ranking's fixed number of queries (tracker.triage.ranking) plus the page's.

    What the load reads of the whole window (the ranked order's key, the facets) is kept
    under the member's `versions` (inbox_versions, read here when not given) for
    INBOX_KEPT_SECONDS: a reload reads neither the window nor the facets, only the page.
    """
    limit = limit or INBOX_PAGE_SIZE
    versions = versions or inbox_versions(membership)
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

    followed_topics = [topic for topic in topics if topic.is_followed]
    followed_ids = {topic.pk for topic in followed_topics}

    topic_of = _topic_of()
    base = inbox_papers(membership, filters)
    rows = base.only(*INBOX_ROW_FIELDS).annotate(in_topic=topic_of)

    def kept_key_of(filters: InboxFilters) -> str:
        return pages_key(
            "inbox",
            membership.team_id,
            user_id,
            versions.member,
            sorted(followed_ids),
            repr(filters),
        )

    kept_key = kept_key_of(filters)
    kept: _KeptLoad | None = _kept(kept_key, _KeptLoad)
    order_key = kept.order_key if kept else None
    ranks: dict[int, RankedPaper] = {}
    more_after = more_offset = None
    if filters.sort == "newest":
        followed, rest = _inbox_halves(rows, filters, followed_ids, after)
        # Followed topics first, in order within each half. Two LIMITed queries that walk
        # the published_at index and stop early, instead of one that sorts the whole window;
        # one row more than the page says whether "Load more" has anything to load.
        page = list(followed[: limit + 1])  # none() when nothing is followed: no query
        page += list(rest[: limit + 1 - len(page)])
        more_after = page[limit - 1].pk if len(page) > limit else None
        page = page[:limit]
    else:
        # A first load of a set of filters ranks with the model of its view's unfiltered
        # load, when that load is kept (its key) and its model is in this process.
        scope_load = None
        if order_key is None and (scope := _scope(filters)) != filters:
            scope_load = _kept(kept_key_of(scope), _KeptLoad)
        # The rows shown sit among the first len(shown) + limit of the ranking, at worst.
        ranked, order_key = _ranked(
            membership,
            filters,
            base,
            len(shown) + offset + limit,
            followed_ids,
            order_key,
            scope_load.order_key if scope_load else None,
            versions.own,
        )
        if shown:
            ranked, offset = [r for r in ranked if r.paper_id not in shown], 0
        ranks = {r.paper_id: r for r in ranked[offset : offset + limit]}
        by_id = {paper.pk: paper for paper in rows.filter(pk__in=list(ranks))}
        page = [by_id[pk] for pk in ranks if pk in by_id]
        more_offset = offset + limit if len(ranked) > offset + limit else None
    marks = team_marks(membership.team, user_id, [paper.pk for paper in page])
    links = row_links(filters.as_query())

    per_topic: Counter[int | None] = Counter()
    per_category: Counter[str] = Counter()
    if kept is not None:
        per_topic.update(kept.per_topic)
        per_category.update(kept.per_category)
    else:
        # One scan of the window gives both facets: counts per topic and per category.
        for row in (
            base.order_by()
            .annotate(window_topic=topic_of)
            .values("window_topic", "primary_category")
            .annotate(n=Count("id"))
        ):
            per_topic[row["window_topic"]] += row["n"]
            if row["primary_category"]:
                per_category[row["primary_category"]] += row["n"]
    if kept is None or kept.order_key != order_key:
        # A kept load whose order had to be read again keeps its age.
        at = kept.at if kept is not None else clock.time()
        load = _KeptLoad(at, order_key, dict(per_topic), dict(per_category))
        caches["pages"].set(kept_key, load, INBOX_KEPT_SECONDS)
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
        groups[key].rows.append(
            inbox_row(paper, links(paper.pk), marks.get(paper.pk), key, ranks.get(paper.pk))
        )
    total = per_topic[filters.topic] if filters.topic else sum(per_topic.values())
    return Inbox(
        groups=list(groups.values()),
        topic_counts=topic_counts,
        categories=categories,
        followed_topics=followed_topics,
        total=total,
        shown=len(page),
        more_after=more_after,
        more_offset=more_offset,
        ranked=filters.sort != "newest",
    )


def _scope(filters: InboxFilters) -> InboxFilters:
    """The view's window whose model ranks `filters`' papers (_ranked): the filters less
    everything but the view, the `since` date and the sort. Its load is kept under it in
    its sort (inbox_build); its model, the same in every ranked sort, in the first."""
    return InboxFilters(view=filters.view, since=filters.since, sort=filters.sort)


def _ranked(
    membership: Membership,
    filters: InboxFilters,
    base: QuerySet[Paper],
    explain: int | None,
    followed_ids: set[int] | None = None,
    order_key: str | None = None,
    scope_key: str | None = None,
    own_version: tuple[object, ...] | None = None,
) -> tuple[list[RankedPaper], str | None]:
    """The window ranked in the filters' order: the member's ranking, or the team's
    predicted rating (the member's ranking breaks its ties), and the key the member's
    ranking is kept under. Why is worked out for the first `explain` of the member's
    ranking only. `order_key`: where a kept load found the ranking kept; the window is
    read, and the ranking found or fitted, only when it is no longer there. `scope_key`:
    the key of the view's own order, as its kept load has it (member_ranking_keyed's
    `fitted_key`); `own_version`: the member's (InboxVersions.own), when read already.

    The member's model is fitted on the whole of the view's window (its papers, or those
    published since `since`), and the other filters only choose which of its papers the
    order lists: a member who filters by category, topic or code finds their order fitted
    once, not once per set of filters."""
    from tracker.triage.ranking import kept_ranking, member_ranking_keyed

    explained = explain if filters.sort == "for_you" else None
    ranked = kept_ranking(order_key, explained) if order_key else None
    if ranked is None:
        # One model serves every ranked sort: the filters and their window are named in
        # the first sort, whichever the page shows.
        for_model = replace(filters, sort=INBOX_SORTS[0])
        scope = _scope(for_model)
        if filters.topic:
            base = base.filter(paper_topic__topic_id=filters.topic)
        cut = for_model != scope
        ranked, order_key = member_ranking_keyed(
            membership,
            inbox_papers(membership, scope) if cut else base,
            explained,
            within=base if cut else None,
            within_key=repr(for_model),
            scope=repr(scope),
            topic_follows=followed_ids,
            fitted_key=scope_key if cut else None,
            own_version=own_version,
        )
    # The team's order puts papers first that the member's order may rank anywhere.
    if filters.sort == "team":
        ranked.sort(key=lambda r: -(r.team_prediction or 0.0))
    return ranked, order_key


def inbox_order_warm(team_id: int, user_id: int) -> int | None:
    """The member's inbox as it opens (their share while any is left, in the "for you"
    order, its first page explained) ranked and kept, as the page itself would keep it: the
    number of papers it holds; None when they are not in the team."""
    membership = (
        Membership.objects.select_related("team").filter(team_id=team_id, user_id=user_id).first()
    )
    if membership is None:
        return None
    # As the page opens: its load is kept too (the facets, the share's count), so the next
    # load after a rating reads only its page.
    versions = inbox_versions(membership)
    filters = InboxFilters(view="share" if share_left(membership, versions) else "")
    return inbox_build(membership, filters, versions=versions).total


def inbox_next(
    membership: Membership, filters: InboxFilters, after: Paper | None = None
) -> int | None:
    """The paper the inbox lists after `after` (its first when None), in the inbox's own
    order (_inbox_halves). A few LIMIT 1 queries; in a ranked order, the ranking's."""
    if filters.sort != "newest":
        # In a ranked order a rating re-ranks what is left: the next paper is the best of
        # it, unless `after` is still there (read, not rated), then the one ranked below.
        ranked, _ = _ranked(membership, filters, inbox_papers(membership, filters), explain=0)
        ids = [r.paper_id for r in ranked]
        if after is not None and after.pk in ids:
            below = ids[ids.index(after.pk) + 1 :]
            return below[0] if below else None
        return ids[0] if ids else None
    followed_ids = set(
        TopicFollow.objects.filter(user_id=membership.user_id).values_list("topic_id", flat=True)
    )
    papers = inbox_papers(membership, filters).annotate(in_topic=_topic_of())
    followed, rest = _inbox_halves(papers, filters, followed_ids, after)
    for half in (followed, rest):
        found = half.values_list("pk", flat=True).first()
        if found is not None:
            return found
    return None


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
    # The others' ratings are hidden from this member for now (blind_papers): the summary
    # holds their own rating and history alone.
    blind: bool = False


def rating_summary(team: Team, paper: Paper, user: Any) -> RatingSummary:
    """The team's ratings of a paper: mean (the team score), count, spread, disputed or not;
    only the member's own while the paper is rated blind for them."""
    blind = bool(blind_papers(team, user.pk, [paper.pk]))
    ratings_of = Rating.objects.for_team(team).filter(paper=paper)
    history_of = RatingHistory.objects.for_team(team).filter(paper=paper)
    if blind:
        ratings_of, history_of = ratings_of.filter(user=user), history_of.filter(user=user)
    ratings = list(with_usernames(ratings_of, "user").order_by("-value"))
    values = [r.value for r in ratings]
    history = list(with_usernames(history_of, "user").order_by("-recorded_at")[:20])
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
        blind=blind,
    )


# A paper its raters score this high on average is a team pick...
PICK_MEAN = 4.0
# ...once all its readers rated it, or, given to no one (a team where everyone reads
# everything), once this many members did.
PICK_RATERS = 2
# Picks and disputes are of papers rated in this many days.
PICKS_DAYS = 30
PICKS_LIMIT = 100
# The latest papers whose scores could list them that are weighed: ten times what the two
# lists show, and far more than a team rates high or apart in PICKS_DAYS; a team that rates
# more (a seeded bench: 10,000 of them) no longer pays for reading them all on every inbox.
PICK_CANDIDATES = 10 * PICKS_LIMIT


@dataclass(frozen=True)
class TeamPaper:
    """A paper of the team's picks or of its discussion list."""

    pk: int
    title: str
    byline: str
    score: float
    raters: int
    low: int
    high: int
    latest: datetime

    @property
    def score_text(self) -> str:
        return f"{math.floor(self.score * 10 + 0.5) / 10:.1f}"


@dataclass(frozen=True)
class TeamPicks:
    picks: list[TeamPaper]
    disputes: list[TeamPaper]


# The team's picks and disputes are kept in the "pages" cache for the member at most this
# long, under a version of the team's ratings and shares: a rating or a share shows at once;
# a paper that ages out of PICKS_DAYS, is hidden or merged, or whose ratings stop being
# blind, within the minute.
PICKS_KEPT_SECONDS = 60


def team_picks(team: Team, user_id: int, versions: InboxVersions | None = None) -> TeamPicks:
    """team_picks_read, kept (PICKS_KEPT_SECONDS) under a version of the team's ratings and
    shares: `versions.picks` when the caller read them (the inbox), else two aggregates;
    the reads' four queries when not kept."""
    if versions is not None:
        version: tuple[object, ...] = versions.picks
    else:
        shares = Assignment.objects.filter(team=team).aggregate(
            n=Count("id"), last=Max("id"), readers=Sum(F("id") * F("user_id"))
        )
        version = (ratings_version(team, user_id), tuple(shares.values()))
    minute = int(timezone.now().timestamp() // PICKS_KEPT_SECONDS)
    key = pages_key("picks", team.pk, user_id, version, minute)
    kept = caches["pages"].get(key)
    if isinstance(kept, TeamPicks):
        return kept
    picks = team_picks_read(team, user_id)
    caches["pages"].set(key, picks, PICKS_KEPT_SECONDS)
    return picks


def team_picks_read(team: Team, user_id: int) -> TeamPicks:
    """The team's picks (rated high by all its readers, best and latest first) and its
    disputed papers (raters DISPUTE_RANGE or more apart), of the last PICKS_DAYS; a paper
    still rated blind for the member is in neither. One query for the ratings, one for
    whether the papers they may list are shared out and still wait for a reader, one for
    the disputes' blindness, and one for the papers listed.

    The ratings are grouped alone: asked of the grouped query, whether a paper waits for a
    reader was grouped by too, so PostgreSQL answered it for every rating (0.9 s of the
    inbox at 50,000 ratings); asked of the few papers whose scores can list them, it is
    answered once a paper."""
    rows = list(
        Rating.objects.filter(
            team=team,
            paper__hidden=False,
            paper__merged_into__isnull=True,
        )
        .values("paper_id")
        .annotate(
            score=Avg("value"),
            raters=Count("id"),
            low=Min("value"),
            high=Max("value"),
            latest=Max("updated_at"),
        )
        .filter(latest__gte=timezone.now() - timedelta(days=PICKS_DAYS))
        .filter(Q(score__gte=PICK_MEAN) | Q(raters__gt=1, high__gte=F("low") + DISPUTE_RANGE))
        .order_by("-latest", "-paper_id")[:PICK_CANDIDATES]
    )
    if not rows:
        return TeamPicks(picks=[], disputes=[])
    rated = Rating.objects.filter(
        team_id=OuterRef("team_id"), paper_id=OuterRef("paper_id"), user_id=OuterRef("user_id")
    )
    readers = Assignment.objects.filter(team=team, paper_id=OuterRef("pk"))
    waiting = {
        pk: (shared, pending)
        for pk, shared, pending in Paper.objects.filter(pk__in=[row["paper_id"] for row in rows])
        .annotate(shared=Exists(readers), pending=Exists(readers.filter(~Exists(rated))))
        .values_list("pk", "shared", "pending")
    }
    pick_ids, dispute_ids = [], []
    for row in rows:
        shared, pending = waiting[row["paper_id"]]
        ready = not pending and (shared or row["raters"] >= PICK_RATERS)
        if ready and row["score"] >= PICK_MEAN:
            pick_ids.append(row)
        if row["raters"] > 1 and row["high"] - row["low"] >= DISPUTE_RANGE:
            dispute_ids.append(row)
    if dispute_ids:
        # A pick has all its readers' ratings, so it is blind for no one; a dispute may not.
        hidden = blind_papers(team, user_id, [row["paper_id"] for row in dispute_ids])
        dispute_ids = [row for row in dispute_ids if row["paper_id"] not in hidden]
    pick_ids.sort(key=lambda row: (-row["score"], -row["latest"].timestamp()))
    pick_ids, dispute_ids = pick_ids[:PICKS_LIMIT], dispute_ids[:PICKS_LIMIT]
    papers = Paper.objects.only("pk", "title", "authors").in_bulk(
        [row["paper_id"] for row in pick_ids + dispute_ids]
    )

    def listed(row: Mapping[str, Any]) -> TeamPaper:
        paper = papers[row["paper_id"]]
        return TeamPaper(
            pk=paper.pk,
            title=paper.title,
            byline=_byline(paper.authors),
            score=row["score"],
            raters=row["raters"],
            low=row["low"],
            high=row["high"],
            latest=row["latest"],
        )

    return TeamPicks(
        picks=[listed(row) for row in pick_ids], disputes=[listed(row) for row in dispute_ids]
    )


# The curator's list of unread shares, newest first, is this long at most.
OPEN_SHARES_LISTED = 200


@dataclass(frozen=True)
class ReaderLoad:
    user_id: int
    username: str
    is_curator: bool
    unread: int  # shares neither rated nor skipped
    away_today: bool


@dataclass(frozen=True)
class OpenShare:
    assignment_id: int
    paper_id: int
    title: str
    user_id: int
    username: str
    assigned_at: datetime


@dataclass
class ShareOverview:
    readers_per_paper: int | None
    members: list[ReaderLoad]
    open_shares: list[OpenShare]
    my_absences: list[Absence]


def share_overview(membership: Membership, with_open_shares: bool) -> ShareOverview:
    """The team's sharing page: its setting, each member's unread share and whether they
    are away today, the member's own days away (current and coming), and, for a curator
    (`with_open_shares`), the latest unread shares to move. Four queries at most."""
    team = membership.team
    today = timezone.localdate()
    unread = open_assignments(team)
    loads = Counter(
        dict(
            unread.values("user_id").annotate(n=Count("id")).values_list("user_id", "n").order_by()
        )
    )
    away = Absence.objects.on(today).filter(membership=OuterRef("pk"))
    members = [
        ReaderLoad(m.user_id, m.user.get_username(), m.is_curator, loads[m.user_id], m.away)
        for m in with_usernames(Membership.objects.filter(team=team), "user")
        .annotate(away=Exists(away))
        .order_by("user__username")
    ]
    open_shares = (
        [
            OpenShare(
                a.pk, a.paper_id, a.paper.title, a.user_id, a.user.get_username(), a.assigned_at
            )
            for a in with_usernames(unread, "user")
            .select_related("paper")
            .only("pk", "paper_id", "user_id", "assigned_at", "paper__title", "user__username")
            .order_by("-assigned_at", "-pk")[:OPEN_SHARES_LISTED]
        ]
        if with_open_shares
        else []
    )
    return ShareOverview(
        readers_per_paper=team.readers_per_paper,
        members=members,
        open_shares=open_shares,
        my_absences=list(Absence.objects.filter(membership=membership, ends__gte=today)),
    )


def share_count(membership: Membership) -> int:
    """How many papers of the member's share they have still to read (one query)."""
    return inbox_papers(membership, InboxFilters(view="share")).count()
