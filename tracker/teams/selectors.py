"""Which team a request acts for."""

from __future__ import annotations

from typing import TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse

from tracker.teams.models import Invitation, Membership, Team

SESSION_KEY = "team_id"
M = TypeVar("M", bound=Model)


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership the request acts under: the team chosen in the session, else the first.

    Cached on the request so a page asks once.
    """
    if hasattr(request, "_membership"):
        return request._membership
    membership = None
    if request.user.is_authenticated:
        memberships = Membership.objects.filter(user=request.user).select_related("team")
        chosen = request.session.get(SESSION_KEY)
        if chosen is not None:
            membership = memberships.filter(team_id=chosen).first()
        if membership is None:
            membership = memberships.order_by("team__name").first()
    # HttpRequest declares no slot for a per-request cache; this one is private to this module.
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


def with_usernames(queryset: QuerySet[M], *relations: str) -> QuerySet[M]:
    """`queryset` with each related user in `relations` joined and read for its name alone:
    lists show who did what, and a whole user row is a dozen columns, the password hash
    among them, that every query would otherwise select, send and build."""
    own = [field.name for field in queryset.model._meta.concrete_fields]
    name = get_user_model().USERNAME_FIELD
    names = [f"{relation}__{name}" for relation in relations]
    return queryset.select_related(*relations).only(*own, *names)


def usernames_only() -> QuerySet[Model]:
    """Users read for their names alone, for a prefetch of who is on something."""
    User = get_user_model()
    return User.objects.only("pk", User.USERNAME_FIELD)


def invitation_link(invitation: Invitation) -> str:
    """The absolute link to send to the invited person."""
    return settings.SITE_URL + reverse("teams:invitation_accept", args=[invitation.token])
