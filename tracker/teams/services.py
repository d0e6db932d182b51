"""Writes for teams and memberships."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from tracker.teams.models import ApiToken, Membership, Role, Team, hash_token


def team_get_or_create(name: str) -> Team:
    team, _ = Team.objects.get_or_create(slug=slugify(name)[:120], defaults={"name": name})
    return team


def membership_set(*, team: Team, user: AbstractUser, role: str = Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def user_create_with_membership(
    *,
    username: str,
    password: str,
    email: str = "",
    team: Team,
    role: str = Role.MEMBER,
    is_superuser: bool = False,
) -> AbstractUser:
    User = get_user_model()
    if is_superuser:
        user = User.objects.create_superuser(username=username, email=email, password=password)
    else:
        user = User.objects.create_user(username=username, email=email, password=password)
    membership_set(team=team, user=user, role=role)
    return user


def api_token_create(*, user: AbstractUser, team: Team, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its raw key, which is shown once and never stored."""
    raw = "pt_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, team=team, name=name, prefix=raw[:10], key_hash=hash_token(raw)
    )
    return token, raw


def api_token_revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
