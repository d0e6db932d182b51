"""Lab feeds (RSS/Atom through feedparser): each new entry becomes a lab report, unless it
links to or names an arXiv paper, in which case it becomes a second source of that paper.

Feed text is untrusted: its HTML goes through nh3 and is stored as plain text.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from time import struct_time
from typing import Any

import feedparser
import nh3

from tracker.papers.models import HarvestRun, Source
from tracker.papers.records import PaperRecord, arxiv_ids_in
from tracker.papers.selectors import papers_by_arxiv_id
from tracker.papers.services import (
    harvest_run_progress,
    lab_report_upsert,
    paper_source_attach,
    papers_upsert,
    source_cursor_advance,
)
from workers.harvest import fetch
from workers.harvest.arxiv import arxiv_fetch_ids
from workers.harvest.errors import HarvestError

log = logging.getLogger(__name__)

# One API request fetches at most this many unknown arXiv papers named by a feed.
MAX_ARXIV_LOOKUPS = 100


@dataclass
class FeedInfo:
    title: str
    entries: int


def html_to_text(value: str) -> str:
    """Plain text from untrusted HTML: nh3 drops every tag (and script/style content)."""
    cleaned = nh3.clean(value or "", tags=set(), clean_content_tags={"script", "style"})
    return " ".join(html.unescape(cleaned).split())


def feed_fetch(url: str) -> Any:
    resp = fetch.safe_get(url)
    parsed = feedparser.parse(resp.body)
    # feedparser reads almost anything; no entries and no recognised format means not a feed.
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = getattr(parsed, "bozo_exception", None) or "no entries"
        raise HarvestError(f"{url} is not an RSS/Atom feed: {reason}")
    return parsed


def feed_url_validate(url: str) -> FeedInfo:
    """Fetch a feed URL the way a harvest would (address check, timeout, size cap) and check
    that it parses; raises HarvestError (RefusedURLError for private addresses) otherwise."""
    parsed = feed_fetch(url)
    return FeedInfo(html_to_text(parsed.feed.get("title", "")), len(parsed.entries))


def _when(entry: Any) -> datetime | None:
    stamp: struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    try:
        return datetime(*stamp[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def entry_record(entry: Any, *, lab: str) -> tuple[PaperRecord, list[str]]:
    """The entry as a lab report, and the arXiv ids its links and text point to."""
    link = entry.get("link", "") or entry.get("id", "")
    raw_html = entry.get("summary", "") or ""
    contents = [c.get("value", "") for c in entry.get("content", [])]
    hrefs = [link_.get("href", "") for link_ in entry.get("links", [])]
    ids = arxiv_ids_in(" ".join([link, *hrefs, raw_html, *contents]))
    when = _when(entry)
    record = PaperRecord(
        title=html_to_text(entry.get("title", "")) or link,
        url=link,
        abstract=html_to_text(raw_html or (contents[0] if contents else "")),
        authors=[
            html_to_text(a.get("name", "")) for a in entry.get("authors", []) if a.get("name")
        ],
        published_at=when,
        updated_at=when,
        lab=lab,
    )
    return record, ids


def feed_harvest(source: Source, run: HarvestRun) -> None:
    parsed = feed_fetch(source.url)
    items = [entry_record(e, lab=source.lab) for e in parsed.entries]
    items = [
        (record, ids) for record, ids in items if record.url.startswith(("http://", "https://"))
    ]
    named = {i for _, ids in items for i in ids}
    new = 0
    newest: datetime | None = None
    for record, ids in items:
        if not ids:
            _, created = lab_report_upsert(record, source=source)
            new += created
        if record.updated_at and (newest is None or record.updated_at > newest):
            newest = record.updated_at
    if named:
        known = papers_by_arxiv_id(named)
        missing = sorted(named - known.keys())[:MAX_ARXIV_LOOKUPS]
        if missing:
            # The arXiv paper is stored first, so the entry attaches to it: one paper, two
            # sources. If arXiv fails here the run fails and a retry attaches them later.
            result = papers_upsert(arxiv_fetch_ids(missing))
            new += result.new
            known = papers_by_arxiv_id(named)
        for record, ids in items:
            paper = next((known[i] for i in ids if i in known), None)
            if paper is not None:
                paper_source_attach(paper, source=source, url=record.url, title=record.title)
            elif ids:
                log.warning("%s: arXiv has none of %s named by %s", source, ids, record.url)
    harvest_run_progress(run, fetched=len(parsed.entries), new=new)
    if newest is not None:
        source_cursor_advance(source, newest)
