"""Who may curate what: the curator role, its admin group, and the teams it covers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest

from tracker.teams.models import Membership, Role, Team

CURATORS_GROUP = "Curators"

# Exactly the admin pages a curator needs: the shared corpus (papers, sources, duplicates,
# topics), their teams' people, and read access to their teams' own rows. Users are
# view-only (to pick one for a membership); passwords and flags stay with superusers.
CURATOR_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "papers": {
        "paper": ("view", "change"),
        "source": ("view", "add", "change"),
        "harvestrun": ("view",),
        "paperversion": ("view",),
        "papersource": ("view",),
        "embedding": ("view",),
        "duplicatecandidate": ("view", "change"),
        "papermerge": ("view", "change"),
    },
    "topics": {
        "topic": ("view", "change"),
        "clusteringrun": ("view",),
        "papertopic": ("view",),
    },
    "teams": {
        "team": ("view",),
        "membership": ("view", "add", "change", "delete"),
        "invitation": ("view", "add", "change", "delete"),
    },
    "triage": {
        "rating": ("view",),
        "ratinghistory": ("view",),
        "comment": ("view", "delete"),
        # Moving a paper from one reader's share to another's.
        "assignment": ("view", "change"),
    },
    "reproductions": {
        "reproduction": ("view",),
        "claim": ("view",),
        "resultlog": ("view",),
    },
    "auth": {"user": ("view",)},
}


def user_is_curator(request: HttpRequest) -> bool:
    """Whether the signed-in user curates any team; asked once per request."""
    cached: bool | None = getattr(request, "_is_curator", None)
    if cached is None:
        user = request.user
        cached = (
            user.is_authenticated
            and Membership.objects.filter(user=user, role=Role.CURATOR).exists()
        )
        # HttpRequest declares no slot for a per-request cache; this one is private here.
        request._is_curator = cached  # type: ignore[attr-defined]
    return cached


def curated_team_ids(request: HttpRequest) -> list[int]:
    """The teams whose rows the request's user may see in the admin; cached per request."""
    cached: list[int] | None = getattr(request, "_curated_team_ids", None)
    if cached is None:
        user = request.user
        cached = (
            list(
                Membership.objects.filter(user=user, role=Role.CURATOR).values_list(
                    "team_id", flat=True
                )
            )
            if user.is_authenticated
            else []
        )
        # HttpRequest declares no slot for a per-request cache; this one is private here.
        request._curated_team_ids = cached  # type: ignore[attr-defined]
    return cached


def curated_teams(request: HttpRequest) -> Any:
    user: User | AnonymousUser = request.user
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(pk__in=curated_team_ids(request))


def curated_users(request: HttpRequest) -> Any:
    """The accounts the request's user may see in the admin: members of the teams they
    curate (everyone for a superuser). New people join through an invitation by email."""
    users = get_user_model().objects.all()
    if request.user.is_superuser:
        return users
    members = Membership.objects.filter(team_id__in=curated_team_ids(request))
    return users.filter(pk__in=members.values("user_id"))
