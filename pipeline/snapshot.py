"""JSON lines as records: the Kaggle arXiv metadata snapshot
(`arxiv-metadata-oai-snapshot.json`) and daily-listing files (one paper a line with
`id, categories[], authors[], title, comment, summary`).

Lines are read one at a time (`file_lines`), so memory stays flat however large the file
is. A line that cannot be a record (not JSON, nested too deep, not a paper, text a
database refuses) raises BadLine with its reason; `ImportResult` counts every line.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipeline.records import PaperRecord, arxiv_id_parse

FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
MAX_REPORTED_ERRORS = 20


# Why a line was skipped, as the summary names it.
BAD_JSON = "not JSON"
BAD_NESTING = "nested too deep"
BAD_RECORD = "not a paper record"
BAD_TEXT = "NUL or unpaired surrogate in the text"
BAD_REFUSED = "refused by the database"


class BadLine(ValueError):
    """A line that cannot be stored, with the reason the summary counts it under."""

    def __init__(self, reason: str, detail: object) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class ImportResult:
    """What became of every non-blank line: lines == new + updated + seen + filtered + bad."""

    lines: int = 0
    imported: int = 0
    filtered: int = 0
    new: int = 0
    updated: int = 0
    bad: int = 0
    bad_reasons: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        """Imported lines that changed nothing: stored before, or an id seen earlier."""
        return self.imported - self.new - self.updated

    def skip(self, where: str, reason: str, detail: object) -> None:
        self.bad += 1
        self.bad_reasons[reason] += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"{where}: {reason}: {str(detail)[:200]}")

    def add(self, other: ImportResult) -> None:
        for name in ("lines", "imported", "filtered", "new", "updated", "bad"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.bad_reasons.update(other.bad_reasons)

    def summary(self) -> str:
        """One line that accounts for every line read."""
        parts = [f"{self.new:,} new"]
        parts += [
            f"{count:,} {label}"
            for count, label in (
                (self.updated, "updated to a newer version"),
                (self.seen, "already seen"),
                (self.filtered, "filtered out"),
            )
            if count
        ]
        if self.bad:
            reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(self.bad_reasons.items()))
            parts.append(f"{self.bad:,} skipped ({reasons})")
        return f"{self.lines:,} lines: {', '.join(parts)}"


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


def _text_storable(record: PaperRecord) -> bool:
    """Whether every text of the record can be stored: PostgreSQL refuses NUL in text and
    JSON, and no database takes a lone surrogate, which UTF-8 cannot encode."""
    texts = [
        record.arxiv_id or "",
        record.title,
        record.abstract,
        record.comment,
        record.journal_ref,
        record.doi,
        record.pdf_url,
        record.primary_category,
        *record.authors,
        *record.categories,
    ]
    for text in texts:
        if "\x00" in text:
            return False
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def line_record(raw: bytes, *, file_date: datetime | None = None) -> PaperRecord:
    """One line as a record; raises BadLine with the reason it cannot be one."""
    try:
        obj = json.loads(raw)
    except RecursionError as exc:
        raise BadLine(BAD_NESTING, "JSON nested deeper than the parser goes") from exc
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes not UTF-8
        raise BadLine(BAD_JSON, exc) from exc
    if not isinstance(obj, dict):
        raise BadLine(BAD_RECORD, f"a JSON {type(obj).__name__}, not an object")
    try:
        record = record_from_json(obj, file_date=file_date)
    except RecursionError as exc:
        raise BadLine(BAD_NESTING, "a value nested deeper than can be read") from exc
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise BadLine(BAD_RECORD, exc) from exc
    if not _text_storable(record):
        raise BadLine(BAD_TEXT, f"id {record.arxiv_id}")
    return record


def record_wanted(record: PaperRecord, categories: list[str], since: date | None) -> bool:
    if categories and not any(
        c == want or c.startswith(f"{want}.") for c in record.categories for want in categories
    ):
        return False
    when = record.updated_at or record.published_at
    return since is None or when is None or when.date() >= since


def file_lines(path: Path, progress: Callable[[int], None] | None) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of a file with their numbers; `progress` gets each line's size."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if progress is not None:
                progress(len(raw))
            if raw.strip():
                yield number, raw


def file_date(path: Path) -> datetime | None:
    """The day a daily-listing file's name gives, which dates its papers."""
    match = FILE_DATE.search(path.name)
    if match is None:
        return None
    return datetime.combine(date.fromisoformat(match.group(1)), datetime.min.time(), tzinfo=UTC)
