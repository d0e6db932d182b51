"""Which team a request acts for."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from tracker.teams.models import Membership, Team

SESSION_KEY = "team_id"


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership the request acts under: the team chosen in the session, else the first.

    Cached on the request so a page asks once.
    """
    if hasattr(request, "_membership"):
        return request._membership  # type: ignore[no-any-return]
    membership = None
    if request.user.is_authenticated:
        memberships = Membership.objects.filter(user=request.user).select_related("team")
        chosen = request.session.get(SESSION_KEY)
        if chosen is not None:
            membership = memberships.filter(team_id=chosen).first()
        if membership is None:
            membership = memberships.order_by("team__name").first()
    request._membership = membership  # type: ignore[attr-defined]
    return membership


def require_membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team.")
    return membership


def team_for_user(team_id: int, request: HttpRequest) -> Team:
    try:
        return Team.objects.for_user(request.user).get(pk=team_id)
    except Team.DoesNotExist as exc:
        raise Http404("No such team.") from exc
