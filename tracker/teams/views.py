"""Accepting a team invitation: the link a curator sends, opened by a signed-in user."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from tracker.core.http import PortalRequest
from tracker.teams.models import Invitation
from tracker.teams.selectors import SESSION_KEY
from tracker.teams.services import InvitationRefused, invitation_accept, invitation_refusal


def invitation_accept_view(request: PortalRequest, token: str) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects.select_related("team"), token=token)
    refusal = invitation_refusal(invitation, request.user, timezone.now())
    if request.method == "POST" and refusal is None:
        try:
            membership = invitation_accept(invitation, request.user)
        except InvitationRefused as exc:
            # Another accept of the same link won the claim a moment ago.
            refusal = str(exc)
        else:
            request.session[SESSION_KEY] = membership.team_id
            messages.success(request, f"You joined {membership.team.name}.")
            return redirect("home")
    context = {"invitation": invitation, "refusal": refusal}
    return render(request, "teams/invitation_accept.html", context, status=403 if refusal else 200)
