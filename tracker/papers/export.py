"""BibTeX and CSV of any list of papers the portal shows."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse

from tracker.papers.models import Paper

EXPORT_LIMIT = 5000
_BIBTEX_SPECIAL = re.compile(r"([{}\\&%$#_~^])")
# Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def bibtex_escape(text: str) -> str:
    return _BIBTEX_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def bibtex_key(paper: Paper) -> str:
    if paper.arxiv_id:
        return "arxiv:" + paper.arxiv_id.replace("/", "_")
    return f"paper{paper.pk}"


def paper_bibtex(paper: Paper) -> str:
    fields: list[tuple[str, str]] = [
        ("title", "{" + bibtex_escape(paper.title) + "}"),
        ("author", " and ".join(bibtex_escape(a) for a in paper.authors)),
    ]
    if paper.published_at:
        fields.append(("year", str(paper.published_at.year)))
    if paper.arxiv_id:
        fields += [
            ("eprint", paper.arxiv_id),
            ("archivePrefix", "arXiv"),
            ("primaryClass", bibtex_escape(paper.primary_category)),
        ]
    elif paper.lab:
        fields.append(("institution", bibtex_escape(paper.lab)))
    fields.append(("url", bibtex_escape(paper.abs_url)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{bibtex_key(paper)},\n{body}\n}}\n"


def bibtex_response(papers: Iterable[Paper], filename: str) -> HttpResponse:
    text = "\n".join(paper_bibtex(p) for p in papers)
    response = HttpResponse(text, content_type="application/x-bibtex; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.bib"'
    return response


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str
) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response


PAPER_CSV_HEADER = (
    "id",
    "arxiv_id",
    "title",
    "authors",
    "kind",
    "lab",
    "category",
    "published",
    "url",
)


def paper_csv_row(paper: Paper) -> list[Any]:
    return [
        paper.pk,
        paper.arxiv_id or "",
        paper.title,
        "; ".join(paper.authors),
        paper.kind,
        paper.lab,
        paper.primary_category,
        paper.published_at.date().isoformat() if paper.published_at else "",
        paper.abs_url,
    ]


def export_format(request: HttpRequest) -> str | None:
    """The export a list page is asked for (?format=csv or bib), or None for the page."""
    fmt = request.GET.get("format")
    return fmt if fmt in ("csv", "bib") else None


def papers_export(papers: Iterable[Paper], fmt: str, filename: str) -> HttpResponse:
    if fmt == "bib":
        return bibtex_response(papers, filename)
    return csv_response(PAPER_CSV_HEADER, (paper_csv_row(p) for p in papers), filename)
