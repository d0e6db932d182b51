"""The reproduction board, a reproduction's page, its actions and the team's stats page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tracker.core.http import PortalRequest, redirect_back, url_for_pk
from tracker.papers.export import EXPORT_LIMIT, csv_response, export_format, papers_export
from tracker.papers.models import Paper
from tracker.reproductions.forms import (
    AssignForm,
    ClaimDraftForm,
    ClaimForm,
    PlanForm,
    ProposeForm,
    ResultForm,
    TransitionForm,
)
from tracker.reproductions.models import Claim, ClaimDraft, Reproduction, Status
from tracker.reproductions.selectors import (
    QUICK_MOVES,
    board_columns,
    board_queryset,
    reproduction_claim_rows,
    reproduction_events,
    reproduction_outcome,
)
from tracker.reproductions.services import (
    TRANSITIONS,
    can_assign,
    can_manage,
    claim_create,
    claim_draft_accept,
    claim_draft_reject,
    claim_recheck_done,
    is_assignee,
    reproduction_assign,
    reproduction_plan_set,
    reproduction_propose,
    reproduction_transition,
    result_log,
)
from tracker.reproductions.stats import team_stats
from tracker.teams.models import Membership
from tracker.teams.selectors import require_membership


def _team_reproduction(membership: Membership, pk: int) -> Reproduction:
    """Another team's reproduction is a 404, never a 403 that would confirm it exists."""
    return get_object_or_404(
        Reproduction.objects.for_team(membership.team).select_related("paper", "team"), pk=pk
    )


def _detail_url(reproduction: Reproduction) -> str:
    return reverse("reproductions:detail", args=[reproduction.pk])


def _form_errors(request: HttpRequest, form: object) -> None:
    errors = getattr(form, "errors", {})
    for field, items in errors.items():
        for item in items:
            messages.error(request, f"{field}: {item}" if field != "__all__" else item)


@require_GET
def board(request: PortalRequest) -> HttpResponse:
    membership = require_membership(request)
    mine = request.GET.get("mine") == "1"
    fmt = export_format(request)
    if fmt:
        reproductions = board_queryset(membership, mine).select_related("paper")[:EXPORT_LIMIT]
        if fmt == "bib":
            return papers_export([r.paper for r in reproductions], "bib", "reproductions")
        return csv_response(
            ("id", "paper", "arxiv_id", "status", "due", "budget_gpu_h", "spent_gpu_h", "url"),
            (
                (
                    r.pk,
                    r.paper.title,
                    r.paper.arxiv_id or "",
                    r.status,
                    r.due_date or "",
                    r.compute_budget_gpu_hours or "",
                    r.compute_spent_gpu_hours,
                    request.build_absolute_uri(_detail_url(r)),
                )
                for r in reproductions
            ),
            "reproductions",
        )
    columns = board_columns(membership, mine)
    detail_url = url_for_pk("reproductions:detail")
    move_url = url_for_pk("reproductions:transition")
    me = request.user.get_username()
    for column in columns:
        for card in column.items:
            card.detail_url = detail_url(card.pk)
            # As the service decides it (can_manage): assignees and curators move a card.
            if card.status in QUICK_MOVES and (membership.is_curator or me in card.assignees):
                card.move_url = move_url(card.pk)
    return render(
        request,
        "reproductions/board.html",
        {
            "columns": columns,
            "mine": mine,
            "total": sum(c.total for c in columns),
            "today": timezone.localdate(),
            "next_url": request.get_full_path(),
        },
    )


