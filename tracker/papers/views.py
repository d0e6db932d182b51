"""A paper's own pages that need no other app: its BibTeX and adding one by hand.
The paper page and Sources show every app at once and live in tracker.portal."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from pipeline.errors import HarvestError
from tracker.papers.export import paper_bibtex
from tracker.papers.forms import AddPaperForm
from tracker.papers.harvest import paper_add
from tracker.papers.models import Paper
from tracker.papers.selectors import sources_with_recent_runs
from tracker.teams.selectors import require_membership


@require_GET
def paper_bibtex_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One paper's BibTeX entry as plain text, to copy into a paper's .bib file."""
    require_membership(request)
    paper = get_object_or_404(Paper, pk=pk)
    if paper.merged_into_id:
        return HttpResponseRedirect(reverse("papers:bibtex", args=[paper.merged_into_id]))
    return HttpResponse(paper_bibtex(paper), content_type="text/plain; charset=utf-8")


@require_POST
def paper_add_view(request: HttpRequest) -> HttpResponse:
    """Add one paper by arXiv id or URL, or a lab report by its URL. The fetch runs in the
    request (one polite API call or one capped page fetch) so the person sees the result."""
    form = AddPaperForm(request.POST)
    if not form.is_valid():
        return _refused(request, form)
    try:
        paper, created = paper_add(form.cleaned_data["id_or_url"])
    except HarvestError as exc:
        form.add_error("id_or_url", str(exc))
        return _refused(request, form)
    messages.success(request, "Added." if created else "Already in the tracker.")
    return redirect("papers:detail", pk=paper.pk)


def _refused(request: HttpRequest, form: AddPaperForm) -> HttpResponse:
    """The Sources page again with the form's error, its table whole (without the follow
    toggles, which belong to the app above this one)."""
    rows = sources_with_recent_runs()
    return render(
        request,
        "papers/sources.html",
        {"sources": rows, "source_rows": [(row, None) for row in rows], "form": form},
        status=400,
    )
