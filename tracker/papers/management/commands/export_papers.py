"""Write the papers out as JSON lines, CSV or BibTeX."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Prefetch

from tracker.papers.models import Paper, PaperSource

FIELDS = [
    "arxiv_id",
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "version",
    "kind",
    "lab",
    "sources",
]


def paper_rows() -> Iterator[dict[str, Any]]:
    sources = Prefetch("paper_sources", queryset=PaperSource.objects.order_by("id"))
    papers = Paper.objects.visible().order_by("id").prefetch_related(sources)
    for paper in papers.iterator(chunk_size=2000):
        yield {
            "arxiv_id": paper.arxiv_id,
            "title": paper.title,
            "abstract": paper.abstract,
            "authors": paper.authors,
            "categories": paper.categories,
            "primary_category": paper.primary_category,
            "version": paper.version,
            "kind": paper.kind,
            "lab": paper.lab,
            "sources": [s.url for s in paper.paper_sources.all()] or [paper.canonical_url],
            "url": paper.abs_url,
            "year": paper.published_at.year if paper.published_at else None,
            "pk": paper.pk,
        }


def _bibtex_escape(value: str) -> str:
    return re.sub(r"([{}\\])", r"\\\1", value)


def _bibtex(row: dict[str, Any]) -> str:
    key = f"arxiv{row['arxiv_id']}".replace("/", "_") if row["arxiv_id"] else f"report{row['pk']}"
    fields = {
        "title": row["title"],
        "author": " and ".join(row["authors"]),
        "year": str(row["year"] or ""),
        "url": row["url"],
    }
    if row["arxiv_id"]:
        fields |= {
            "eprint": row["arxiv_id"],
            "archivePrefix": "arXiv",
            "primaryClass": row["primary_category"],
        }
    else:
        fields["howpublished"] = row["lab"]
    body = ",\n".join(f"  {k} = {{{_bibtex_escape(v)}}}" for k, v in fields.items() if v)
    kind = "article" if row["arxiv_id"] else "misc"
    return f"@{kind}{{{key},\n{body}\n}}\n"


class Command(BaseCommand):
    help = "Export every visible paper as jsonl, csv or bibtex (to stdout or --output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["jsonl", "csv", "bibtex"], default="jsonl")
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                self._write(out, options["format"])
        else:
            # OutputWrapper adds a newline per write; the file formats bring their own.
            self._write(cast(IO[str], self.stdout._out), options["format"])

    def _write(self, out: IO[str], fmt: str) -> None:
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
            writer.writeheader()
            for row in paper_rows():
                for name in ("authors", "categories", "sources"):
                    row[name] = "; ".join(row[name])
                writer.writerow(row)
        elif fmt == "bibtex":
            for row in paper_rows():
                out.write(_bibtex(row) + "\n")
        else:
            for row in paper_rows():
                out.write(json.dumps({k: row[k] for k in FIELDS}, ensure_ascii=False) + "\n")
