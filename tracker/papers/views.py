"""The paper page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from tracker.papers.models import Paper
from tracker.papers.search import similar_papers


def paper_detail(request: HttpRequest, pk: int) -> HttpResponse:
    paper = get_object_or_404(Paper.objects.prefetch_related("versions", "paper_sources"), pk=pk)
    return render(
        request, "papers/detail.html", {"paper": paper, "similar": similar_papers(paper, limit=8)}
    )
