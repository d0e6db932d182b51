"""The reproduction board and a reproduction's page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from tracker.reproductions.models import Reproduction, Status


def board(request: HttpRequest) -> HttpResponse:
    reproductions = Reproduction.objects.for_user(request.user).select_related("paper")
    columns = [
        (value, label, [r for r in reproductions if r.status == value])
        for value, label in Status.choices
    ]
    return render(request, "reproductions/board.html", {"columns": columns})


def reproduction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    reproduction = get_object_or_404(
        Reproduction.objects.for_user(request.user).select_related("paper", "team"), pk=pk
    )
    return render(request, "reproductions/detail.html", {"reproduction": reproduction})
