"""Suggest author → lab entries from lab posts, for curators to confirm in the admin."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tracker.papers.labs import author_labs_suggest


class Command(BaseCommand):
    help = "Suggest author → lab entries from lab posts (curators confirm them in the admin)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = author_labs_suggest()
        self.stdout.write(f"{count} suggestion(s) added or updated; confirm them in the admin.")
