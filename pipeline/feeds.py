"""Lab feeds (RSS/Atom through feedparser): fetched safely, parsed, and each entry made a
lab report record with the arXiv ids it links to or names (the tracker stores it as a
second source of that paper, or as a report waiting for it). One bad entry is skipped
with its reason and never blocks the others.

Feed text is untrusted: its HTML goes through nh3 and is stored as plain text, capped.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import quote

import feedparser
import nh3

from pipeline import http
from pipeline.errors import HarvestError
from pipeline.records import PaperRecord, arxiv_ids_in, normalize_title

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


def feed_fetch(url: str, config: http.FetchConfig) -> Any:
    resp = http.safe_get(url, config)
    parsed = _feed_parse(url, resp.body)
    # feedparser reads almost anything; no entries and no recognised format means not a feed.
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = getattr(parsed, "bozo_exception", None) or "no entries"
        raise HarvestError(f"{url} is not an RSS/Atom feed: {reason}")
    return parsed


def feed_url_validate(url: str, config: http.FetchConfig) -> FeedInfo:
    """Fetch a feed URL the way a harvest would (address check, timeout, size cap) and check
    that it parses; raises HarvestError (RefusedURLError for private addresses) otherwise."""
    parsed = feed_fetch(url, config)
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


def entry_keys_assign(
    entries: list[FeedEntry], stored_titles: Callable[[set[str]], dict[str, str]]
) -> None:
    """Key each entry by its link, or by its guid where the link is not unique in the feed
    (release notes made from one page: every entry links to the page).

    Keys stay stable as the feed changes: an entry keeps a report already stored under its
    other key, so a feed that drops down to one entry per link, or starts sharing a link,
    adds no second copy. `stored_titles` maps those of the given URLs that a report is
    stored under to its normalised title."""
    counts = Counter(entry.link for entry in entries)
    alternatives: dict[int, str] = {}
    for index, entry in enumerate(entries):
        shared = counts[entry.link] > 1
        guid_key = _guid_key(entry)
        entry.record.url, alternatives[index] = (
            (guid_key, entry.link) if shared else (entry.link, guid_key)
        )
    stored = stored_titles(set(alternatives.values()))
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
