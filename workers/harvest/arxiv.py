"""The arXiv API harvester: newest updates first, page by page, down to the source's cursor.

https://info.arxiv.org/help/api/user-manual.html. Results are capped at 30,000 per query
(larger backfills go through OAI-PMH), errors come back as an Atom feed with one entry
titled "Error", and an empty page in the middle of a run is a hiccup, not the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import reset_queries
from django.utils import timezone
from lxml import etree

from tracker.papers.models import HarvestRun, Source
from tracker.papers.records import PaperRecord, arxiv_id_parse
from tracker.papers.services import harvest_run_progress, papers_upsert, source_cursor_advance
from workers.harvest import fetch
from workers.harvest.errors import HarvestError, TransientHarvestError
from workers.harvest.xml import text_of, xml_parse

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
# The API pages through at most this many results of one query.
RESULT_CAP = 30_000
GATE = "arxiv"


@dataclass
class ArxivPage:
    start: int
    total: int
    records: list[PaperRecord]


def _date(entry_id: str, element: etree._Element | None, name: str) -> datetime | None:
    text = text_of(element)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HarvestError(f"entry {entry_id}: invalid date {text[:40]!r} in <{name}>") from None
    if value.tzinfo is None:
        raise HarvestError(f"entry {entry_id}: date {text[:40]!r} in <{name}> has no time zone")
    return value


def _int(root: etree._Element, name: str) -> int:
    text = text_of(root.find(f"{OPENSEARCH}{name}"))
    try:
        return int(text)
    except ValueError:
        raise HarvestError(f"feed has no valid opensearch:{name} ({text[:20]!r})") from None


_ID = f"{ATOM}id"
_TITLE = f"{ATOM}title"
_SUMMARY = f"{ATOM}summary"
_AUTHOR = f"{ATOM}author"
_NAME = f"{ATOM}name"
_LINK = f"{ATOM}link"
_CATEGORY = f"{ATOM}category"
_PUBLISHED = f"{ATOM}published"
_UPDATED = f"{ATOM}updated"
_PRIMARY = f"{ARXIV}primary_category"
_COMMENT = f"{ARXIV}comment"
_JOURNAL_REF = f"{ARXIV}journal_ref"
_DOI = f"{ARXIV}doi"


def entry_record(entry: etree._Element) -> PaperRecord:
    # One pass over the entry's children instead of a find() per field: a page of 100
    # entries otherwise spends more time searching elements than lxml spends parsing.
    first: dict[object, etree._Element] = {}
    authors: list[str] = []
    categories: list[str] = []
    pdf_url = ""
    for child in entry:
        tag = child.tag
        if tag == _AUTHOR:
            authors.append(text_of(child.find(_NAME)))
        elif tag == _CATEGORY:
            term = child.get("term")
            if term:
                categories.append(term)
        elif tag == _LINK:
            if child.get("title") == "pdf":
                pdf_url = child.get("href", "")
        elif tag not in first:
            first[tag] = child
    raw_id = text_of(first.get(_ID))
    parsed = arxiv_id_parse(raw_id)
    if parsed is None:
        raise HarvestError(f"entry with an unrecognised id {raw_id[:80]!r}")
    primary = first.get(_PRIMARY)
    return PaperRecord(
        arxiv_id=parsed.id,
        version=parsed.version or 1,
        title=text_of(first.get(_TITLE)),
        abstract=text_of(first.get(_SUMMARY)),
        authors=authors,
        categories=categories,
        primary_category=(primary.get("term", "") if primary is not None else "")
        or (categories[0] if categories else ""),
        comment=text_of(first.get(_COMMENT)),
        journal_ref=text_of(first.get(_JOURNAL_REF)),
        doi=text_of(first.get(_DOI)),
        published_at=_date(raw_id, first.get(_PUBLISHED), "published"),
        updated_at=_date(raw_id, first.get(_UPDATED), "updated"),
        pdf_url=pdf_url,
    )


def page_parse(body: bytes) -> ArxivPage:
    """One API response. The error feed (one entry titled Error) raises HarvestError."""
    root = xml_parse(body, what="arXiv response")
    if root.tag != f"{ATOM}feed":
        raise HarvestError(f"arXiv response is not an Atom feed (root {root.tag[:60]!r})")
    entries = root.findall(f"{ATOM}entry")
    if len(entries) == 1 and text_of(entries[0].find(f"{ATOM}title")) == "Error":
        detail = text_of(entries[0].find(f"{ATOM}summary")) or "no detail"
        raise HarvestError(f"arXiv API error: {detail}")
    return ArxivPage(
        start=_int(root, "startIndex"),
        total=_int(root, "totalResults"),
        records=[entry_record(entry) for entry in entries],
    )


def _page_from(resp: fetch.Response, start: int, known_total: int) -> ArxivPage:
    if resp.status != 400:
        fetch.raise_for_status(resp)
    # A 400 carries the error feed, which says what was wrong with the query.
    page = page_parse(resp.body)
    if resp.status == 400:
        raise HarvestError(f"HTTP 400 from {resp.url}")
    # A hiccup page may state the real total or 0: the total the run's earlier pages gave
    # is the one to trust, so a page saying 0 halfway cannot end the run early.
    page.total = max(page.total, known_total)
    if not page.records and start < page.total:
        raise TransientHarvestError(
            f"empty page at start={start} of {page.total} results (arXiv hiccup)"
        )
    return page


def api_page(params: dict[str, str | int], *, known_total: int = 0) -> ArxivPage:
    """One page, politely, with in-run retries of what a retry can fix. `known_total` is
    the result count earlier pages of the same run stated."""
    start = int(params.get("start", 0))
    return fetch.polite_request(
        settings.ARXIV_API_URL,
        params,
        gate=GATE,
        parse=lambda resp: _page_from(resp, start, known_total),
    )


def search_params(query: str, start: int, size: int) -> dict[str, str | int]:
    return {
        "search_query": query,
        "sortBy": "lastUpdatedDate",
        "sortOrder": "descending",
        "start": start,
        "max_results": size,
    }


def arxiv_query_validate(query: str) -> int:
    """Try a query against the API; returns how many results it has, or raises HarvestError
    with arXiv's own message (for the admin's source form)."""
    if not query.strip():
        raise HarvestError("the query is empty")
    return api_page(search_params(query, 0, 1)).total


def arxiv_fetch_ids(ids: list[str]) -> list[PaperRecord]:
    """Current metadata of papers by id (newest version)."""
    if not ids:
        return []
    page = api_page({"id_list": ",".join(ids), "start": 0, "max_results": len(ids)})
    return page.records


def arxiv_harvest(source: Source, run: HarvestRun) -> None:
    """Harvest newest-first down to the cursor (first time: the source's window).

    Each page is upserted and committed on its own; the cursor moves to the newest update
    seen only once every page down to the old cursor is stored. A run killed halfway leaves
    the cursor where it was, so the next run fetches those pages again and upserts nothing
    twice, instead of skipping the pages the killed run never reached.
    """
    stop = source.cursor or timezone.now() - timedelta(days=source.window_days)
    size = max(1, min(settings.ARXIV_PAGE_SIZE, 2000))
    newest: datetime | None = None
    oldest_seen = stop
    start = 0
    total = 0
    while start < RESULT_CAP:
        page = api_page(search_params(source.query, start, size), known_total=total)
        total = page.total
        fresh = [r for r in page.records if r.updated_at is None or r.updated_at > stop]
        if fresh:
            result = papers_upsert(fresh, source=source)
            harvest_run_progress(
                run, fetched=len(page.records), new=result.new, updated=result.updated
            )
            dates = [r.updated_at for r in fresh if r.updated_at]
            if dates and (newest is None or max(dates) > newest):
                newest = max(dates)
            if dates:
                oldest_seen = min(dates)
        else:
            harvest_run_progress(run, fetched=len(page.records))
        start += len(page.records)
        # With DEBUG on, Django keeps every query's SQL; a long harvest must not pile it up.
        reset_queries()
        # Sorted newest first: an entry at or below the cursor means the rest are older.
        if len(fresh) < len(page.records) or not page.records or start >= page.total:
            break
    else:
        # More updates since the cursor than the API will page through. What was fetched is
        # stored and the cursor moves on (otherwise every run would repeat the same cap);
        # the run fails so that the Sources page says what is missing and how to fill it.
        if newest is not None:
            source_cursor_advance(source, newest)
        raise HarvestError(
            f"stopped at the API's {RESULT_CAP:,}-result cap: updates older than "
            f"{oldest_seen:%Y-%m-%d %H:%M} and newer than {stop:%Y-%m-%d %H:%M} were not "
            "fetched; backfill them with an OAI-PMH source or import_papers"
        )
    if newest is not None:
        source_cursor_advance(source, newest)
