"""Accepting a team invitation: the link a curator sends, opened by a signed-in user."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from tracker.teams.models import Invitation
from tracker.teams.selectors import SESSION_KEY
from tracker.teams.services import invitation_accept


def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.select_related("team"), token=token, accepted_at__isnull=True
    )
    if request.method == "POST":
        membership = invitation_accept(invitation, request.user)  # type: ignore[arg-type]
        request.session[SESSION_KEY] = membership.team_id
        messages.success(request, f"You joined {membership.team.name}.")
        return redirect("home")
    return render(request, "teams/invitation_accept.html", {"invitation": invitation})
