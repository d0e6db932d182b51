"""Teams, memberships and per-member API tokens; the team scope every team-owned row uses."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta
from typing import Any, Self

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import models
from django.utils import timezone

UserLike = User | AnonymousUser


class TeamQuerySet(models.QuerySet["Team"]):
    def for_user(self, user: UserLike) -> Self:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


# How many members read each new paper when a team shares the day's reading.
READERS_PER_PAPER_DEFAULT = 2


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    readers_per_paper = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=READERS_PER_PAPER_DEFAULT,
        help_text="Members who read each new paper; empty: every member reads every paper.",
    )

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    MEMBER = "member", "Member"
    CURATOR = "curator", "Curator"


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def is_curator(self) -> bool:
        return self.role == Role.CURATOR


class AbsenceQuerySet(models.QuerySet["Absence"]):
    def on(self, day: date) -> Self:
        """The absences that cover `day`."""
        return self.filter(starts__lte=day, ends__gte=day)


class Absence(models.Model):
    """Days a member is away (both ends included): they get no share of the team's reading
    then, and what they had not read yet goes to the others."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="absences")
    starts = models.DateField()
    ends = models.DateField()

    objects = AbsenceQuerySet.as_manager()

    class Meta:
        ordering = ["starts"]
        verbose_name_plural = "days away"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends__gte=models.F("starts")), name="absence_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership.user} away {self.starts} to {self.ends}"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open_at(self, now: datetime) -> Self:
        """Invitations still within their time to live at `now` (used or not)."""
        return self.filter(created_at__gt=now - invitation_ttl())


def invitation_ttl() -> timedelta:
    return timedelta(days=settings.INVITATION_TTL_DAYS)


class Invitation(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "email"],
                condition=models.Q(accepted_at__isnull=True),
                name="invitation_unique_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} -> {self.team}"

    @property
    def expires_at(self) -> datetime:
        return self.created_at + invitation_ttl()


class TeamScopedQuerySet(models.QuerySet[Any]):
    """Every read of a team-owned row goes through one of these two methods."""

    def for_user(self, user: UserLike) -> Self:
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__in=Team.objects.filter(memberships__user=user))

    def for_team(self, team: Team) -> Self:
        return self.filter(team=team)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A member's token for the results API: only its hash is stored; revocable."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TeamScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
