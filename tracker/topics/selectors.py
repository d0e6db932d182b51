"""Reads for topics: weekly trends, the fastest-growing topics, map points."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import caches
from django.db.models import Count, Max, OuterRef, Subquery, Sum
from django.db.models.functions import Mod, TruncWeek
from django.utils import timezone

from tracker.core.cache import pages_key
from tracker.papers.embeddings import papers_missing_embedding, stored_model_name
from tracker.papers.models import Paper, RunStatus
from tracker.topics.models import ClusteringRun, PaperTopic, Topic, TopicFollow

TREND_WEEKS = 12
SPARK_WIDTH, SPARK_HEIGHT = 120, 28
# The map draws at most this many papers; past it, an even sample keeps the page light.
MAP_POINTS = 30_000
# How long the weekly counts and the map's points are kept for every web process. Each is
# keyed on the newest paper-topic row and on the curators' last change to topics, so a
# run, a paper joining a topic or a merge of topics shows at once; a paper hidden or merged
# leaves the map and the counts within this time.
TOPICS_KEPT_SECONDS = 300
TOPICS_CHANGED = "topics:changed"
# Papers that arrived since the last clustering run, as a share of all papers, past which
# topics are re-fitted at once instead of at the nightly run.
RECLUSTER_SHARE = 0.2


def clustering_due(model_name: str, min_papers: int) -> bool:
    """Whether topics should be fitted now rather than at the nightly run: papers are all
    embedded, and either no run has succeeded yet or a fifth of the papers arrived after it.

    Waiting for the embedding backlog to drain keeps a fresh import to one run, not a run
    after every chunk of vectors.
    """
    visible = Paper.objects.filter(hidden=False, merged_into__isnull=True)
    if papers_missing_embedding(model_name).filter(hidden=False).exists():
        return False
    last = (
        ClusteringRun.objects.filter(model_name=model_name, status=RunStatus.SUCCEEDED)
        .order_by("-started_at")
        .first()
    )
    total = visible.count()
    if total < min_papers:
        return False
    if last is None:
        return True
    arrived = visible.filter(created_at__gt=last.started_at).count()
    return arrived >= RECLUSTER_SHARE * total


def week_start(moment: datetime) -> datetime:
    moment = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    monday = moment - timedelta(days=moment.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def current_week() -> datetime:
    """This week; or, when no paper arrived this week (an old corpus), the newest paper's."""
    # The newest paper that has a topic, walked down the papers' date index: it stops at
    # the first, where MAX over every paper-topic row read them all (2 s at a million).
    newest = (
        Paper.objects.filter(paper_topic__isnull=False, published_at__isnull=False)
        .order_by("-published_at")
        .values_list("published_at", flat=True)
        .first()
    )
    now = timezone.now()
    return week_start(min(newest, now) if newest else now)


def topic_weekly_counts(
    topic_ids: list[int], weeks: int = TREND_WEEKS, until: datetime | None = None
) -> dict[int, list[int]]:
    """Papers per topic per week, oldest week first, ending with the current week. Kept a
    few minutes in the "pages" cache: at a million papers the count reads the 80,000 or so
    papers of the twelve weeks (half a second), the same for every member's page."""
    last = until or current_week()
    first = last - timedelta(weeks=weeks - 1)
    key = pages_key("topic-weeks", sorted(topic_ids), first, weeks, _topics_version())
    kept: dict[int, list[int]] | None = caches["pages"].get(key)
    if kept is not None:
        return kept
    counts = _weekly_counts(topic_ids, first, weeks)
    caches["pages"].set(key, counts, TOPICS_KEPT_SECONDS)
    return counts


def _topics_version() -> tuple[object, int]:
    """What the topics' kept pages are computed from: the curators' last change (a cache
    read) and the newest paper-topic row's id (one step down the primary key), which
    changes when a run writes the topics again or a paper joins one."""
    newest = PaperTopic.objects.aggregate(newest=Max("id"))["newest"] or 0
    return caches["pages"].get(TOPICS_CHANGED), newest


