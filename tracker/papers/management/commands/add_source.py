"""Add an arXiv query or a lab feed as a harvest source."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.papers.models import SourceKind
from tracker.papers.services import source_create


class Command(BaseCommand):
    help = "add_source arxiv NAME --query Q | add_source feed NAME --url U --lab L"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=[SourceKind.ARXIV, SourceKind.FEED, SourceKind.OAI])
        parser.add_argument("name")
        parser.add_argument("--query", default="", help="arXiv query, e.g. 'cat:cs.CL'")
        parser.add_argument("--url", default="", help="RSS/Atom feed URL")
        parser.add_argument("--lab", default="", help="the lab that publishes the feed")
        parser.add_argument("--set", dest="oai_set", default="", help="OAI-PMH set, e.g. cs")
        parser.add_argument("--window-days", type=int, default=None)
        parser.add_argument("--interval-minutes", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            source = source_create(
                kind=options["kind"],
                name=options["name"],
                query=options["query"],
                url=options["url"],
                lab=options["lab"],
                oai_set=options["oai_set"],
                window_days=options["window_days"],
                interval_minutes=options["interval_minutes"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Added {source.kind} source {source.name!r} (id {source.pk}).")
