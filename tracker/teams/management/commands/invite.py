"""Invite a teammate without the admin: prints the link to send them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from tracker.teams.models import Role, Team
from tracker.teams.selectors import invitation_link
from tracker.teams.services import invitation_create


class Command(BaseCommand):
    help = (
        "Invite EMAIL to a team. The link works only for an account with that email and "
        "expires after INVITATION_TTL_DAYS; inviting the same address again renews it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--team", required=True, help="the team's name or slug")
        parser.add_argument("--role", choices=Role.values, default=Role.MEMBER)

    def handle(self, *args: Any, email: str, team: str, role: str, **options: Any) -> None:
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an email address") from None
        found = Team.objects.filter(name=team).first() or Team.objects.filter(slug=team).first()
        if found is None:
            names = ", ".join(Team.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(f"no team {team!r}; teams: {names or 'none yet'}")
        invitation = invitation_create(team=found, email=email, role=role)
        self.stdout.write(
            f"Invited {invitation.email} to {found.name} as {role}; the link expires in "
            f"{settings.INVITATION_TTL_DAYS} days and works only for an account with that "
            f"email:\n{invitation_link(invitation)}"
        )
