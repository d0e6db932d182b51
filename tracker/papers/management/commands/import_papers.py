"""Fill the tracker without network: import arXiv metadata from JSON-lines files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from tracker.papers.imports import ImportResult, snapshot_import
from tracker.papers.progress import import_progress_reporter


class Command(BaseCommand):
    help = (
        "Import papers from the Kaggle arXiv metadata snapshot (arxiv-metadata-oai-snapshot.json)"
        " or daily-listing JSONL files. Streamed, idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument(
            "--category",
            action="append",
            default=[],
            help="keep papers in this category or archive (cs.CL, cs); repeatable",
        )
        parser.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD, last update")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        for path in options["paths"]:
            if not path.is_file():
                raise CommandError(f"no such file: {path}")
        total = ImportResult()
        for path in options["paths"]:
            with tqdm(
                total=path.stat().st_size,
                unit="B",
                unit_scale=True,
                desc=path.name,
                disable=options["no_progress"],
                file=cast(IO[str], self.stderr._out),
            ) as bar:
                # The terminal's bar, and the portal's progress panel.
                portal = import_progress_reporter(path.name, path.stat().st_size)

                def progress(
                    read: int, bar: tqdm = bar, portal: Callable[[int], None] = portal
                ) -> None:
                    bar.update(read)
                    portal(read)

                result = snapshot_import(
                    path,
                    categories=options["category"],
                    since=options["since"],
                    batch_size=max(1, options["batch_size"]),
                    progress=progress,
                )
            for error in result.errors:
                self.stderr.write(f"skipped {error}")
            self.stdout.write(f"{path.name}: {result.summary()}")
            total.add(result)
        if len(options["paths"]) > 1:
            self.stdout.write(f"all {len(options['paths'])} files: {total.summary()}")
        if total.new or total.updated:
            self._queue_embedding()

    def _queue_embedding(self) -> None:
        """Embed the imported papers now rather than at the beat's next sweep (up to two
        minutes later). Without a reachable broker the sweep finds them all the same."""
        from tracker.papers.harvest import SERVICE_ERRORS
        from workers.tasks import embed_pending_papers_task

        try:
            embed_pending_papers_task.delay()
        except SERVICE_ERRORS:
            self.stderr.write("the broker is unreachable: the worker embeds these papers later")