def topics_changed() -> None:
    """A curator moved papers between topics: what pages kept of the topics is left."""
    caches["pages"].set(TOPICS_CHANGED, secrets.token_hex(8), None)


def _weekly_counts(topic_ids: list[int], first: datetime, weeks: int) -> dict[int, list[int]]:
    last = first + timedelta(weeks=weeks - 1)
    counts = {pk: [0] * weeks for pk in topic_ids}
    rows = (
        PaperTopic.objects.filter(
            topic_id__in=topic_ids,
            paper__published_at__gte=first,
            paper__published_at__lt=last + timedelta(weeks=1),
        )
        .annotate(week=TruncWeek("paper__published_at"))
        .values_list("topic_id", "week")
        .annotate(n=Count("id"))
        .order_by()
    )
    for topic_id, week, n in rows:
        index = (week_start(week) - first).days // 7
        if 0 <= index < weeks:
            counts[topic_id][index] += n
    return counts


def sparkline_points(values: list[int]) -> str:
    """An SVG polyline's points for these values, scaled into the sparkline box."""
    if not values:
        return ""
    top = max(max(values), 1)
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 2 - (v / top) * (SPARK_HEIGHT - 4):.1f}"
        for i, v in enumerate(values)
    )


@dataclass
class TopicTrend:
    topic: Topic
    weekly: list[int]
    points: str

    @property
    def this_week(self) -> int:
        return self.weekly[-1] if self.weekly else 0

    @property
    def growth(self) -> float:
        """This week against the mean of the four before, smoothed so tiny topics don't win."""
        before = self.weekly[-5:-1]
        baseline = sum(before) / len(before) if before else 0.0
        return (self.this_week + 1) / (baseline + 1)


def topic_trends(topics: list[Topic] | None = None) -> list[TopicTrend]:
    """Every active topic (or the given ones) with its weekly counts, largest first."""
    topics = (
        topics if topics is not None else list(Topic.objects.active().order_by("-size", "label"))
    )
    weekly = topic_weekly_counts([t.pk for t in topics])
    return [TopicTrend(t, weekly[t.pk], sparkline_points(weekly[t.pk])) for t in topics]


def topics_fastest_growing(
    limit: int = 5, trends: list[TopicTrend] | None = None
) -> list[TopicTrend]:
    trends = trends if trends is not None else topic_trends()
    growing = [t for t in trends if t.this_week > 0]
    return sorted(growing, key=lambda t: (-t.growth, -t.this_week))[:limit]


def map_points(limit: int | None = None) -> list[dict[str, object]]:
    """Papers with a map position: id, x, y, topic, title (escaped by the client).

    Past `limit` papers, an even sample (every n-th paper id) picked by the database, so a
    million papers cost the page `limit` rows, never a million. Kept a few minutes in the
    "pages" cache (picking the sample reads every paper-topic row: 0.6 s at a million).
    """
    limit = limit or MAP_POINTS
    key = pages_key("map-points", limit, _topics_version())
    kept: list[dict[str, object]] | None = caches["pages"].get(key)
    if kept is not None:
        return kept
    points = _map_points(limit)
    caches["pages"].set(key, points, TOPICS_KEPT_SECONDS)
    return points


