"""Writes for papers, sources and harvest runs.

Harvesters hand plain `PaperRecord`s to these functions. Every write here is safe to
repeat and safe to run from two processes at once: rows are claimed through unique
constraints (INSERT ... ON CONFLICT) and row locks, never through a read-then-write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from tracker.papers.duplicates import duplicate_candidate_propose, normalize_title
from tracker.papers.models import (
    HarvestRun,
    Paper,
    PaperKind,
    PaperSource,
    PaperVersion,
    RunStatus,
    Source,
    SourceKind,
)
from tracker.papers.records import PaperRecord

T = TypeVar("T")

# Two harvests of overlapping papers can deadlock or collide on PostgreSQL; the loser's
# transaction is rolled back whole, so running it again is safe.
UPSERT_ATTEMPTS = 4

DEFAULT_ARXIV_SOURCE = (
    "arXiv cs.CL, cs.LG, cs.AI, cs.CV",
    "cat:cs.CL OR cat:cs.LG OR cat:cs.AI OR cat:cs.CV",
)
# The labs' own feeds, where they publish one. Editable (and removable) in the admin.
DEFAULT_FEED_SOURCES = (
    ("Qwen blog", "https://qwenlm.github.io/blog/index.xml", "Qwen"),
    ("OpenAI news", "https://openai.com/news/rss.xml", "OpenAI"),
    ("Google DeepMind blog", "https://deepmind.google/blog/rss.xml", "Google DeepMind"),
)


@dataclass
class UpsertResult:
    new: int = 0
    updated: int = 0
    paper_ids: list[int] = field(default_factory=list)


def _with_retries(work: Callable[[], T]) -> T:
    for attempt in range(1, UPSERT_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return work()
        except (IntegrityError, OperationalError):
            if attempt == UPSERT_ATTEMPTS or transaction.get_connection().in_atomic_block:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _clip(value: str, length: int) -> str:
    return (value or "")[:length]


def _paper_fields(record: PaperRecord) -> dict[str, object]:
    fields: dict[str, object] = {
        "title": record.title,
        "normalized_title": normalize_title(record.title),
        "abstract": record.abstract,
        "authors": record.authors,
        "categories": record.categories,
        "primary_category": _clip(record.primary_category, 32),
        "comment": record.comment,
        "journal_ref": record.journal_ref,
        "doi": _clip(record.doi, 200),
        "updated_at_source": record.updated_at or record.published_at,
        "pdf_url": _clip(record.pdf_url, 1000),
    }
    if record.published_at is not None:
        fields["published_at"] = record.published_at
    if record.version is not None:
        fields["version"] = record.version
    return fields


_UPDATED_ON_NEW_VERSION = [
    "title",
    "normalized_title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "comment",
    "journal_ref",
    "doi",
    "updated_at_source",
    "pdf_url",
    "version",
    "revised_at",
    "updated_at",
]


def papers_upsert(records: Sequence[PaperRecord], *, source: Source | None = None) -> UpsertResult:
    """Store arXiv papers by versionless id, in one transaction, in a fixed number of queries.

    A record with a higher version than the stored paper updates it, is added to the version
    history and marks the paper revised; the same or an older version changes nothing but
    the history. Records for the same id in one batch keep the highest version.
    """
    latest: dict[str, PaperRecord] = {}
    for record in records:
        if not record.arxiv_id:
            raise ValueError(f"not an arXiv record: {record.title[:80]!r}")
        kept = latest.get(record.arxiv_id)
        if kept is None or (record.version or 0) > (kept.version or 0):
            latest[record.arxiv_id] = record
    if not latest:
        return UpsertResult()
    return _with_retries(lambda: _papers_upsert_once(latest, records, source))


def _papers_upsert_once(
    latest: dict[str, PaperRecord], records: Sequence[PaperRecord], source: Source | None
) -> UpsertResult:
    now = timezone.now()
    _commit_without_waiting_for_disk()
    # Sorted, so that two transactions lock and insert the same rows in the same order.
    ids = sorted(latest)
    fresh = [
        Paper(
            arxiv_id=arxiv_id,
            canonical_url=latest[arxiv_id].canonical_url,
            kind=PaperKind.ARXIV,
            created_at=now,
            **_paper_fields(latest[arxiv_id]),
        )
        for arxiv_id in ids
    ]
    # ON CONFLICT DO NOTHING: papers already stored (by an earlier run, or by another
    # process a moment ago) are kept, then locked and compared below. A row whose created_at
    # is this call's `now` is one this call inserted.
    Paper.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=500)
    locked = Paper.objects.select_for_update().filter(arxiv_id__in=ids).order_by("arxiv_id")
    # Only what the comparison needs: abstracts stay in the database unless they change.
    papers = list(locked.only("id", "arxiv_id", "version", "created_at", "normalized_title"))
    existing = {paper.arxiv_id for paper in papers if paper.created_at != now}

    result = UpsertResult(paper_ids=[paper.pk for paper in papers])
    revised: list[Paper] = []
    new_titles: dict[str, Paper] = {}
    for paper in papers:
        record = latest[paper.arxiv_id]
        if paper.arxiv_id not in existing:
            result.new += 1
            new_titles[paper.normalized_title] = paper
        if record.version is not None and record.version > paper.version:
            for name, value in _paper_fields(record).items():
                if name != "published_at":
                    setattr(paper, name, value)
            paper.revised_at = now
            paper.updated_at = now
            revised.append(paper)
    if revised:
        Paper.objects.bulk_update(revised, _UPDATED_ON_NEW_VERSION, batch_size=500)
        result.updated = sum(1 for paper in revised if paper.arxiv_id in existing)

    by_id = {paper.arxiv_id: paper for paper in papers}
    versions = [
        PaperVersion(
            paper=by_id[record.arxiv_id],
            version=record.version,
            title=record.title,
            abstract=record.abstract,
            authors=record.authors,
            updated_at_source=record.updated_at or record.published_at,
            recorded_at=now,
        )
        for record in records
        if record.version is not None and record.arxiv_id in by_id
    ]
    PaperVersion.objects.bulk_create(versions, ignore_conflicts=True, batch_size=500)
    if source is not None:
        _paper_sources_touch(
            [(by_id[i], latest[i].url or latest[i].canonical_url, latest[i].title) for i in by_id],
            source,
            now,
        )
    _title_candidates_propose(new_titles, kind=PaperKind.LAB_REPORT)
    return result


def _commit_without_waiting_for_disk() -> None:
    """On PostgreSQL, let this transaction's COMMIT return before its WAL reaches the disk.

    Safe here: PostgreSQL writes WAL in order, so when a later ordinary commit (the source's
    cursor moving) is durable, every upsert before it is too. A crash can only lose pages
    the cursor has not passed yet, and the next harvest fetches those again (or the last
    batches of an import, which running it again restores).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _paper_sources_touch(
    seen: Sequence[tuple[Paper, str, str]], source: Source, now: datetime
) -> None:
    rows = [
        PaperSource(
            paper=paper,
            source=source,
            url=_clip(url, 1000),
            title=title,
            first_seen_at=now,
            last_seen_at=now,
        )
        for paper, url, title in seen
    ]
    PaperSource.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["paper", "url"],
        update_fields=["last_seen_at"],
        batch_size=500,
    )


