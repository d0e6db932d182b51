"""Writes for teams and memberships."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from tracker.teams.access import CURATOR_PERMISSIONS, CURATORS_GROUP
from tracker.teams.models import (
    Absence,
    ApiToken,
    Invitation,
    Membership,
    Role,
    Team,
    hash_token,
)


def team_get_or_create(name: str) -> Team:
    team, _ = Team.objects.get_or_create(slug=slugify(name)[:120], defaults={"name": name})
    return team


def membership_set(*, team: Team, user: User, role: str = Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
    )
    return membership


def curators_group_sync() -> Group:
    """Create the Curators group if missing and give it exactly CURATOR_PERMISSIONS."""
    group, _ = Group.objects.get_or_create(name=CURATORS_GROUP)
    wanted = Q(pk__in=[])
    for app_label, models in CURATOR_PERMISSIONS.items():
        for model, actions in models.items():
            wanted |= Q(
                content_type__app_label=app_label,
                content_type__model=model,
                codename__in=[f"{action}_{model}" for action in actions],
            )
    group.permissions.set(Permission.objects.filter(wanted))
    return group


def user_admin_access_sync(user: User) -> None:
    """Give the admin to curators (staff + Curators group) and take it from everyone else.

    Superusers keep their flags: they are managed by hand, not by team roles.
    """
    is_curator = Membership.objects.filter(user=user, role=Role.CURATOR).exists()
    group = curators_group_sync()
    if is_curator:
        user.groups.add(group)
    else:
        user.groups.remove(group)
    staff = is_curator or user.is_superuser
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])


@transaction.atomic
def membership_set_role(*, team: Team, user: User, role: str) -> Membership:
    """Add or change a membership, and sync the user's admin access with the new role."""
    membership = membership_set(team=team, user=user, role=role)
    user_admin_access_sync(user)
    return membership


@transaction.atomic
def membership_remove(membership: Membership) -> None:
    user = membership.user
    membership.delete()
    user_admin_access_sync(user)


class InvitationRefused(Exception):
    """An invitation that cannot be accepted; the message is shown to the user as it is."""


def invitation_refusal(invitation: Invitation, user: User, now: datetime) -> str | None:
    """Why this user may not accept this invitation now, or None when they may."""
    if invitation.accepted_at is not None:
        return "This invitation has already been used."
    if invitation.expires_at <= now:
        return "This invitation has expired. Ask a curator of the team for a new one."
    # The link alone proves nothing: it may have been forwarded or leaked. The account
    # must own the address the curator invited.
    if not user.email or user.email.casefold() != invitation.email.casefold():
        return (
            "This invitation was sent to another email address. "
            "Sign in with the account that uses that address."
        )
    return None


@transaction.atomic
def invitation_accept(invitation: Invitation, user: User) -> Membership:
    """Join the invitation's team with its role; an invitation is used once, by its addressee.

    Raises InvitationRefused with a message for the user when the invitation is used,
    expired or addressed to someone else.
    """
    now = timezone.now()
    refusal = invitation_refusal(invitation, user, now)
    if refusal:
        raise InvitationRefused(refusal)
    # The claim is one conditional UPDATE, so of several accepts at once exactly one wins;
    # the others wait on the row, then see it taken.
    claimed = (
        Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True)
        .open_at(now)
        .update(accepted_at=now)
    )
    if not claimed:
        invitation.refresh_from_db(fields=["accepted_at"])
        raise InvitationRefused(
            invitation_refusal(invitation, user, now) or "This invitation has already been used."
        )
    existing = Membership.objects.filter(team=invitation.team, user=user).first()
    # An invitation never demotes: a curator who follows a member invitation stays curator.
    role = Role.CURATOR if existing and existing.is_curator else invitation.role
    return membership_set_role(team=invitation.team, user=user, role=role)


def invitation_create(
    *, team: Team, email: str, role: str = Role.MEMBER, invited_by: User | None = None
) -> Invitation:
    """Invite `email` to `team` with `role`: an invitation bound to that address, valid for
    INVITATION_TTL_DAYS. Inviting an address whose invitation is still open (or expired)
    renews that one with the new role, so the old link stops working and there is only ever
    one link per address."""
    email = email.strip()
    with transaction.atomic():
        open_one = (
            Invitation.objects.select_for_update()
            .filter(team=team, email__iexact=email, accepted_at__isnull=True)
            .first()
        )
        if open_one is None:
            return Invitation.objects.create(
                team=team, email=email, role=role, invited_by=invited_by
            )
        open_one.role = role
        open_one.invited_by = invited_by or open_one.invited_by
        open_one.token = secrets.token_urlsafe()
        open_one.created_at = timezone.now()
        open_one.save(update_fields=["role", "invited_by", "token", "created_at"])
        return open_one


def invitations_renew(invitations: QuerySet[Invitation]) -> int:
    """Give open invitations a new link and a new time to live; the old links stop working.

    An expired invitation still holds its (team, email) slot, so renewing it is how a
    curator invites the same address again."""
    renewed = 0
    for invitation in invitations.filter(accepted_at__isnull=True):
        invitation.token = secrets.token_urlsafe()
        invitation.created_at = timezone.now()
        invitation.save(update_fields=["token", "created_at"])
        renewed += 1
    return renewed


@transaction.atomic
def user_create_with_membership(
    *,
    username: str,
    password: str,
    email: str = "",
    team: Team,
    role: str = Role.MEMBER,
    is_superuser: bool = False,
) -> User:
    if is_superuser:
        user = User.objects.create_superuser(username=username, email=email, password=password)
    else:
        user = User.objects.create_user(username=username, email=email, password=password)
    membership_set_role(team=team, user=user, role=role)
    return user


def api_token_create(*, user: User, team: Team, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its raw key, which is shown once and never stored."""
    raw = "pt_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, team=team, name=name, prefix=raw[:10], key_hash=hash_token(raw)
    )
    return token, raw


def api_token_revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


# Days away are planned within this horizon; a longer absence is a leave, not days away.
ABSENCE_LONGEST = timedelta(days=366)


def absence_create(*, membership: Membership, starts: date, ends: date) -> Absence:
    """Days away for a member, both ends included; past days cannot be marked."""
    if ends < starts:
        raise ValidationError("The last day away comes before the first.")
    if ends < timezone.localdate():
        raise ValidationError("Those days are past already.")
    if ends - starts > ABSENCE_LONGEST:
        raise ValidationError("Days away span at most a year.")
    return Absence.objects.create(membership=membership, starts=starts, ends=ends)


def absence_delete(*, membership: Membership, absence_id: int) -> bool:
    """Take back days away (only the member's own); False when there was no such entry."""
    deleted, _ = Absence.objects.filter(pk=absence_id, membership=membership).delete()
    return bool(deleted)


def team_readers_set(*, team: Team, readers: int | None) -> Team:
    """How many members read each new paper (None: everyone); papers shared already keep
    their readers."""
    if readers is not None and not 1 <= readers <= 50:
        raise ValidationError("Readers per paper is a number from 1 to 50, or everyone.")
    team.readers_per_paper = readers
    team.save(update_fields=["readers_per_paper"])
    return team
