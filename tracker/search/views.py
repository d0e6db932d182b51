"""The search page: one box over keywords and meaning, with filters and exports."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracker.papers.export import export_format, papers_export
from tracker.papers.forms import DayField
from tracker.papers.models import Paper, PaperKind
from tracker.reproductions.selectors import team_view
from tracker.search.filters import SearchFilters
from tracker.search.fusion import SearchHit, search
from tracker.teams.selectors import current_membership
from tracker.topics.models import Topic

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
        "search/search.html",
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
