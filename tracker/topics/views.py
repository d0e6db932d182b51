"""Topics pages: the overview with weekly trends, one topic, and the map of all papers."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from tracker.core.export import EXPORT_LIMIT, export_format, papers_export
from tracker.papers.models import Paper
from tracker.teams.selectors import current_membership
from tracker.topics.models import ClusteringRun, Topic
from tracker.topics.selectors import (
    MAP_HITS,
    followed_topic_ids,
    map_empty_reason,
    map_points,
    map_topics,
    topic_trends,
    topics_fastest_growing,
)
from tracker.triage.selectors import team_view


def topic_index(request: HttpRequest) -> HttpResponse:
    trends = topic_trends()
    return render(
        request,
        "topics/index.html",
        {
            "trends": trends,
            "growing": topics_fastest_growing(trends=trends),
            "run": ClusteringRun.objects.filter(status="succeeded").order_by("-started_at").first(),
        },
    )


def topic_detail(request: HttpRequest, pk: int) -> HttpResponse:
    topic = get_object_or_404(Topic, pk=pk)
    fmt = export_format(request)
    if fmt:
        papers = Paper.objects.visible().filter(paper_topic__topic=topic)
        return papers_export(
            papers.order_by("-published_at", "-id")[:EXPORT_LIMIT], fmt, f"topic-{topic.pk}"
        )
    trend = topic_trends([topic])[0]
    memberships = (
        # A merged duplicate lives on in its survivor, which is listed itself.
        topic.paper_topics.filter(paper__hidden=False, paper__merged_into__isnull=True)
        .select_related("paper")
        .order_by("-paper__published_at", "-paper_id")
    )
    page = Paginator(memberships, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "topics/detail.html",
        {
            "topic": topic,
            "trend": trend,
            "page": page,
            "export_limit": EXPORT_LIMIT,
            # What the team already made of the page's papers, as search shows it.
            **team_view(current_membership(request), [row.paper_id for row in page]),
        },
    )


def topic_map(request: HttpRequest) -> HttpResponse:
    topics = list(Topic.objects.active().order_by("-size"))
    return render(
        request,
        "topics/map.html",
        {
            "topics": topics,
            "query": request.GET.get("q", "")[:200],
            "empty_reason": None if topics else map_empty_reason(),
        },
    )


def topic_map_data(request: HttpRequest) -> JsonResponse:
    """Topics (with their most central paper's title), papers, the ids of the papers
    matching `q` and the topics the person follows, which the map highlights."""
    from tracker.search.keyword import keyword_search

    query = request.GET.get("q", "")[:200]
    return JsonResponse(
        {
            "topics": map_topics(),
            "papers": map_points(),
            "hits": keyword_search(query, limit=MAP_HITS) if query.strip() else [],
            "followed": followed_topic_ids(request.user),
        }
    )
