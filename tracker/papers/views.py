"""The paper page, the search page, the Sources page and the add-a-paper form."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from tracker.core.export import export_format, paper_bibtex, papers_export
from tracker.papers.forms import AddPaperForm, DayField
from tracker.papers.links import code_links
from tracker.papers.models import Paper, PaperKind, PaperSource, PaperVersion
from tracker.papers.search import SearchFilters, SearchHit, search, similar_papers
from tracker.papers.selectors import sources_with_recent_runs
from tracker.papers.versions import version_changes
from tracker.reproductions.selectors import paper_reproductions
from tracker.teams.selectors import current_membership, require_membership, with_usernames
from tracker.topics.models import Topic
from tracker.triage.forms import CommentForm, InboxFilterForm
from tracker.triage.models import Comment
from tracker.triage.selectors import paper_topic, rating_summary, team_view


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
            "similar": similar_papers(paper),
            "summary": rating_summary(team, paper, request.user),
            "comments": list(
                with_usernames(Comment.objects.for_team(team).filter(paper=paper), "user")
            ),
            "comment_form": CommentForm(),
            "repro": paper_reproductions(team, paper),
        },
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
        {"sources": sources_with_recent_runs(), "form": AddPaperForm()},
    )


@require_POST
def paper_add_view(request: HttpRequest) -> HttpResponse:
    """Add one paper by arXiv id or URL, or a lab report by its URL. The fetch runs in the
    request (one polite API call or one capped page fetch) so the person sees the result."""
    from workers.harvest.errors import HarvestError
    from workers.harvest.manual import paper_add

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


SEARCH_RESULTS = 30


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, label="Words or a question")
    date_from = DayField()
    date_to = DayField()
    category = forms.CharField(required=False, max_length=32)
    topic = forms.ModelChoiceField(
        queryset=Topic.objects.active().order_by("label"), required=False, empty_label="any topic"
    )
    kind = forms.ChoiceField(choices=[("", "any kind"), *PaperKind.choices], required=False)


def paper_search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    hits: list[SearchHit] = []
    searched = False
    if form.is_valid() and form.cleaned_data["q"].strip():
        data = form.cleaned_data
        filters = SearchFilters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            category=data["category"].strip(),
            topic_id=data["topic"].pk if data["topic"] else None,
            kind=data["kind"],
        )
        hits = search(data["q"], filters, limit=SEARCH_RESULTS)
        searched = True
        fmt = export_format(request)
        if fmt:
            return papers_export(export_papers(hits), fmt, "search")
    topic_choices = form.fields["topic"].queryset.values_list("pk", "label")
    query = request.GET.copy()
    query.pop("format", None)
    return render(
        request,
        "papers/search.html",
        {
            "form": form,
            "hits": hits,
            # What the team already made of each hit: a search is often "have we seen this?".
            **team_view(current_membership(request), [hit.paper.pk for hit in hits]),
            "searched": searched,
            "topic_choices": topic_choices,
            "export_query": query.urlencode(),
        },
        # A filter that cannot be read is the asker's mistake, shown on the form (CSV too).
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def export_papers(hits: list[SearchHit]) -> list[Paper]:
    """The hits' papers in rank order, whole: a hit carries only what the page shows."""
    papers = Paper.objects.in_bulk([hit.paper.pk for hit in hits])
    return [papers[hit.paper.pk] for hit in hits if hit.paper.pk in papers]