@require_GET
def reproduction_detail(request: PortalRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    reproduction = _team_reproduction(membership, pk)
    rows = reproduction_claim_rows(reproduction)
    computed = reproduction_outcome(reproduction)
    next_statuses = [Status(s) for s in Status.values if s in TRANSITIONS[reproduction.status]]
    return render(
        request,
        "reproductions/detail.html",
        {
            "reproduction": reproduction,
            "paper": reproduction.paper,
            "assignees": list(reproduction.assignees.order_by("username")),
            "events": reproduction_events(reproduction),
            "claim_rows": rows,
            "computed": Status(computed) if computed else None,
            "next_statuses": next_statuses,
            "can_manage": can_manage(reproduction, membership),
            "can_assign": can_assign(reproduction, membership),
            "is_assignee": is_assignee(reproduction, request.user),
            "assign_form": AssignForm(
                reproduction=reproduction,
                initial={"assignees": [u.pk for u in reproduction.assignees.all()]},
            ),
            "claim_form": ClaimForm(),
            # The claim recorded last is usually the one being run.
            "result_form": ResultForm(
                reproduction=reproduction,
                initial={"claim": rows[-1].claim.pk if rows else None},
                # Both forms have protocol fields: distinct ids keep each label on its input.
                auto_id="id_result_%s",
            ),
            "plan_form": PlanForm(
                initial={
                    "due_date": reproduction.due_date,
                    "budget_gpu_hours": reproduction.compute_budget_gpu_hours,
                }
            ),
            "finished_statuses": [
                Status.REPRODUCED,
                Status.PARTLY_REPRODUCED,
                Status.NOT_REPRODUCED,
            ],
        },
    )


@require_POST
def propose(request: PortalRequest, paper_pk: int) -> HttpResponse:
    membership = require_membership(request)
    paper = get_object_or_404(Paper.objects.visible(), pk=paper_pk)
    form = ProposeForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(reverse("papers:detail", args=[paper.pk]))
    reproduction, created = reproduction_propose(
        membership=membership,
        paper=paper,
        due_date=form.cleaned_data["due_date"],
        budget_gpu_hours=form.cleaned_data["budget_gpu_hours"],
        note=form.cleaned_data["note"] or "",
    )
    if request.htmx:
        return render(
            request,
            "reproductions/_proposed.html",
            {"reproduction": reproduction, "created": created},
        )
    messages.success(
        request, "Reproduction proposed." if created else "This paper already has one open."
    )
    return HttpResponseRedirect(_detail_url(reproduction))


def _act(
    request: PortalRequest,
    pk: int,
    form_class: type[forms.BaseForm],
    action: Callable[[Membership, Reproduction, dict[str, Any]], object],
    *,
    form_needs_reproduction: bool = False,
) -> HttpResponse:
    """Validate the posted form and run one service call on the team's reproduction.

    Form errors and validation errors become messages on the reproduction's page; a
    refusal (PermissionDenied from the service) stays a 403.
    """
    membership = require_membership(request)
    reproduction = _team_reproduction(membership, pk)
    extra: dict[str, Any] = {"reproduction": reproduction} if form_needs_reproduction else {}
    form = form_class(request.POST, **extra)
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(_detail_url(reproduction))
    try:
        action(membership, reproduction, form.cleaned_data)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    # Back where the form was (a board card's button), else the reproduction's page.
    return redirect_back(request, _detail_url(reproduction))


@require_POST
def assign(request: PortalRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        AssignForm,
        lambda membership, reproduction, data: reproduction_assign(
            reproduction=reproduction, membership=membership, assignees=data["assignees"]
        ),
        form_needs_reproduction=True,
    )


@require_POST
def transition(request: PortalRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        TransitionForm,
        lambda membership, reproduction, data: reproduction_transition(
            reproduction=reproduction,
            membership=membership,
            to_status=data["to_status"],
            reason=data["reason"] or "",
        ),
    )


@require_POST
def plan(request: PortalRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        PlanForm,
        lambda membership, reproduction, data: reproduction_plan_set(
            reproduction=reproduction,
            membership=membership,
            due_date=data["due_date"],
            budget_gpu_hours=data["budget_gpu_hours"],
        ),
    )


@require_POST
def add_claim(request: PortalRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        ClaimForm,
        lambda membership, reproduction, data: claim_create(
            membership=membership, paper=reproduction.paper, **data
        ),
    )


def _draft(pk: int) -> tuple[ClaimDraft, str]:
    """A draft and the place on its paper's page to go back to. Drafts belong to the paper,
    which every member may read; what each team decided is kept per team."""
    draft = get_object_or_404(ClaimDraft.objects.select_related("paper"), pk=pk)
    return draft, reverse("papers:detail", args=[draft.paper_id]) + "#claim-drafts"


@require_POST
def accept_draft(request: PortalRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    draft, back = _draft(pk)
    form = ClaimDraftForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(back)
    try:
        claim = claim_draft_accept(membership=membership, draft=draft, **form.cleaned_data)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"Claim added: {claim}.")
    return HttpResponseRedirect(back)


@require_POST
def reject_draft(request: PortalRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    draft, back = _draft(pk)
    try:
        claim_draft_reject(membership=membership, draft=draft)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return HttpResponseRedirect(back)


@require_POST
def add_result(request: PortalRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        ResultForm,
        lambda membership, reproduction, data: result_log(
            reproduction=reproduction, membership=membership, **data
        ),
        form_needs_reproduction=True,
    )


@require_GET
def stats(request: PortalRequest) -> HttpResponse:
    membership = require_membership(request)
    data = team_stats(membership.team)
    fmt = request.GET.get("format")
    if fmt == "csv":
        return csv_response(
            (
                "paper",
                "metric",
                "dataset",
                "claimed",
                "reproduced",
                "gap_pct",
                "verdict",
                "lab",
                "lab_evidence",
                "topic",
                "category",
            ),
            (
                (
                    c.paper_title,
                    c.metric,
                    c.dataset,
                    c.claimed,
                    c.reproduced,
                    "" if c.gap_pct is None else round(c.gap_pct, 2),
                    c.verdict,
                    c.lab,
                    c.lab_evidence,
                    c.topic,
                    c.category,
                )
                for c in data.claims
            ),
            "claim-verdicts",
        )
    return render(request, "reproductions/stats.html", {"stats": data})


@require_POST
def claim_rechecked(request: HttpRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    claim = get_object_or_404(Claim.objects.for_team(membership.team), pk=pk)
    claim_recheck_done(membership=membership, claim=claim)
    messages.success(request, f"Claim checked against v{claim.paper_version}.")
    return redirect_back(request, reverse("papers:detail", args=[claim.paper_id]))
