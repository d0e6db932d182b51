"""Pages that belong to no domain: the health check and the home page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tracker.core.heartbeat import heartbeat_last
from tracker.core.selectors import home_summary


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Open to load balancers and compose health checks; says nothing about the data."""
    status = {"database": "ok", "cache": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        status["database"] = "error"
    try:
        cache.get("health-probe")
    except Exception:
        status["cache"] = "error"
    healthy = all(value == "ok" for value in status.values())
    try:
        heartbeat = heartbeat_last()
    except Exception:
        heartbeat = {}
    body = {"status": "ok" if healthy else "error", **status, "worker_seen_at": heartbeat.get("at")}
    return JsonResponse(body, status=200 if healthy else 503)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", home_summary(request.user))
