"""Run a harvest now, in this process, and print what it did."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipeline.errors import HarvestError
from tracker.papers.harvest import source_harvest
from tracker.papers.models import HarvestRun, Source
from tracker.papers.services import SourceBusyError


class Command(BaseCommand):
    help = "Harvest one source by name, or every enabled source with --all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?")
        parser.add_argument("--all", action="store_true", help="every enabled source")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"] == bool(options["name"]):
            raise CommandError("name one source, or give --all")
        if options["all"]:
            sources = list(Source.objects.enabled())
        else:
            sources = list(Source.objects.filter(name=options["name"]))
            if not sources:
                raise CommandError(f"no source named {options['name']!r}")
        failed = 0
        for source in sources:
            try:
                source_harvest(source)
            except SourceBusyError as exc:
                self.stdout.write(f"{source.name}: skipped, {exc}")
                continue
            except HarvestError:
                failed += 1
            run = HarvestRun.objects.filter(source=source).order_by("-started_at", "-id").first()
            if run is not None:
                self.stdout.write(
                    f"{source.name}: {run.status}, fetched {run.fetched}, new {run.new}, "
                    f"updated {run.updated}" + (f"; error: {run.error}" if run.error else "")
                )
        if failed:
            raise CommandError(f"{failed} of {len(sources)} harvests failed")
