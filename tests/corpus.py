"""Loads the real arXiv corpus (beside the checkout, never copied in) for tests and benches."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "arxiv_corpus"


def absent_reason(path: Path) -> str:
    """Why a test that needs the real data is skipped: said the same way everywhere."""
    return (
        f"needs the real data in ../shared/data, a folder beside the checkout that is not "
        f"part of the project; {path} is absent"
    )


@dataclass
class Record:
    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published_at: datetime


def _clean(text: str) -> str:
    # Older listings keep arXiv's hard line wraps.
    return re.sub(r"\s+", " ", text or "").strip()


def read_corpus(
    root: Path | None = None, limit: int | None = None, listings: Path | None = None
) -> list[Record]:
    """Unique papers (first sighting wins), oldest listing first; the listing day is the
    publication date. `listings` names a folder of daily-listing files other than ours."""
    folder = listings or (root / "arxiv_corpus" if root else CORPUS_DIR) / "daily_listings"
    records: dict[str, Record] = {}
    for path in sorted(folder.glob("*.jsonl")):
        day = datetime.strptime(path.stem[:10], "%Y-%m-%d").replace(tzinfo=UTC)
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if row["id"] in records:
                continue
            records[row["id"]] = Record(
                arxiv_id=row["id"],
                title=_clean(row.get("title", "")),
                abstract=_clean(row.get("summary", "")),
                authors=list(row.get("authors") or []),
                categories=list(row.get("categories") or []),
                published_at=day,
            )
            if limit and len(records) >= limit:
                return list(records.values())
    return list(records.values())


def load_papers(records: list[Record]) -> list[int]:
    """bulk_create Paper rows for these records; returns their ids in the same order."""
    from tracker.papers.models import Paper

    papers = Paper.objects.bulk_create(
        [
            Paper(
                arxiv_id=r.arxiv_id,
                canonical_url=f"https://arxiv.org/abs/{r.arxiv_id}",
                title=r.title,
                normalized_title=r.title.lower()[:500],
                abstract=r.abstract,
                authors=r.authors,
                categories=r.categories,
                primary_category=r.categories[0] if r.categories else "",
                published_at=r.published_at,
                updated_at_source=r.published_at,
            )
            for r in records
        ],
        batch_size=1000,
    )
    if papers and papers[0].pk is None:
        by_id = dict(
            Paper.objects.filter(arxiv_id__in=[r.arxiv_id for r in records]).values_list(
                "arxiv_id", "pk"
            )
        )
        return [by_id[r.arxiv_id] for r in records]
    return [p.pk for p in papers]