def _title_candidates_propose(new_papers: dict[str, Paper], *, kind: str) -> None:
    """New papers whose normalised title matches a stored paper of `kind`: a curator decides."""
    titles = [title for title in new_papers if title]
    if not titles:
        return
    matches = Paper.objects.filter(kind=kind, normalized_title__in=titles).exclude(
        pk__in=[paper.pk for paper in new_papers.values()]
    )
    for other in matches:
        duplicate_candidate_propose(new_papers[other.normalized_title], other, reason="title")


def paper_upsert(record: PaperRecord, *, source: Source | None = None) -> tuple[Paper, bool]:
    """One arXiv paper: the stored row and whether it is new."""
    result = papers_upsert([record], source=source)
    return Paper.objects.get(pk=result.paper_ids[0]), result.new == 1


def lab_report_upsert(record: PaperRecord, *, source: Source | None = None) -> tuple[Paper, bool]:
    """A lab report keyed by its URL. A new one whose title matches a stored paper becomes a
    duplicate candidate for a curator: never merged, never silently a second copy."""
    if not record.url:
        raise ValueError("a lab report needs a URL")

    def work() -> tuple[Paper, bool]:
        fields = _paper_fields(record)
        fields.pop("version", None)
        paper, created = Paper.objects.get_or_create(
            canonical_url=_clip(record.url, 1000),
            defaults={"kind": PaperKind.LAB_REPORT, "lab": _clip(record.lab, 120), **fields},
        )
        if source is not None:
            _paper_sources_touch([(paper, record.url, record.title)], source, timezone.now())
        if created and paper.normalized_title:
            others = Paper.objects.filter(normalized_title=paper.normalized_title).exclude(
                pk=paper.pk
            )
            for other in others[:20]:
                duplicate_candidate_propose(paper, other, reason="title")
        return paper, created

    return _with_retries(work)


