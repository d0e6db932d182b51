"""First-start setup for the embedded default: cache table, default sources, demo team and
an admin user.

Safe to run on every start: it creates only what is missing and prints the generated
admin password once, when it creates the user.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tracker.papers.services import source_defaults_ensure
from tracker.teams.models import Role
from tracker.teams.services import (
    curators_group_sync,
    team_get_or_create,
    user_create_with_membership,
)
from workers.tasks import harvest_due_sources_task


class Command(BaseCommand):
    help = "Create the cache table, a demo team and an admin user if they are missing."

    def handle(self, *args: Any, **options: Any) -> None:
        for folder in ("broker/queue", "broker/processed", "results", "screenshots"):
            (settings.VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
        call_command("createcachetable", verbosity=0)
        # Permissions can change between releases; the group follows CURATOR_PERMISSIONS.
        curators_group_sync()

        self._sources()
        team = team_get_or_create(os.environ.get("DEMO_TEAM", "Demo team"))
        username = os.environ.get("ADMIN_USERNAME", "admin")
        if get_user_model().objects.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} exists; team {team.name!r} ready.")
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_create_with_membership(
            username=username,
            password=password,
            email=os.environ.get("ADMIN_EMAIL", "admin@localhost"),
            team=team,
            role=Role.CURATOR,
            is_superuser=True,
        )
        self.stdout.write(self.style.SUCCESS("Created the admin user (shown once):"))
        self.stdout.write(f"    username: {username}\n    password: {password}")

    def _sources(self) -> None:
        """The default arXiv query and lab feeds, harvested at once on the first start."""
        created = source_defaults_ensure()
        if not created:
            return
        self.stdout.write(f"Created {len(created)} default sources; queueing their harvest.")
        try:
            # Picked up by the worker as soon as it starts; offline, each run fails and the
            # Sources page says why.
            harvest_due_sources_task.delay()
        except Exception as exc:
            self.stderr.write(f"Could not queue the first harvest ({exc}); beat will do it.")
