"""The inbox."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracker.teams.selectors import require_membership
from tracker.triage.selectors import inbox_papers


def inbox(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    papers = inbox_papers(membership)[:50]
    return render(request, "triage/inbox.html", {"papers": papers})
