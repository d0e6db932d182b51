"""The paper page, the Sources page and the add-a-paper form."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from pipeline.errors import HarvestError
from tracker.core.export import paper_bibtex
from tracker.core.selectors import pipeline_progress
from tracker.papers.embeddings import paper_embedding_wait, stored_model_name
from tracker.papers.forms import AddPaperForm
from tracker.papers.harvest import paper_add
from tracker.papers.links import code_links
from tracker.papers.models import Paper, PaperSource, PaperVersion
from tracker.papers.selectors import sources_with_recent_runs
from tracker.papers.versions import version_changes
from tracker.reproductions.forms import ClaimDraftForm
from tracker.reproductions.models import ClaimDraft, DraftKind
from tracker.reproductions.selectors import paper_claim_drafts, paper_reproductions
from tracker.search.index import similar_papers
from tracker.teams.selectors import require_membership, with_usernames
from tracker.triage.forms import CommentForm, InboxFilterForm
from tracker.triage.models import Comment
from tracker.triage.selectors import paper_topic, rating_summary


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
    return render(
        request,
        "papers/detail.html",
        {
            "paper": paper,
            "next_query": urlencode({"after": paper.pk, **inbox_query}),
            "topic": paper_topic(paper),
            "code_links": code_links(paper),
            "versions": version_changes(list(paper.versions.all())),
            "sources": list(paper.paper_sources.all()),
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


@require_GET
def paper_bibtex_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One paper's BibTeX entry as plain text, to copy into a paper's .bib file."""
    require_membership(request)
    paper = get_object_or_404(Paper, pk=pk)
    if paper.merged_into_id:
        return HttpResponseRedirect(reverse("papers:bibtex", args=[paper.merged_into_id]))
    return HttpResponse(paper_bibtex(paper), content_type="text/plain; charset=utf-8")


def sources(request: HttpRequest) -> HttpResponse:
    """Every source with its recent runs (status, counts, errors) and the add-a-paper form."""
    return render(
        request,
        "papers/sources.html",
        {
            "sources": sources_with_recent_runs(),
            "form": AddPaperForm(),
            "progress": pipeline_progress(),
        },
    )


@require_POST
def paper_add_view(request: HttpRequest) -> HttpResponse:
    """Add one paper by arXiv id or URL, or a lab report by its URL. The fetch runs in the
    request (one polite API call or one capped page fetch) so the person sees the result."""
    form = AddPaperForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "papers/sources.html",
            {"sources": sources_with_recent_runs(), "form": form},
            status=400,
        )
    try:
        paper, created = paper_add(form.cleaned_data["id_or_url"])
    except HarvestError as exc:
        form.add_error("id_or_url", str(exc))
        return render(
            request,
            "papers/sources.html",
            {"sources": sources_with_recent_runs(), "form": form},
            status=400,
        )
    messages.success(request, "Added." if created else "Already in the tracker.")
    return redirect("papers:detail", pk=paper.pk)
