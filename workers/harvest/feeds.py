"""Lab feeds (RSS/Atom through feedparser): each new entry becomes a lab report, unless it
links to or names an arXiv paper, in which case it becomes a second source of that paper.

No entry is lost to a fault elsewhere: an entry whose arXiv paper is missing, or whose
lookup failed (arXiv unreachable), is stored as a lab report that keeps the arXiv id and
joins the paper when the paper is stored. One bad entry is skipped with its reason and
never blocks the others.

Feed text is untrusted: its HTML goes through nh3 and is stored as plain text, capped.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import quote

import feedparser
import nh3
from django.db import DatabaseError, connection

from tracker.papers.duplicates import normalize_title
from tracker.papers.models import HarvestRun, Paper, Source
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
# What is stored and indexed of one entry's (or one page's) text. A real abstract or post
# summary is a few thousand characters; a 2 MB description is a broken or hostile feed,
# and PostgreSQL refuses a full-text document over 1 MB.
MAX_TEXT_CHARS = 20_000
MAX_TITLE_CHARS = 1_000
# HTML handed to nh3 for one field: bounds the work whatever the feed holds.
MAX_HTML_CHARS = 200_000
# canonical_url and PaperSource.url are 1,000 characters.
MAX_KEY_CHARS = 1_000
WEB = ("http://", "https://")


@dataclass
class FeedInfo:
    title: str
    entries: int


@dataclass
class FeedEntry:
    """One entry as a lab report: `record.url` is its key (see `entry_keys_assign`)."""

    record: PaperRecord
    arxiv_ids: list[str]
    link: str
    guid: str
    # Its place in the feed, from 1, for notes about it.
    position: int = 0


@dataclass
class FeedEntries:
    entries: list[FeedEntry] = field(default_factory=list)
    # One line per entry left out: which entry, and why.
    skipped: list[str] = field(default_factory=list)


def _printable(text: str) -> str:
    # PostgreSQL stores no NUL, and a lone surrogate cannot be encoded at all.
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def html_to_text(value: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """Plain text from untrusted HTML: nh3 drops every tag (and script/style content); at
    most `limit` characters."""
    cleaned = nh3.clean(
        _printable(value or "")[:MAX_HTML_CHARS], tags=set(), clean_content_tags={"script", "style"}
    )
    return " ".join(html.unescape(cleaned).split())[:limit]


# The XML declaration, up to its end or the first byte that cannot be in one.
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>")


def _feed_parse(url: str, body: bytes) -> Any:
    try:
        return feedparser.parse(body)
    except (UnicodeError, ValueError, LookupError):
        # feedparser reads the declared encoding's name as UTF-8 and hands it to the codec
        # lookup: a stray byte or NUL in it raises. Without the declaration it guesses.
        pass
    try:
        return feedparser.parse(_DECLARATION.sub(b"", body, count=1))
    except (UnicodeError, ValueError, LookupError) as exc:
        raise HarvestError(f"{url} is not an RSS/Atom feed: unreadable encoding") from exc


def feed_fetch(url: str) -> Any:
    resp = fetch.safe_get(url)
    parsed = _feed_parse(url, resp.body)
    # feedparser reads almost anything; no entries and no recognised format means not a feed.
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = getattr(parsed, "bozo_exception", None) or "no entries"
        raise HarvestError(f"{url} is not an RSS/Atom feed: {reason}")
    return parsed


def feed_url_validate(url: str) -> FeedInfo:
    """Fetch a feed URL the way a harvest would (address check, timeout, size cap) and check
    that it parses; raises HarvestError (RefusedURLError for private addresses) otherwise."""
    parsed = feed_fetch(url)
    return FeedInfo(
        html_to_text(parsed.feed.get("title", ""), limit=MAX_TITLE_CHARS), len(parsed.entries)
    )


def _when(entry: Any) -> datetime | None:
    stamp: struct_time | None = entry.get("published_parsed")
    # Only when present: a missing updated_parsed falls back to published_parsed, warning.
    if not stamp and "updated_parsed" in entry:
        stamp = entry["updated_parsed"]
    if not stamp:
        return None
    try:
        return datetime(*stamp[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _web_url(value: object) -> str:
    text = _printable(str(value or "")).strip()
    return text if text.lower().startswith(WEB) and len(text) <= MAX_KEY_CHARS else ""


def entry_record(entry: Any, *, lab: str) -> FeedEntry:
    """The entry as a lab report, and the arXiv ids its links and text point to. Raises
    HarvestError for an entry with no web link to key it by."""
    guid = _printable(str(entry.get("id", "") or "")).strip()
    link = _web_url(entry.get("link", "")) or _web_url(guid)
    if not link:
        raise HarvestError("no http(s) link")
    raw_html = str(entry.get("summary", "") or "")
    contents = [str(c.get("value", "") or "") for c in entry.get("content", []) or []]
    hrefs = [str(link_.get("href", "") or "") for link_ in entry.get("links", []) or []]
    # Ids are looked for in the same bounded text that is stored.
    ids = arxiv_ids_in(
        " ".join([link, *hrefs, raw_html[:MAX_HTML_CHARS], *(c[:MAX_HTML_CHARS] for c in contents)])
    )
    when = _when(entry)
    record = PaperRecord(
        title=html_to_text(entry.get("title", ""), limit=MAX_TITLE_CHARS) or link,
        url=link,
        abstract=html_to_text(raw_html or (contents[0] if contents else "")),
        authors=[
            html_to_text(a.get("name", ""), limit=MAX_TITLE_CHARS)
            for a in entry.get("authors", []) or []
            if a.get("name")
        ],
        published_at=when,
        updated_at=when,
        lab=lab,
    )
    return FeedEntry(record=record, arxiv_ids=ids, link=link, guid=guid)


def _entry_label(entry: Any, index: int) -> str:
    title = html_to_text(str(entry.get("title", "") or ""), limit=80)
    return f"entry {index + 1}" + (f" ({title!r})" if title else "")


def feed_entries(parsed: Any, *, lab: str) -> FeedEntries:
    """Every entry of a parsed feed that can be stored; the others, each with its reason."""
    result = FeedEntries()
    for index, entry in enumerate(parsed.entries):
        try:
            found = entry_record(entry, lab=lab)
            found.position = index + 1
            result.entries.append(found)
        # Untrusted input in any shape feedparser lets through: one bad entry is skipped.
        except Exception as exc:
            reason = exc if isinstance(exc, HarvestError) else f"{exc.__class__.__name__}: {exc}"
            result.skipped.append(f"{_entry_label(entry, index)} skipped: {str(reason)[:200]}")
    return result


def _guid_key(entry: FeedEntry) -> str:
    """The key of an entry that shares its link with others: its guid when that is a web
    address of its own, else the link with the guid (or, lacking one, the title) as its
    fragment, which still opens the page."""
    guid = entry.guid if entry.guid and entry.guid != entry.link else ""
    if guid and _web_url(guid):
        return guid
    ident = guid or normalize_title(entry.record.title) or entry.record.title
    key = f"{entry.link.split('#', 1)[0]}#{quote(ident, safe='')}"
    if len(key) > MAX_KEY_CHARS:
        digest = hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()[:32]
        key = f"{entry.link.split('#', 1)[0][: MAX_KEY_CHARS - 40]}#{digest}"
    return key


def entry_keys_assign(entries: list[FeedEntry]) -> None:
    """Key each entry by its link, or by its guid where the link is not unique in the feed
    (release notes made from one page: every entry links to the page).

    Keys stay stable as the feed changes: an entry keeps a report already stored under its
    other key, so a feed that drops down to one entry per link, or starts sharing a link,
    adds no second copy."""
    counts = Counter(entry.link for entry in entries)
    alternatives: dict[int, str] = {}
    for index, entry in enumerate(entries):
        shared = counts[entry.link] > 1
        guid_key = _guid_key(entry)
        entry.record.url, alternatives[index] = (
            (guid_key, entry.link) if shared else (entry.link, guid_key)
        )
    stored = dict(
        Paper.objects.filter(canonical_url__in=set(alternatives.values())).values_list(
            "canonical_url", "normalized_title"
        )
    )
    taken: set[str] = set()
    for index, entry in enumerate(entries):
        other = alternatives[index]
        if other not in stored or other in taken:
            continue
        # Of the entries now sharing a link, the one stored under it alone keeps it.
        if counts[entry.link] > 1 and stored[other] != normalize_title(entry.record.title):
            continue
        entry.record.url = other
        taken.add(other)


def _arxiv_lookup(ids: set[str], notes: list[str]) -> int:
    """Store the unknown arXiv papers among `ids`; waiting reports join them as they are
    stored. Returns how many papers are new. A failed lookup is noted, not raised: the
    entries wait, and a later harvest (or the paper's arrival by any path) links them."""
    missing = sorted(ids - papers_by_arxiv_id(ids).keys())[:MAX_ARXIV_LOOKUPS]
    if not missing:
        return 0
    try:
        records = arxiv_fetch_ids(missing)
    except HarvestError as exc:
        log.warning("arXiv lookup of %d ids failed: %s", len(missing), exc)
        notes.append(f"arXiv lookup failed ({exc}); its entries wait for their arXiv papers")
        return 0
    return papers_upsert(records).new


def feed_harvest(source: Source, run: HarvestRun) -> None:
    parsed = feed_fetch(source.url)
    found = feed_entries(parsed, lab=source.lab)
    entries = found.entries
    entry_keys_assign(entries)
    notes = list(found.skipped)
    named = {i for entry in entries for i in entry.arxiv_ids}
    # Reports of this feed still waiting are looked up again, even once their entry has
    # left the feed: arXiv may answer now.
    waiting = set(
        Paper.objects.waiting_for_arxiv()
        .filter(paper_sources__source=source)
        .values_list("arxiv_link", flat=True)
    )
    new = _arxiv_lookup(named | waiting, notes) if named | waiting else 0
    known = papers_by_arxiv_id(named)
    skipped = len(found.skipped)
    newest: datetime | None = None
    left_waiting = 0
    for entry in entries:
        record = entry.record
        paper = next((known[i] for i in entry.arxiv_ids if i in known), None)
        try:
            if paper is not None:
                paper_source_attach(paper, source=source, url=record.url, title=record.title)
            else:
                arxiv_link = entry.arxiv_ids[0] if entry.arxiv_ids else ""
                _, created = lab_report_upsert(record, source=source, arxiv_link=arxiv_link)
                new += created
                left_waiting += bool(arxiv_link)
        except (DatabaseError, ValueError) as exc:
            if not connection.is_usable():
                raise
            log.warning("%s: entry %s not stored: %s", source, record.url, exc)
            skipped += 1
            label = f"entry {entry.position} ({record.title[:80]!r})"
            notes.append(f"{label} skipped: {str(exc)[:200]}")
            continue
        if record.updated_at and (newest is None or record.updated_at > newest):
            newest = record.updated_at
    if left_waiting:
        word = "entry" if left_waiting == 1 else "entries"
        notes.append(f"{left_waiting} {word} kept as a lab report until arXiv has its paper")
    harvest_run_progress(run, fetched=len(parsed.entries), new=new, skipped=skipped, notes=notes)
    if newest is not None:
        source_cursor_advance(source, newest)
