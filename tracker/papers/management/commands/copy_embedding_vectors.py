"""Copy an install's stored vectors into the pgvector column (after migration 0013)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.papers.vectors import (
    COPY_BATCH,
    CopyProgress,
    embedding_vectors_copy,
    vector_table_exists,
)


class Command(BaseCommand):
    help = (
        "Copy stored vectors into the pgvector column in batches; run it again after a stop "
        "and it goes on where it was. Search reads the column once the copy is finished."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=COPY_BATCH)
        parser.add_argument(
            "--max-batches", type=int, default=None, help="stop after this many batches"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        if not vector_table_exists():
            raise CommandError(
                "this database has no pgvector column (PostgreSQL without the vector "
                "extension, or SQLite): search keeps its in-process index"
            )

        def report(progress: CopyProgress) -> None:
            if options["verbosity"] > 1:
                self.stdout.write(f"copied {progress.copied} (up to id {progress.copied_upto})")

        progress = embedding_vectors_copy(
            options["batch_size"], options["max_batches"], report=report
        )
        state = "finished: search reads the column" if progress.finished else "stopped"
        self.stdout.write(f"copied {progress.copied} vectors; {state}")
