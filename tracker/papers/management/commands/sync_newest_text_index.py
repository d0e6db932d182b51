"""Build the newest papers' own full-text index, or build it again once it has grown."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from tracker.papers.newest_text import NEWEST_MIN_PAPERS, NEWEST_SHARE, newest_text_sync


class Command(BaseCommand):
    help = (
        f"Give the newest {NEWEST_SHARE:.0%} of the papers a full-text index of their own "
        "(the search box reads their matches there first), built again once it has grown, "
        "the old one dropped. Built concurrently: search and harvests go on. The worker "
        "runs it nightly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-papers",
            type=int,
            default=NEWEST_MIN_PAPERS,
            help="papers needed for such an index (with fewer, it is dropped)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["min_papers"] < 1:
            raise CommandError("--min-papers must be at least 1")
        if connection.vendor != "postgresql":
            raise CommandError("only PostgreSQL has such an index: SQLite's is one already")
        done = newest_text_sync(options["min_papers"], report=self.stdout.write)
        if done.busy:
            raise CommandError("another sync of this index is running; try again later")
        if done.made is None and not done.kept:
            self.stdout.write("no index of the newest papers: too few papers")
        elif done.kept:
            self.stdout.write("the index of the newest papers kept as it was")
