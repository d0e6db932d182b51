"""The search page: one box over keywords and meaning, with filters and exports."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from tracker.core.http import url_for_pk
from tracker.papers.export import export_format, papers_export
from tracker.papers.forms import DayField
from tracker.papers.models import Paper, PaperKind
from tracker.reproductions.selectors import PaperMarks, team_view
from tracker.search.filters import SearchFilters
from tracker.search.fusion import SearchHit, search
from tracker.teams.selectors import current_membership
from tracker.topics.models import Topic

SEARCH_RESULTS = 30


# Lazy: every use clones it, so each request reads the topics afresh.
ACTIVE_TOPICS = Topic.objects.active().order_by("label")


SNIPPET_WORDS = 45


@dataclass(frozen=True)
class ResultRow:
    """One hit as the result list shows it (search/_results.html). The date and snippet are
    cut here, not by the date and truncatewords filters: on thirty rows those filters
    cost more than the rest of the list, and flat fields are quicker to look up."""

    url: str
    title: str
    category: str
    lab: str
    published: str
    keyword_rank: int | None
    semantic_rank: int | None
    snippet: str
    marks: PaperMarks | None


def snippet(text: str, words: int = SNIPPET_WORDS) -> str:
    """The first `words` words, as the truncatewords filter cuts them."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def result_rows(hits: list[SearchHit], marks: dict[int, PaperMarks]) -> list[ResultRow]:
    detail_url = url_for_pk("papers:detail")
    return [
        ResultRow(
            url=detail_url(hit.paper.pk),
            title=hit.paper.title,
            category=hit.paper.primary_category,
            lab=hit.paper.lab,
            published=(
                timezone.localtime(hit.paper.published_at).date().isoformat()
                if hit.paper.published_at
                else ""
            ),
            keyword_rank=hit.keyword_rank,
            semantic_rank=hit.semantic_rank,
            snippet=snippet(hit.paper.abstract),
            marks=marks.get(hit.paper.pk),
        )
        for hit in hits
    ]


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, label="Words or a question")
    date_from = DayField()
    date_to = DayField()
    category = forms.CharField(required=False, max_length=32)
    topic = forms.ModelChoiceField(queryset=ACTIVE_TOPICS, required=False, empty_label="any topic")
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
    topic_choices = ACTIVE_TOPICS.values_list("pk", "label")
    query = request.GET.copy()
    query.pop("format", None)
    # What the team already made of each hit: a search is often "have we seen this?".
    marks = team_view(current_membership(request), [hit.paper.pk for hit in hits])
    return render(
        request,
        "search/search.html",
        {
            "form": form,
            "hits": hits,
            "rows": result_rows(hits, marks),
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