def paper_source_attach(paper: Paper, *, source: Source | None, url: str, title: str) -> None:
    """Note that a source (a lab's feed) points at a stored paper: one paper, two sources."""
    if source is None:
        return
    _paper_sources_touch([(paper, url, title)], source, timezone.now())


# --- Sources -----------------------------------------------------------------------------


def source_create(
    *,
    kind: str,
    name: str,
    query: str = "",
    url: str = "",
    lab: str = "",
    oai_set: str = "",
    window_days: int | None = None,
    interval_minutes: int | None = None,
) -> Source:
    """Create a source after validating its fields (raises ValidationError)."""
    source = Source(kind=kind, name=name, query=query, url=url, lab=lab, oai_set=oai_set)
    source.window_days = window_days or settings.HARVEST_WINDOW_DAYS
    if interval_minutes is not None:
        source.interval_minutes = interval_minutes
    source.full_clean()
    source.save()
    return source


def source_defaults_ensure() -> list[Source]:
    """The first-run sources, created only when missing; returns the ones created."""
    created: list[Source] = []
    name, query = DEFAULT_ARXIV_SOURCE
    source, made = Source.objects.get_or_create(
        name=name,
        defaults={
            "kind": SourceKind.ARXIV,
            "query": query,
            "window_days": settings.HARVEST_WINDOW_DAYS,
            "interval_minutes": 6 * 60,
        },
    )
    if made:
        created.append(source)
    for name, url, lab in DEFAULT_FEED_SOURCES:
        source, made = Source.objects.get_or_create(
            name=name, defaults={"kind": SourceKind.FEED, "url": url, "lab": lab}
        )
        if made:
            created.append(source)
    return created


def sources_due_claim(now: datetime | None = None) -> list[int]:
    """Claim the sources whose harvest is due, each by a conditional UPDATE of its next run
    time, so that two beats (or a beat and a retry) never enqueue one source twice."""
    now = now or timezone.now()
    claimed: list[int] = []
    due = Source.objects.enabled().filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now))
    rows = due.values_list("pk", "next_run_at", "interval_minutes")
    for source_id, next_run_at, interval in rows:
        # Only the caller that still sees the old next_run_at wins the row.
        unchanged = Q(next_run_at=next_run_at) if next_run_at else Q(next_run_at__isnull=True)
        won = Source.objects.filter(unchanged, pk=source_id)
        if won.update(next_run_at=now + timedelta(minutes=max(interval, 1))):
            claimed.append(source_id)
    return claimed


def source_harvest_enqueue(source: Source) -> None:
    """Queue a harvest of this source now, once the current transaction commits."""
    from workers.tasks import harvest_source_task

    harvest_source_task.delay_on_commit(source.pk)


def source_cursor_advance(source: Source, to: datetime) -> None:
    """Move the cursor forward only (a slower concurrent run never moves it back)."""
    moved = Source.objects.filter(Q(cursor__isnull=True) | Q(cursor__lt=to), pk=source.pk)
    if moved.update(cursor=to):
        source.cursor = to


def source_resume_token_set(source: Source, token: str) -> None:
    Source.objects.filter(pk=source.pk).update(resume_token=token)
    source.resume_token = token


# --- Harvest runs ------------------------------------------------------------------------


def harvest_run_start(source: Source) -> HarvestRun:
    """Record a run. Runs of this source left `running` longer than any task may run were
    killed with their worker: they are marked failed so the Sources page does not lie."""
    stale_before = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    HarvestRun.objects.filter(
        source=source, status=RunStatus.RUNNING, started_at__lt=stale_before
    ).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        error="interrupted: the worker stopped before the run finished",
    )
    return HarvestRun.objects.create(source=source)


def harvest_run_progress(
    run: HarvestRun, *, fetched: int = 0, new: int = 0, updated: int = 0
) -> None:
    """Add a committed page's counts, so that a killed run still shows what it stored."""
    HarvestRun.objects.filter(pk=run.pk).update(
        fetched=F("fetched") + fetched, new=F("new") + new, updated=F("updated") + updated
    )
    run.fetched += fetched
    run.new += new
    run.updated += updated


def harvest_run_finish(run: HarvestRun, *, error: str = "") -> HarvestRun:
    run.status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
    run.error = error[:4000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run
