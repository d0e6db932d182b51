"""The follows page (follows, webhooks, delivery log), the notification list, and the
follow buttons' endpoints. Thin: parse, call a service or selector, render or go back."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tracker.core.http import PortalRequest, redirect_back
from tracker.follows.forms import TYPED_KINDS, FollowForm, WebhookForm
from tracker.follows.selectors import (
    ALERTS_SHOWN,
    DELIVERIES_SHOWN,
    alerts_of,
    alerts_unread_count,
    deliveries_of,
    follows_of,
    webhooks_of,
)
from tracker.follows.services import (
    WEBHOOK_MISSING,
    alerts_mark_seen,
    delivery_retry,
    follow_add,
    follow_remove,
    follow_remove_matching,
    webhook_add,
    webhook_remove,
)
from tracker.teams.selectors import require_membership

FOLLOW_REFUSED = "That cannot be followed."


def settings_page(request: PortalRequest) -> HttpResponse:
    membership = require_membership(request)
    follows = list(follows_of(membership).select_related("topic", "source"))
    return render(
        request,
        "follows/settings.html",
        {
            "own_follows": [f for f in follows if not f.is_channel],
            "channel_follows": [f for f in follows if f.is_channel],
            "webhooks": list(webhooks_of(membership)),
            "deliveries": list(deliveries_of(membership)[:DELIVERIES_SHOWN]),
            "typed_kinds": TYPED_KINDS,
            "is_curator": membership.is_curator,
        },
    )


@require_POST
def add(request: PortalRequest) -> HttpResponse:
    membership = require_membership(request)
    form = FollowForm(request.POST)
    if not form.is_valid():
        messages.error(request, FOLLOW_REFUSED)
        return redirect_back(request, reverse("follows:settings"))
    try:
        follow, created = follow_add(
            membership,
            form.cleaned_data["kind"],
            form.cleaned_data["value"],
            channel=form.cleaned_data["channel"],
        )
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text or FOLLOW_REFUSED)
    else:
        whose = "The team follows" if follow.is_channel else "Following"
        messages.success(request, f"{whose} {follow.label}." if created else "Already followed.")
    return redirect_back(request, reverse("follows:settings"))


@require_POST
def unfollow(request: PortalRequest) -> HttpResponse:
    membership = require_membership(request)
    follow = follow_remove_matching(
        membership, request.POST.get("kind", ""), request.POST.get("value", "")
    )
    if follow:
        messages.success(request, f"No longer following {follow.label}.")
    return redirect_back(request, reverse("follows:settings"))


@require_POST
def remove(request: PortalRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    try:
        follow = follow_remove(membership, pk)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect_back(request, reverse("follows:settings"))
    if follow:
        messages.success(request, f"No longer following {follow.label}.")
    return redirect_back(request, reverse("follows:settings"))


@require_POST
def webhook_create(request: PortalRequest) -> HttpResponse:
    membership = require_membership(request)
    form = WebhookForm(request.POST)
    if not form.is_valid():
        messages.error(request, WEBHOOK_MISSING)
        return redirect_back(request, reverse("follows:settings"))
    try:
        webhook_add(membership, form.cleaned_data["url"], channel=form.cleaned_data["channel"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Webhook added. Its secret is below: use it to verify.")
    return redirect_back(request, reverse("follows:settings") + "#webhooks")


@require_POST
def webhook_delete(request: PortalRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    try:
        if webhook_remove(membership, pk):
            messages.success(request, "Webhook removed.")
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    return redirect_back(request, reverse("follows:settings") + "#webhooks")


@require_POST
def delivery_resend(request: PortalRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    if delivery_retry(membership, pk):
        messages.success(request, "Sending it again.")
    return redirect_back(request, reverse("follows:settings") + "#deliveries")


def alerts(request: PortalRequest) -> HttpResponse:
    """The notification list; opening it marks every alert read (after reading which were
    unread, so they stand out this once)."""
    membership = require_membership(request)
    rows = list(alerts_of(membership)[:ALERTS_SHOWN])
    alerts_mark_seen(membership)
    return render(request, "follows/alerts.html", {"alerts": rows})


def unread(request: PortalRequest) -> HttpResponse:
    """The nav's badge: how many alerts came since the member last opened the list."""
    membership = require_membership(request)
    return render(request, "follows/_unread.html", {"count": alerts_unread_count(membership)})
