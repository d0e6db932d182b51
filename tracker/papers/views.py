"""The paper page, the Sources page and the add-a-paper form."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tracker.papers.forms import AddPaperForm
from tracker.papers.models import Paper
from tracker.papers.search import similar_papers
from tracker.papers.selectors import sources_with_recent_runs


def paper_detail(request: HttpRequest, pk: int) -> HttpResponse:
    paper = get_object_or_404(Paper.objects.prefetch_related("versions", "paper_sources"), pk=pk)
    return render(
        request, "papers/detail.html", {"paper": paper, "similar": similar_papers(paper, limit=8)}
    )


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
