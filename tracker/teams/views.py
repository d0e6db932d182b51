"""Team invitations: a curator invites by email; the invited person opens the link."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from tracker.core.http import PortalRequest
from tracker.teams.forms import InvitationForm
from tracker.teams.models import Invitation
from tracker.teams.selectors import SESSION_KEY, invitation_link, require_membership
from tracker.teams.services import (
    InvitationRefused,
    invitation_accept,
    invitation_create,
    invitation_refusal,
)


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


@require_POST
def invitation_create_view(request: PortalRequest) -> HttpResponse:
    """A curator invites someone to the team they work in; the link to send is shown once
    on the home page (there is no mail server to rely on)."""
    membership = require_membership(request)
    if not membership.is_curator:
        messages.error(request, "Only the team's curators can invite.")
        return redirect("home")
    form = InvitationForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("home")
    invitation = invitation_create(
        team=membership.team,
        email=form.cleaned_data["email"],
        role=form.cleaned_data["role"],
        invited_by=request.user,
    )
    messages.success(
        request,
        f"Invited {invitation.email} as {invitation.get_role_display().lower()}. Send them "
        f"this link (it works only for that email and expires on "
        f"{invitation.expires_at:%Y-%m-%d}): {invitation_link(invitation)}",
    )
    return redirect("home")
