"""The arXiv API client: pages of newest updates first, id lookups, query checks.

https://info.arxiv.org/help/api/user-manual.html. Results are capped at 30,000 per query
(larger backfills go through OAI-PMH), errors come back as an Atom feed with one entry
titled "Error", and an empty page in the middle of a run is a hiccup, not the end.

Searches are described with the `arxiv` package's `Search` (query or id list, sort), the
model its client sends. Its `Client` is not used to send them, and its feed parser is not
used to read the answers; this module does what they cannot:
- Fetching: `Client` makes its own `requests` calls and sleeps between them in one
  process. Ours go through pipeline.http: a size cap, timeouts that fit a person's wait,
  and the politeness gate shared by every worker and web process, which also holds
  arXiv's Retry-After for all of them.
- The empty-page rule: `Client` retries an empty page a few times and then ends the
  results. Here a page's total is never trusted below what earlier pages of the run said,
  and an empty page before that total is a transient error that the harvest retries, so
  no paper is skipped (see `_page_from`).
- Reading entries: the package's parser (`arxiv._feed`, private) parses with lxml's
  `recover=True`, skipping or repairing what it cannot read; it drops entries without
  dates and takes a date without a zone for UTC. A harvest must refuse a malformed or
  DTD-carrying response and name a bad entry instead (pipeline.xml, `entry_record`), and
  the one pass over each entry below is faster than its per-field lookups.
- Versions: an entry's `vN` becomes PaperRecord.version, which the tracker keeps a
  history of; the package leaves the version inside the id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import arxiv
from lxml import etree

from pipeline import http
from pipeline.errors import HarvestError, TransientHarvestError
from pipeline.records import PaperRecord, affiliations_clean, arxiv_id_parse
from pipeline.xml import text_of, xml_parse

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
_AFFILIATION = f"{ARXIV}affiliation"
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
    affiliations: list[list[str]] = []
    categories: list[str] = []
    pdf_url = ""
    for child in entry:
        tag = child.tag
        if tag == _AUTHOR:
            authors.append(text_of(child.find(_NAME)))
            affiliations.append([text_of(a) for a in child.iterfind(_AFFILIATION)])
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
        affiliations=affiliations_clean(affiliations),
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
        raise HarvestError(f"arXiv response is not an Atom feed (root {str(root.tag)[:60]!r})")
    entries = root.findall(f"{ATOM}entry")
    if len(entries) == 1 and text_of(entries[0].find(f"{ATOM}title")) == "Error":
        detail = text_of(entries[0].find(f"{ATOM}summary")) or "no detail"
        raise HarvestError(f"arXiv API error: {detail}")
    return ArxivPage(
        start=_int(root, "startIndex"),
        total=_int(root, "totalResults"),
        records=[entry_record(entry) for entry in entries],
    )


def _page_from(resp: http.Response, start: int, known_total: int) -> ArxivPage:
    if resp.status != 400:
        http.raise_for_status(resp)
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


def api_page(
    url: str, params: dict[str, str | int], *, config: http.FetchConfig, known_total: int = 0
) -> ArxivPage:
    """One page of the API at `url`, politely, with in-run retries of what a retry can fix.
    `known_total` is the result count earlier pages of the same run stated."""
    start = int(params.get("start", 0))
    return http.polite_request(
        url,
        params,
        gate=GATE,
        config=config,
        parse=lambda resp: _page_from(resp, start, known_total),
    )


def request_params(search: arxiv.Search, start: int, size: int) -> dict[str, str | int]:
    """A Search as API parameters, with our paging: `Client` would page it itself."""
    params: dict[str, str | int] = {}
    if search.query:
        params["search_query"] = search.query
        params["sortBy"] = search.sort_by.value
        params["sortOrder"] = search.sort_order.value
    if search.id_list:
        params["id_list"] = ",".join(search.id_list)
    params["start"] = start
    params["max_results"] = size
    return params


def search_params(query: str, start: int, size: int) -> dict[str, str | int]:
    """A page of a query's results, most recently updated first (the harvest's order)."""
    search = arxiv.Search(
        query=query,
        sort_by=arxiv.SortCriterion.LastUpdatedDate,
        sort_order=arxiv.SortOrder.Descending,
    )
    return request_params(search, start, size)


def arxiv_query_validate(url: str, query: str, *, config: http.FetchConfig) -> int:
    """Try a query against the API; returns how many results it has, or raises HarvestError
    with arXiv's own message (for the admin's source form)."""
    if not query.strip():
        raise HarvestError("the query is empty")
    return api_page(url, search_params(query, 0, 1), config=config).total


def arxiv_fetch_ids(url: str, ids: list[str], *, config: http.FetchConfig) -> list[PaperRecord]:
    """Current metadata of papers by id (newest version)."""
    if not ids:
        return []
    page = api_page(url, id_params(ids), config=config)
    return page.records


def id_params(ids: list[str]) -> dict[str, str | int]:
    """One page holding every paper of `ids` (newest versions)."""
    return request_params(arxiv.Search(id_list=ids, max_results=len(ids)), 0, len(ids))
