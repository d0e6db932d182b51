"""Bulk backfill from JSON-lines files, streamed: the Kaggle arXiv metadata snapshot
(`arxiv-metadata-oai-snapshot.json`) and daily-listing files (one paper a line with
`id, categories[], authors[], title, comment, summary`).

Lines are read one at a time and stored in batches, so memory stays flat however large
the file is. Importing the same file twice changes nothing.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.db import reset_queries

from tracker.papers.records import PaperRecord, arxiv_id_parse
from tracker.papers.services import papers_upsert

_FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
MAX_REPORTED_ERRORS = 20


@dataclass
class ImportResult:
    lines: int = 0
    imported: int = 0
    filtered: int = 0
    new: int = 0
    updated: int = 0
    bad: int = 0
    errors: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _rfc2822(value: str) -> datetime | None:
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _kaggle_authors(obj: dict[str, Any]) -> list[str]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        return [" ".join(p for p in (*part[1:2], part[0], *part[2:3]) if p) for part in parsed]
    return [a.strip() for a in re.split(r",| and ", _text(obj.get("authors"))) if a.strip()]


def record_from_json(obj: dict[str, Any], *, file_date: datetime | None = None) -> PaperRecord:
    """One line of either format; raises ValueError on a line that is neither."""
    parsed = arxiv_id_parse(str(obj.get("id", "")))
    if parsed is None or not _text(obj.get("title")):
        raise ValueError(f"no valid arXiv id and title (id {str(obj.get('id'))[:40]!r})")
    if "versions" in obj or "update_date" in obj:
        created = [_rfc2822(v.get("created", "")) for v in obj.get("versions") or []]
        created = [c for c in created if c is not None]
        updated = created[-1] if created else None
        if updated is None and obj.get("update_date"):
            updated = datetime.combine(
                date.fromisoformat(obj["update_date"]), datetime.min.time(), tzinfo=UTC
            )
        categories = _text(obj.get("categories")).split()
        return PaperRecord(
            arxiv_id=parsed.id,
            version=len(obj.get("versions") or []) or parsed.version,
            title=_text(obj.get("title")),
            abstract=_text(obj.get("abstract")),
            authors=_kaggle_authors(obj),
            categories=categories,
            primary_category=categories[0] if categories else "",
            comment=_text(obj.get("comments")),
            journal_ref=_text(obj.get("journal-ref")),
            doi=_text(obj.get("doi")),
            published_at=created[0] if created else updated,
            updated_at=updated,
        )
    if "summary" in obj:
        categories = [str(c) for c in obj.get("categories") or []]
        return PaperRecord(
            arxiv_id=parsed.id,
            version=parsed.version,
            title=_text(obj.get("title")),
            abstract=_text(obj.get("summary")),
            authors=[_text(a) for a in obj.get("authors") or []],
            categories=categories,
            primary_category=categories[0] if categories else "",
            comment=_text(obj.get("comment")),
            pdf_url=str(obj.get("pdf") or "")[:1000],
            published_at=file_date,
            updated_at=file_date,
        )
    raise ValueError("neither the snapshot format nor the daily-listing format")


def _wanted(record: PaperRecord, categories: list[str], since: date | None) -> bool:
    if categories and not any(
        c == want or c.startswith(f"{want}.") for c in record.categories for want in categories
    ):
        return False
    when = record.updated_at or record.published_at
    return since is None or when is None or when.date() >= since


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
    match = _FILE_DATE.search(path.name)
    file_date = (
        datetime.combine(date.fromisoformat(match.group(1)), datetime.min.time(), tzinfo=UTC)
        if match
        else None
    )
    batch: list[PaperRecord] = []

    def flush() -> None:
        stored = papers_upsert(batch)
        result.new += stored.new
        result.updated += stored.updated
        batch.clear()
        # With DEBUG on, Django keeps every query's SQL; a long import must not pile it up.
        reset_queries()

    for number, raw in _lines(path, progress):
        result.lines += 1
        try:
            record = record_from_json(json.loads(raw), file_date=file_date)
        except (ValueError, TypeError, AttributeError) as exc:
            result.bad += 1
            if len(result.errors) < MAX_REPORTED_ERRORS:
                result.errors.append(f"{path.name}:{number}: {exc}")
            continue
        if not _wanted(record, categories or [], since):
            result.filtered += 1
            continue
        result.imported += 1
        batch.append(record)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return result


def _lines(path: Path, progress: Callable[[int], None] | None) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if progress is not None:
                progress(len(raw))
            if raw.strip():
                yield number, raw
