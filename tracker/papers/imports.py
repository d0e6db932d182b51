"""Bulk backfill from JSON-lines files (the Kaggle arXiv snapshot, daily listings),
streamed and stored in batches, so memory stays flat however large the file is.

Importing the same file twice changes nothing. A line that cannot be stored is skipped and
counted with its reason; it never stops the lines around it. Reading the lines is
pipeline code (pipeline.snapshot); storing them is here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from django.db import DatabaseError, reset_queries

from pipeline.records import PaperRecord
from pipeline.snapshot import (
    BAD_REFUSED,
    BadLine,
    ImportResult,
    file_date,
    file_lines,
    line_record,
    record_wanted,
)
from tracker.papers.services import UpsertResult, papers_upsert

__all__ = ["ImportResult", "snapshot_import"]


def snapshot_import(
    path: Path,
    *,
    categories: list[str] | None = None,
    since: date | None = None,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Stream one file into the papers table. `progress` is called with bytes read."""
    result = ImportResult()
    dated = file_date(path)
    batch: list[tuple[int, PaperRecord]] = []

    def flush() -> None:
        try:
            stored = papers_upsert([record for _, record in batch])
        except (DatabaseError, ValueError):
            # Something the checks above did not foresee: the batch was rolled back whole,
            # so its records go one by one and only the refused ones are lost.
            stored = _upsert_one_by_one(batch, path.name, result)
        result.new += stored.new
        result.updated += stored.updated
        batch.clear()
        # With DEBUG on, Django keeps every query's SQL; a long import must not pile it up.
        reset_queries()

    for number, raw in file_lines(path, progress):
        result.lines += 1
        try:
            record = line_record(raw, file_date=dated)
        except BadLine as exc:
            result.skip(f"{path.name}:{number}", exc.reason, exc.detail)
            continue
        if not record_wanted(record, categories or [], since):
            result.filtered += 1
            continue
        result.imported += 1
        batch.append((number, record))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return result


def _upsert_one_by_one(
    batch: list[tuple[int, PaperRecord]], name: str, result: ImportResult
) -> UpsertResult:
    total = UpsertResult()
    for number, record in batch:
        try:
            stored = papers_upsert([record])
        except (DatabaseError, ValueError) as exc:
            result.imported -= 1
            result.skip(f"{name}:{number}", BAD_REFUSED, exc)
            continue
        total.new += stored.new
        total.updated += stored.updated
    return total