def _map_points(limit: int) -> list[dict[str, object]]:
    total = Topic.objects.active().aggregate(n=Sum("size"))["n"] or 0
    rows = PaperTopic.objects.filter(
        # Positions are written in pairs; a half-written one is left off the map.
        map_x__isnull=False,
        map_y__isnull=False,
        paper__hidden=False,
        paper__merged_into__isnull=True,
    )
    step = max(1, -(-total // limit))
    if step > 1:
        rows = rows.alias(slot=Mod("paper_id", step)).filter(slot=0)
    return [
        {
            "id": paper_id,
            "x": round(x or 0.0, 4),
            "y": round(y or 0.0, 4),
            "t": topic_id,
            "title": title[:160],
        }
        for paper_id, x, y, topic_id, title in rows.order_by("paper_id").values_list(
            "paper_id", "map_x", "map_y", "topic_id", "paper__title"
        )[:limit]
    ]


@dataclass(frozen=True)
class ClusteringProgress:
    """The clustering run under way (with the time the last one took, scaled by papers),
    or the last one finished."""

    running_since: datetime | None
    expected_seconds: float | None
    last_finished_at: datetime | None
    topic_count: int

    @property
    def eta_seconds(self) -> float | None:
        if self.running_since is None or self.expected_seconds is None:
            return None
        elapsed = (timezone.now() - self.running_since).total_seconds()
        return max(self.expected_seconds - elapsed, 0.0)


def clustering_progress(papers: int) -> ClusteringProgress:
    runs = list(
        ClusteringRun.objects.filter(status__in=[RunStatus.RUNNING, RunStatus.SUCCEEDED])
        .order_by("-started_at")
        .only("status", "started_at", "finished_at", "duration_seconds", "paper_count")[:2]
    )
    running = runs[0] if runs and runs[0].status == RunStatus.RUNNING else None
    done = next((run for run in runs if run.status == RunStatus.SUCCEEDED), None)
    expected = None
    if running and done and done.duration_seconds and done.paper_count:
        # k-means and the labels grow about linearly with the papers.
        expected = done.duration_seconds * max(papers, 1) / done.paper_count
    return ClusteringProgress(
        running_since=running.started_at if running else None,
        expected_seconds=expected,
        last_finished_at=done.finished_at if done else None,
        topic_count=Topic.objects.active().count(),
    )


# Search hits the map highlights at most.
MAP_HITS = 500


def map_topics() -> list[dict[str, object]]:
    """Active topics, largest first, each with the title of its most central paper (the
    one nearest its centroid), which the map shows when the label is hovered. One query."""
    central = (
        PaperTopic.objects.filter(topic=OuterRef("pk"), paper__hidden=False)
        .order_by("-similarity", "paper_id")
        .values("paper__title")[:1]
    )
    return [
        {"id": pk, "label": label, "x": x, "y": y, "size": size, "central": (title or "")[:160]}
        for pk, label, x, y, size, title in Topic.objects.active()
        .annotate(central=Subquery(central))
        .order_by("-size", "pk")
        .values_list("pk", "label", "map_x", "map_y", "size", "central")
    ]


def followed_topic_ids(user: User | AnonymousUser) -> list[int]:
    if not isinstance(user, User):
        return []
    return list(TopicFollow.objects.filter(user=user).values_list("topic_id", flat=True))


def map_empty_reason() -> str:
    """Why the map has no topics yet, and what makes them come."""
    from tracker.topics.services import MIN_PAPERS

    papers = Paper.objects.filter(hidden=False, merged_into__isnull=True).count()
    if papers == 0:
        return (
            "No papers yet. Harvest a source, or without network import a file with "
            "manage.py import_papers; the map fills once they are embedded and clustered."
        )
    if papers < MIN_PAPERS:
        return f"Only {papers} papers: topics need at least {MIN_PAPERS}."
    missing = papers_missing_embedding(stored_model_name()).filter(hidden=False).count()
    if missing:
        return (
            f"Embedding papers: {papers - missing:,} of {papers:,}. Topics are fitted as "
            "soon as every paper has its vector; then the map fills."
        )
    last = ClusteringRun.objects.order_by("-started_at").first()
    if last is not None and last.status == RunStatus.RUNNING:
        return "Topics are being fitted now; the map fills when the run ends."
    if last is not None and last.status == RunStatus.FAILED:
        return "The last clustering run failed; manage.py cluster_papers runs it again."
    return (
        "No clustering run yet: it starts by itself once every paper has its vector, "
        "or run manage.py cluster_papers now."
    )
