"""The paper page: the paper itself, and what the current team has said and done about it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tracker.papers.links import code_links
from tracker.papers.models import Paper
from tracker.papers.search import similar_papers
from tracker.papers.versions import version_changes
from tracker.reproductions.selectors import paper_reproductions
from tracker.teams.selectors import require_membership
from tracker.triage.forms import CommentForm
from tracker.triage.models import Comment
from tracker.triage.selectors import paper_topic, rating_summary


@require_GET
def paper_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    paper = get_object_or_404(
        Paper.objects.select_related("paper_topic__topic").prefetch_related(
            "versions", "paper_sources__source"
        ),
        pk=pk,
    )
    if paper.merged_into_id:
        # A merged duplicate lives on in its survivor; old links keep working.
        return HttpResponseRedirect(reverse("papers:detail", args=[paper.merged_into_id]))
    team = membership.team
    return render(
        request,
        "papers/detail.html",
        {
            "paper": paper,
            "topic": paper_topic(paper),
            "code_links": code_links(paper),
            "versions": version_changes(list(paper.versions.all())),
            "sources": list(paper.paper_sources.all()),
            "similar": similar_papers(paper, limit=8),
            "summary": rating_summary(team, paper, request.user),
            "comments": list(
                Comment.objects.for_team(team).filter(paper=paper).select_related("user")
            ),
            "comment_form": CommentForm(),
            "repro": paper_reproductions(team, paper),
        },
    )
