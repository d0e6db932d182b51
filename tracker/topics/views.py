"""Topics pages: the overview with weekly trends and the map of all papers. One topic's page
shows the team's marks too and lives in tracker.portal."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracker.topics.models import ClusteringRun, Topic
from tracker.topics.selectors import (
    map_empty_reason,
    topic_trends,
    topics_fastest_growing,
)


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
