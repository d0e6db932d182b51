"""Pages that belong to no domain: the health check and the home page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tracker.core.heartbeat import heartbeat_last
from tracker.core.selectors import home_summary, pipeline_progress, readme_section
from tracker.papers.selectors import sources_all_offline
from tracker.teams.forms import ApiTokenForm
from tracker.teams.models import ApiToken
from tracker.teams.selectors import SESSION_KEY, require_membership, team_for_user
from tracker.teams.services import api_token_create, api_token_revoke


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, JSON answers)."""
    return redirect(static("favicon.ico"), permanent=True)


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
        # The Redis cache turns an outage into misses for pages; the probe must see it.
        probe = getattr(cache, "ping", None)
        probe() if probe else cache.get("health-probe")
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
    context = {
        **home_summary(request.user),
        "progress": pipeline_progress(),
        "offline": sources_all_offline(),
        "invitation_ttl_days": settings.INVITATION_TTL_DAYS,
    }
    return render(request, "core/home.html", context)


@require_GET
def offline_help(request: HttpRequest) -> HttpResponse:
    """The README's "Without network" section, which the offline banner links to."""
    return render(request, "core/offline_help.html", {"text": readme_section("Without network")})


@require_GET
def progress(request: HttpRequest) -> HttpResponse:
    """The progress panel alone, which the home and Sources pages poll while work goes on."""
    return render(request, "core/_progress.html", {"progress": pipeline_progress()})


@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The member's API tokens in the current team: create (the key is shown once), list."""
    membership = require_membership(request)
    raw_key = None
    status = 200
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            _, raw_key = api_token_create(
                user=request.user, team=membership.team, name=form.cleaned_data["name"]
            )
        else:
            for error in form.errors["name"]:
                messages.error(request, error)
            status = 400
    rows = (
        ApiToken.objects.for_team(membership.team)
        .filter(user=request.user)
        .order_by("revoked_at", "-created_at")
    )
    return render(
        request,
        "core/tokens.html",
        {"tokens": rows, "raw_key": raw_key, "api_base": request.build_absolute_uri("/api/")},
        status=status,
    )


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Only one's own tokens: someone else's id is a 404.
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    api_token_revoke(token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("tokens")


@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    """Act for another of one's teams; someone else's team is a 404."""
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError:
        return redirect("home")
    team = team_for_user(team_id, request)
    request.session[SESSION_KEY] = team.pk
    messages.success(request, f"Now working in {team.name}.")
    return redirect("home")
