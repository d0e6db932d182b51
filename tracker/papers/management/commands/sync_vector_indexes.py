"""Build the broad categories' own HNSW indexes on the pgvector column, drop shrunk ones."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.papers.vectors import (
    CATEGORY_INDEX_DROP_BELOW,
    CATEGORY_INDEX_ROWS,
    category_indexes_sync,
    vector_table_exists,
)


class Command(BaseCommand):
    help = (
        "Give each primary category with many vectors an HNSW index of its own (filtered "
        "searches on it walk its own graph), and drop those of categories that shrank. "
        "Built concurrently: search and harvests go on. The worker runs it nightly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-rows",
            type=int,
            default=CATEGORY_INDEX_ROWS,
            help="vectors a category needs for an index of its own",
        )
        parser.add_argument(
            "--drop-below",
            type=int,
            default=None,
            help=f"drop the index of a category with fewer (default a quarter of --min-rows, "
            f"{CATEGORY_INDEX_DROP_BELOW} by default)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        min_rows = options["min_rows"]
        drop_below = options["drop_below"]
        drop_below = min_rows // 4 if drop_below is None else drop_below
        if min_rows < 1 or drop_below < 0 or drop_below > min_rows:
            raise CommandError("--min-rows must be at least 1, --drop-below from 0 to --min-rows")
        if not vector_table_exists():
            raise CommandError(
                "this database has no pgvector column (PostgreSQL without the vector "
                "extension, or SQLite): search keeps its in-process index"
            )
        done = category_indexes_sync(min_rows, drop_below, report=self.stdout.write)
        if done.busy:
            raise CommandError("another sync of the vector indexes is running; try again later")
        self.stdout.write(
            f"{len(done.made)} built, {len(done.dropped)} dropped, {done.kept} kept as they were"
        )
