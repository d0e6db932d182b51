"""The paper page and the search page."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from tracker.papers.models import Paper, PaperKind
from tracker.papers.search import SearchFilters, SearchHit, search, similar_papers
from tracker.topics.models import Topic


def paper_detail(request: HttpRequest, pk: int) -> HttpResponse:
    paper = get_object_or_404(Paper.objects.prefetch_related("versions", "paper_sources"), pk=pk)
    return render(
        request, "papers/detail.html", {"paper": paper, "similar": similar_papers(paper, limit=8)}
    )


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, label="Words or a question")
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
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
        hits = search(data["q"], filters, limit=30)
        searched = True
    return render(request, "papers/search.html", {"form": form, "hits": hits, "searched": searched})
