"""Harvests that write: each source kind's loop around its pipeline client, storing every
page as it comes, moving the cursor, and recording the run; and adding one paper by hand.

The fetching and parsing (arXiv API, OAI-PMH, feeds, pasted pages) is pipeline code that
knows nothing of the database; what is stored, and when the cursor may move, is decided
here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import kombu.exceptions
import redis
from django.conf import settings
from django.db import DatabaseError, connection, reset_queries, transaction
from django.utils import timezone

from pipeline import arxiv, feeds, http, oai
from pipeline.errors import HarvestError, TransientHarvestError, error_kind
from pipeline.pages import page_record
from pipeline.records import arxiv_id_parse
from tracker.core.fetching import fetch_config
from tracker.papers.models import HarvestRun, Paper, Source, SourceKind
from tracker.papers.selectors import papers_by_arxiv_id
from tracker.papers.services import (
    SourceBusyError,
    atomic_with_retries,
    harvest_run_finish,
    harvest_run_progress,
    harvest_run_start,
    lab_report_upsert,
    paper_source_attach,
    paper_upsert,
    papers_upsert,
    source_cursor_advance,
    source_resume_token_set,
)

log = logging.getLogger(__name__)

# Redis (the broker and the cache) unreachable or stalled for a while, a restart or a
# failover: a later try succeeds, so a harvest that meets one fails transiently.
SERVICE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


def arxiv_harvest(source: Source, run: HarvestRun) -> None:
    """Harvest newest-first down to the cursor (first time: the source's window).

    Each page is upserted and committed on its own; the cursor moves to the newest update
    seen only once every page down to the old cursor is stored. A run killed halfway leaves
    the cursor where it was, so the next run fetches those pages again and upserts nothing
    twice, instead of skipping the pages the killed run never reached.
    """
    config = fetch_config()
    stop = source.cursor or timezone.now() - timedelta(days=source.window_days)
    size = max(1, min(settings.ARXIV_PAGE_SIZE, 2000))
    newest: datetime | None = None
    oldest_seen = stop
    start = 0
    total = 0
    while start < arxiv.RESULT_CAP:
        page = arxiv.api_page(
            settings.ARXIV_API_URL,
            arxiv.search_params(source.query, start, size),
            config=config,
            known_total=total,
        )
        total = page.total
        fresh = [r for r in page.records if r.updated_at is None or r.updated_at > stop]
        if fresh:
            # The page's papers and the run's counts commit together: a run killed between
            # the two would count fewer papers than it stored.
            with transaction.atomic():
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
            f"stopped at the API's {arxiv.RESULT_CAP:,}-result cap: updates older than "
            f"{oldest_seen:%Y-%m-%d %H:%M} and newer than {stop:%Y-%m-%d %H:%M} were not "
            "fetched; backfill them with an OAI-PMH source or import_papers"
        )
    if newest is not None:
        source_cursor_advance(source, newest)


def oai_harvest(source: Source, run: HarvestRun) -> None:
    """List records changed since the cursor, page by page, storing the token as it goes."""
    config = fetch_config()
    resumed = bool(source.resume_token)
    if resumed:
        params: dict[str, str | int] = {
            "verb": "ListRecords",
            "resumptionToken": source.resume_token,
        }
    else:
        since = source.cursor or timezone.now() - timedelta(days=source.window_days)
        params = {
            "verb": "ListRecords",
            "metadataPrefix": "oai_dc",
            "from": since.date().isoformat(),
        }
        if source.oai_set:
            params["set"] = source.oai_set
    for _ in range(oai.MAX_PAGES):
        page = oai.oai_page(settings.ARXIV_OAI_URL, params, config=config)
        with transaction.atomic():  # papers and counts together, as above
            result = papers_upsert(page.records, source=source)
            harvest_run_progress(run, fetched=page.seen, new=result.new, updated=result.updated)
        # After the commit above: a run killed from here on resumes at the next page.
        source_resume_token_set(source, page.token)
        # With DEBUG on, Django keeps every query's SQL; a long backfill must not pile it up.
        reset_queries()
        if not page.token:
            break
        params = {"verb": "ListRecords", "resumptionToken": page.token}
    else:
        raise HarvestError(f"more than {oai.MAX_PAGES} pages; resumption token looping?")
    # Datestamps have day granularity: the next run re-lists the day this one started.
    # A resumed list began at an unknown earlier time, so its cursor stays put.
    if not resumed:
        source_cursor_advance(source, run.started_at - timedelta(days=1))


def _arxiv_lookup(run: HarvestRun, ids: set[str]) -> None:
    """Store the unknown arXiv papers among `ids`, counting the new ones in the run as they
    commit; waiting reports join them as they are stored. A failed lookup is noted, not
    raised: the entries wait, and a later harvest (or the paper's arrival by any path)
    links them."""
    missing = sorted(ids - papers_by_arxiv_id(ids).keys())[: feeds.MAX_ARXIV_LOOKUPS]
    if not missing:
        return
    try:
        records = arxiv.arxiv_fetch_ids(settings.ARXIV_API_URL, missing, config=fetch_config())
    except HarvestError as exc:
        log.warning("arXiv lookup of %d ids failed: %s", len(missing), exc)
        note = f"arXiv lookup failed ({exc}); its entries wait for their arXiv papers"
        harvest_run_progress(run, notes=[note])
        return
    atomic_with_retries(lambda: harvest_run_progress(run, new=papers_upsert(records).new))


def _entry_store(
    run: HarvestRun, source: Source, entry: feeds.FeedEntry, paper: Paper | None
) -> bool:
    """Store one entry (a second source of its arXiv paper, else a lab report) and count
    it in the run; the caller makes the two one transaction, so a worker killed mid-feed
    leaves counts that match what it stored. Returns whether the entry is a report waiting
    for its arXiv paper."""
    record = entry.record
    if paper is not None:
        # A second source of a stored paper: nothing new to count.
        paper_source_attach(paper, source=source, url=record.url, title=record.title)
        return False
    arxiv_link = entry.arxiv_ids[0] if entry.arxiv_ids else ""
    _, created = lab_report_upsert(record, source=source, arxiv_link=arxiv_link)
    harvest_run_progress(run, new=int(created))
    return bool(arxiv_link)


def _stored_titles(urls: set[str]) -> dict[str, str]:
    return dict(
        Paper.objects.filter(canonical_url__in=urls).values_list(
            "canonical_url", "normalized_title"
        )
    )


def feed_harvest(source: Source, run: HarvestRun) -> None:
    """Each new entry becomes a lab report, unless it links to or names an arXiv paper, in
    which case it becomes a second source of that paper.

    No entry is lost to a fault elsewhere: an entry whose arXiv paper is missing, or whose
    lookup failed (arXiv unreachable), is stored as a lab report that keeps the arXiv id
    and joins the paper when the paper is stored."""
    parsed = feeds.feed_fetch(source.url, fetch_config())
    found = feeds.feed_entries(parsed, lab=source.lab)
    entries = found.entries
    feeds.entry_keys_assign(entries, _stored_titles)
    # What was fetched and what could not be read count at once; each stored paper counts
    # as it commits.
    harvest_run_progress(
        run, fetched=len(parsed.entries), skipped=len(found.skipped), notes=found.skipped
    )
    named = {i for entry in entries for i in entry.arxiv_ids}
    # Reports of this feed still waiting are looked up again, even once their entry has
    # left the feed: arXiv may answer now.
    waiting = set(
        Paper.objects.waiting_for_arxiv()
        .filter(paper_sources__source=source)
        .values_list("arxiv_link", flat=True)
    )
    if named | waiting:
        _arxiv_lookup(run, named | waiting)
    known = papers_by_arxiv_id(named)
    newest: datetime | None = None
    left_waiting = 0
    for entry in entries:
        record = entry.record
        paper = next((known[i] for i in entry.arxiv_ids if i in known), None)
        try:
            left_waiting += atomic_with_retries(partial(_entry_store, run, source, entry, paper))
        except (DatabaseError, ValueError) as exc:
            if not connection.is_usable():
                raise
            log.warning("%s: entry %s not stored: %s", source, record.url, exc)
            label = f"entry {entry.position} ({record.title[:80]!r})"
            harvest_run_progress(run, skipped=1, notes=[f"{label} skipped: {str(exc)[:200]}"])
            continue
        if record.updated_at and (newest is None or record.updated_at > newest):
            newest = record.updated_at
    if left_waiting:
        word = "entry" if left_waiting == 1 else "entries"
        note = f"{left_waiting} {word} kept as a lab report until arXiv has its paper"
        harvest_run_progress(run, notes=[note])
    if newest is not None:
        source_cursor_advance(source, newest)


def paper_add(text: str) -> tuple[Paper, bool]:
    """Add (or find) the paper named by an arXiv id or URL, or a lab report at any other URL.

    Returns the paper and whether it is new. Raises HarvestError with a message for people.
    A person is waiting, so every fetch here fails within FETCH_INTERACTIVE_SECONDS.
    """
    text = text.strip()
    parsed = arxiv_id_parse(text)
    if parsed is not None:
        try:
            with http.interactive(settings.FETCH_INTERACTIVE_SECONDS):
                records = arxiv.arxiv_fetch_ids(
                    settings.ARXIV_API_URL, [parsed.id], config=fetch_config()
                )
        except TransientHarvestError as exc:
            log.warning("add %s: arXiv failed: %s", parsed.id, exc)
            raise HarvestError("cannot reach arxiv.org; try again later") from exc
        if not records:
            raise HarvestError(f"arXiv has no paper {parsed.id}")
        return paper_upsert(records[0])
    if not text.lower().startswith(("http://", "https://")):
        raise HarvestError("give an arXiv id (2401.01234), an arXiv URL or a web page URL")
    with http.interactive(settings.FETCH_INTERACTIVE_SECONDS):
        record = page_record(text, fetch_config())
    return lab_report_upsert(record)


HARVESTERS: dict[str, Callable[[Source, HarvestRun], None]] = {
    SourceKind.ARXIV: arxiv_harvest,
    SourceKind.FEED: feed_harvest,
    SourceKind.OAI: oai_harvest,
}


def source_harvest(source: Source) -> HarvestRun:
    """Run a harvest now. The run is recorded whatever happens; a failure is recorded with
    its reason and then raised (TransientHarvestError when a later retry may succeed).
    Raises SourceBusyError, recording nothing, while another run of the source is going on."""
    run = harvest_run_start(source)
    try:
        try:
            HARVESTERS[source.kind](source, run)
        except SERVICE_ERRORS as exc:
            raise TransientHarvestError(
                f"Redis unavailable ({exc.__class__.__name__}: {exc})"
            ) from exc
    except TransientHarvestError as exc:
        harvest_run_finish(
            run,
            error=f"temporary failure (a scheduled harvest retries it): {exc}",
            error_kind=error_kind(exc),
        )
        raise
    except HarvestError as exc:
        harvest_run_finish(run, error=str(exc), error_kind=error_kind(exc))
        raise
    except Exception as exc:
        log.exception("harvest of %s failed unexpectedly", source)
        harvest_run_finish(
            run, error=f"unexpected {exc.__class__.__name__}: {exc}", error_kind="other"
        )
        raise
    return harvest_run_finish(run)


def source_harvest_by_id(source_id: int) -> HarvestRun | None:
    """The harvest task's work: harvest the source if it is still enabled. None when the
    source is gone, disabled, or being harvested by another worker now (which fetches what
    this one would)."""
    source = Source.objects.enabled().filter(pk=source_id).first()
    if source is None:
        return None
    try:
        return source_harvest(source)
    except SourceBusyError:
        return None


def arxiv_query_validate(query: str) -> int:
    """arXiv's result count for a query, or HarvestError with arXiv's own message."""
    return arxiv.arxiv_query_validate(settings.ARXIV_API_URL, query, config=fetch_config())


def feed_url_validate(url: str) -> feeds.FeedInfo:
    """Fetch a feed URL the way a harvest would and check that it parses."""
    return feeds.feed_url_validate(url, fetch_config())
