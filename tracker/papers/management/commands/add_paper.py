"""Add one paper: an arXiv id or URL (metadata from the API) or a lab report URL."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipeline.errors import HarvestError
from tracker.papers.harvest import paper_add


class Command(BaseCommand):
    help = "add_paper ID_OR_URL"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("id_or_url")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            paper, created = paper_add(options["id_or_url"])
        except HarvestError as exc:
            raise CommandError(str(exc)) from exc
        state = "Added" if created else "Already stored:"
        self.stdout.write(f"{state} {paper.kind} {paper.pk}: {paper.title}")
