"""Run a clustering over every embedded paper, in the foreground."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.topics.services import clustering_run_create


class Command(BaseCommand):
    help = "Cluster the embedded papers into topics, keeping topic identity across runs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--topics", type=int, default=0, help="number of topics (0: automatic)")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        run = clustering_run_create(k=options["topics"] or None, seed=options["seed"])
        if run is None:
            raise CommandError(
                "nothing clustered: too few embedded papers, or a run is in progress"
            )
        self.stdout.write(
            f"run {run.pk}: {run.paper_count} papers in {run.topic_count} topics "
            f"in {run.duration_seconds:.1f}s; kept identity: {run.metrics.get('papers_kept_topic')}"
        )
        for topic in run.topics.order_by("-size")[:15]:
            self.stdout.write(f"  {topic.size:5d}  {topic.label}")
