"""Embed, in the foreground, every paper that lacks a vector for the configured model."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from pipeline.embedding import EmbeddingModelError
from tracker.papers.embeddings import (
    embed_papers,
    embedding_run_announce,
    get_encoder,
    papers_missing_embedding,
    search_model_forget,
    stored_model_name,
)


class Command(BaseCommand):
    help = "Embed every paper without a vector for EMBEDDING_MODEL (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        model_name = stored_model_name()
        try:
            get_encoder(model_name)
        except EmbeddingModelError as exc:
            raise CommandError(str(exc)) from exc
        missing = list(
            papers_missing_embedding(model_name).order_by("pk").values_list("pk", flat=True)
        )
        owner = f"command-{uuid.uuid4()}"
        chunk = settings.EMBEDDING_TASK_CHUNK
        done = 0
        with tqdm(total=len(missing), unit="paper", disable=options["verbosity"] == 0) as bar:
            for start in range(0, len(missing), chunk):
                ids = missing[start : start + chunk]
                done += embed_papers(ids, owner, similar_lists=False)
                bar.update(len(ids))
        search_model_forget()  # the new vectors may now answer search: lists for those
        embedding_run_announce(missing)
        self.stdout.write(f"embedded {done} papers with {model_name}")
