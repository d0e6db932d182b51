"""Pages that show every app at once (home, a paper, Sources, the progress panel) and the
pages that belong to no domain (health, tokens, switching team)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tracker.core.heartbeat import heartbeat_last
from tracker.core.http import PortalRequest
from tracker.follows.selectors import FollowButton, follow_buttons
from tracker.papers.codewatch import code_watch_context
from tracker.papers.embeddings import paper_embedding_wait, stored_model_name
from tracker.papers.export import EXPORT_LIMIT, export_format, papers_export
from tracker.papers.forms import AddPaperForm
from tracker.papers.labs import papers_labs
from tracker.papers.links import code_links
from tracker.papers.models import Paper, PaperSource, PaperVersion
from tracker.papers.selectors import sources_all_offline, sources_with_recent_runs
from tracker.papers.versions import version_changes
from tracker.portal.selectors import home_summary, pipeline_progress, readme_section
from tracker.reproductions.forms import ClaimDraftForm
from tracker.reproductions.models import ClaimDraft, DraftKind
from tracker.reproductions.selectors import (
    PaperMarks,
    paper_claim_drafts,
    paper_reproductions,
    team_view,
)
from tracker.search.backends import similar_papers
from tracker.search.keyword import keyword_search
from tracker.teams.forms import ApiTokenForm
from tracker.teams.models import ApiToken
from tracker.teams.selectors import (
    SESSION_KEY,
    current_membership,
    require_membership,
    team_for_user,
    with_usernames,
)
from tracker.teams.services import api_token_create, api_token_revoke
from tracker.topics.models import Topic
from tracker.topics.selectors import (
    MAP_HITS,
    followed_topic_ids,
    map_points,
    map_topics,
    topic_trends,
)
from tracker.triage.forms import CommentForm, InboxFilterForm
from tracker.triage.models import Comment
from tracker.triage.selectors import paper_topic, rating_summary


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


def home(request: PortalRequest) -> HttpResponse:
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
def tokens(request: PortalRequest) -> HttpResponse:
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
                messages.error(request, str(error))
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
def token_revoke(request: PortalRequest, pk: int) -> HttpResponse:
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


@require_GET
def paper_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    paper = get_object_or_404(
        Paper.objects.select_related("paper_topic__topic").prefetch_related(
            # Ordered by number alone: the default order (paper, version) joins the papers.
            Prefetch("versions", queryset=PaperVersion.objects.order_by("version")),
            # Each source with its feed in one query, in the order they saw the paper.
            Prefetch(
                "paper_sources",
                queryset=PaperSource.objects.select_related("source").order_by(
                    "first_seen_at", "id"
                ),
            ),
        ),
        pk=pk,
    )
    if paper.merged_into_id:
        # A merged duplicate lives on in its survivor; old links keep working.
        return HttpResponseRedirect(reverse("papers:detail", args=[paper.merged_into_id]))
    team = membership.team
    # Opened from a filtered inbox, the page's "next" stays within those filters.
    inbox_query = InboxFilterForm(request.GET).filters().as_query() if request.GET else {}
    similar = similar_papers(paper)
    lab = papers_labs([paper])[paper.pk]
    sources = list(paper.paper_sources.all())
    return render(
        request,
        "papers/detail.html",
        {
            "paper": paper,
            "follow": follow_buttons(
                membership,
                authors=paper.authors or [],
                lab=paper.lab or (lab.lab if lab.evidence != "none" else ""),
                sources=[(s.source.pk, s.source.name) for s in sources if s.source],
                paper=paper,
            ),
            "next_query": urlencode({"after": str(paper.pk), **inbox_query}),
            "topic": paper_topic(paper),
            "code_links": code_links(paper),
            # Which lab, and from what evidence (a lab post, the record, the author table).
            "lab": lab,
            **code_watch_context(paper),
            "versions": version_changes(list(paper.versions.all())),
            "sources": sources,
            "similar": similar,
            # Said instead of "none yet" while this paper waits for its vector.
            "embedding": None if similar else paper_embedding_wait(paper, stored_model_name()),
            "summary": rating_summary(team, paper, request.user),
            "comments": list(
                with_usernames(Comment.objects.for_team(team).filter(paper=paper), "user")
            ),
            "comment_form": CommentForm(),
            "repro": paper_reproductions(team, paper),
            "claim_drafts": [
                (draft, _draft_form(draft)) for draft in paper_claim_drafts(team, paper)
            ],
        },
    )


def _draft_form(draft: ClaimDraft) -> ClaimDraftForm:
    """The accept form filled from the draft, for the person to accept as it is or edit."""
    setting = "" if draft.kind == DraftKind.ABSOLUTE else draft.get_kind_display()
    if draft.unit:
        setting = f"{setting} ({draft.unit})" if setting else draft.unit
    return ClaimDraftForm(
        initial={
            "metric": draft.metric,
            "dataset": draft.dataset,
            "claimed_value": draft.value,
            "higher_is_better": "1" if draft.higher_is_better else "0",
            "setting": setting,
            "tolerance": 0.0,
        },
        auto_id=f"draft{draft.pk}_%s",
    )


def sources(request: HttpRequest) -> HttpResponse:
    """Every source with its recent runs (status, counts, errors), a follow toggle each, and
    the add-a-paper form."""
    membership = current_membership(request)
    listed = sources_with_recent_runs()
    pairs = [(row.source.pk, row.source.name) for row in listed]
    toggles: list[FollowButton | None] = (
        list(follow_buttons(membership, sources=pairs)["sources"])
        if membership
        else [None] * len(listed)
    )
    return render(
        request,
        "papers/sources.html",
        {
            "sources": listed,
            "source_rows": list(zip(listed, toggles, strict=True)),
            "form": AddPaperForm(),
            "progress": pipeline_progress(),
            "offline": sources_all_offline(),
        },
    )


@dataclass(frozen=True)
class TopicPaperRow:
    """One paper of a topic's page (topics/detail.html) with what the team made of it."""

    paper: Paper
    marks: PaperMarks | None


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
    membership = current_membership(request)
    marks = team_view(membership, [row.paper_id for row in page])
    return render(
        request,
        "topics/detail.html",
        {
            "topic": topic,
            "follow": (
                follow_buttons(membership, topic=(topic.pk, topic.label)) if membership else {}
            ),
            "trend": trend,
            "page": page,
            "export_limit": EXPORT_LIMIT,
            # What the team already made of the page's papers, as search shows it.
            "rows": [TopicPaperRow(row.paper, marks.get(row.paper_id)) for row in page],
        },
    )


@require_GET
def topic_map_data(request: HttpRequest) -> JsonResponse:
    """Topics (with their most central paper's title), papers, the ids of the papers
    matching `q` and the topics the person follows, which the map highlights. It sits in
    the portal because it reads search, which is above topics."""
    query = request.GET.get("q", "")[:200]
    return JsonResponse(
        {
            "topics": map_topics(),
            "papers": map_points(),
            "hits": keyword_search(query, limit=MAP_HITS) if query.strip() else [],
            "followed": followed_topic_ids(request.user),
        }
    )
