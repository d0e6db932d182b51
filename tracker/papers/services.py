"""Writes for papers, sources and harvest runs.

Harvesters hand plain `PaperRecord`s to these functions. Every write here is safe to
repeat and safe to run from two processes at once: rows are claimed through unique
constraints (INSERT ... ON CONFLICT) and row locks, never through a read-then-write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from json import dumps as json_dumps
from typing import Any, TypeAlias, TypeVar

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connection,
    models,
    transaction,
)
from django.db.backends.utils import CursorWrapper
from django.db.models import F, Q
from django.utils import timezone

from pipeline.records import PaperRecord, arxiv_id_parse
from tracker.papers.duplicates import duplicate_candidate_propose, normalize_title
from tracker.papers.models import (
    UNNUMBERED_VERSION,
    HarvestRun,
    Paper,
    PaperKind,
    PaperMerge,
    PaperSource,
    PaperVersion,
    RunErrorKind,
    RunStatus,
    Source,
    SourceKind,
)
from tracker.papers.signals import papers_arrived

T = TypeVar("T")
# A value the database driver adapts, as a raw query's parameter.
SQLValue: TypeAlias = bool | int | float | Decimal | str | bytes | date | list[Any] | None
log = logging.getLogger(__name__)

# Two harvests of overlapping papers can deadlock or collide on PostgreSQL; the loser's
# transaction is rolled back whole, so running it again is safe.
UPSERT_ATTEMPTS = 4
# A run's notes stay short enough for the Sources page (a feed of 1,000 bad entries).
RUN_NOTES_CHARS = 4000

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


@contextmanager
def _search_documents_deferred() -> Iterator[None]:
    """On PostgreSQL, papers inserted inside this block get no full-text document yet
    (papers migration 0007): parsing it was nearly half of a harvest page's time. The
    embedding step, which every new paper goes through next, fills it."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('tracker.defer_search_document', 'on', true)")
        yield
        cursor.execute("SELECT set_config('tracker.defer_search_document', 'off', true)")


# What is indexed of a title and of an abstract, in characters. PostgreSQL refuses a
# full-text document over 1 MB ("string is too long for tsvector"), which one 2 MB abstract
# reaches; 100,000 characters (some 15,000 words, far beyond any real abstract) stay well
# under it whatever the words. The embedder reads less still
# (pipeline.embedding.MAX_TEXT_CHARS).
# Papers migration 0008 holds the same number for the trigger that makes documents.
SEARCH_TEXT_MAX_CHARS = 100_000
SEARCH_DOCUMENT_BATCH = 2000


def search_document_sql() -> str:
    """The stored full-text document of a paper (papers migrations 0006 to 0008)."""
    cap = int(SEARCH_TEXT_MAX_CHARS)
    return (
        f"to_tsvector('english', left(coalesce(title, ''), {cap}) || ' ' "
        f"|| left(coalesce(abstract, ''), {cap}))"
    )


def search_documents_fill(paper_ids: Sequence[int] | None = None) -> int:
    """Give the papers stored without a full-text document their document: those of
    `paper_ids`, or every one waiting, a batch per transaction. Returns how many. Workers
    filling at once each take rows the others have not locked. Nothing to do on SQLite,
    whose full-text table is kept by triggers.

    A batch that fails is done again paper by paper: a paper whose document still cannot
    be made gets an empty one and its reason in `index_error`, and the others go on."""
    if connection.vendor != "postgresql" or (paper_ids is not None and not paper_ids):
        return 0
    scope, params = "", list[SQLValue]()
    if paper_ids is not None:
        scope, params = "AND id = ANY(%s)", [list(paper_ids)]
    pending = f"""SELECT id FROM papers_paper WHERE search_document IS NULL {scope}
                  ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"""  # noqa: S608
    fill = f"UPDATE papers_paper SET search_document = {search_document_sql()} WHERE id IN "  # noqa: S608
    filled = 0
    with connection.cursor() as cursor:
        while True:
            try:
                with transaction.atomic():
                    cursor.execute(f"{fill}({pending})", [*params, SEARCH_DOCUMENT_BATCH])
                    count = cursor.rowcount
            except DatabaseError:
                count = _search_documents_fill_each(cursor, pending, params)
            filled += count
            if count < SEARCH_DOCUMENT_BATCH:
                return filled


def _search_documents_fill_each(cursor: CursorWrapper, pending: str, params: list[SQLValue]) -> int:
    """One batch, a paper at a time; returns how many were done (skipped ones included)."""
    with transaction.atomic():
        cursor.execute(pending, [*params, SEARCH_DOCUMENT_BATCH])
        ids = [row[0] for row in cursor.fetchall()]
    fill = f"UPDATE papers_paper SET search_document = {search_document_sql()} WHERE id = %s"  # noqa: S608
    for paper_id in ids:
        try:
            with transaction.atomic():
                cursor.execute(fill, [paper_id])
        except DatabaseError as exc:
            paper_index_error_record(paper_id, f"full-text document: {exc}")
            # An empty document: the paper is no longer waiting, and no search matches it.
            with transaction.atomic():
                cursor.execute(
                    "UPDATE papers_paper SET search_document = ''::tsvector WHERE id = %s",
                    [paper_id],
                )
    return len(ids)


def paper_index_error_record(paper_id: int, reason: str) -> None:
    """Note why indexing skipped a paper, for curators (the admin's state filter)."""
    log.warning("indexing skipped paper %s: %s", paper_id, reason)
    Paper.objects.filter(pk=paper_id).update(index_error=reason[:2000])


def atomic_with_retries(work: Callable[[], T]) -> T:
    """`work` in one transaction, run again after a unique-key race or a locked database
    (SQLite). Inside another transaction it raises at once, for the outermost to retry."""
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
        "affiliations": record.affiliations,
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
    return atomic_with_retries(lambda: _papers_upsert_once(latest, records, source))


def _papers_upsert_once(
    latest: dict[str, PaperRecord], records: Sequence[PaperRecord], source: Source | None
) -> UpsertResult:
    now = timezone.now()
    # Sorted, so that two transactions lock and insert the same rows in the same order.
    ids = sorted(latest)
    titles = {arxiv_id: normalize_title(latest[arxiv_id].title) for arxiv_id in ids}
    stored: dict[str, int] = {}
    new_titles: dict[str, int] = {}
    new_ids: dict[str, int] = {}
    revised_ids: list[int] = []
    result = UpsertResult()
    _unnumbered_versions_keep(latest)
    with _search_documents_deferred():
        for chunk in _chunks(ids):
            for paper_id, arxiv_id, inserted in _paper_rows_upsert(chunk, latest, titles, now):
                stored[arxiv_id] = paper_id
                if inserted:
                    result.new += 1
                    new_titles[titles[arxiv_id]] = paper_id
                    new_ids[arxiv_id] = paper_id
                else:
                    result.updated += 1
                    revised_ids.append(paper_id)
    unchanged = [arxiv_id for arxiv_id in ids if arxiv_id not in stored]
    if unchanged:
        # The upsert above already holds their row locks (ON CONFLICT DO UPDATE locks a row
        # even when its WHERE leaves it alone); this only reads their ids.
        found = Paper.objects.filter(arxiv_id__in=unchanged).values_list("arxiv_id", "pk")
        stored.update((arxiv_id, pk) for arxiv_id, pk in found if arxiv_id)
    result.paper_ids = [stored[arxiv_id] for arxiv_id in ids]

    versions = sorted(
        (record for record in records if record.version is not None),
        key=lambda record: (record.arxiv_id or "", record.version or 0),
    )
    for versions_chunk in _chunks(versions):
        _paper_versions_insert(versions_chunk, stored, now)
    if source is not None:
        _paper_sources_touch(
            [(stored[i], latest[i].url or latest[i].canonical_url, latest[i].title) for i in ids],
            source,
            now,
        )
    _lab_reports_match(new_titles, new_ids)
    claim_drafts_enqueue(list(new_ids.values()))
    papers_announce(list(new_ids.values()))
    claim_rechecks_enqueue(revised_ids)
    return result


def _waiting_report_join(report_id: int, paper_id: int) -> None:
    """A lab report that was waiting for this arXiv paper is merged into it: one paper, two
    sources. The merge is recorded like a curator's, so it can be undone; an undone one is
    not redone."""
    from tracker.papers.merge import MergeError, paper_merge

    if PaperMerge.objects.filter(merged_id=report_id, undone_at__isnull=False).exists():
        return
    try:
        paper_merge(Paper(pk=paper_id), Paper(pk=report_id), by=None)
    except MergeError:
        # The arXiv paper was itself merged away by a curator: the report keeps waiting
        # for them to decide rather than guessing the survivor.
        return


# Rows per statement: well below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
_ROWS_PER_STATEMENT = 500

Item = TypeVar("Item")


def _chunks(items: Sequence[Item]) -> list[Sequence[Item]]:
    return [items[i : i + _ROWS_PER_STATEMENT] for i in range(0, len(items), _ROWS_PER_STATEMENT)]


def _column(field: models.Field[Any, Any] | models.ForeignObjectRel) -> str:
    """A concrete field's column (a reverse relation has none, and is never inserted)."""
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{field.name} has no column of its own")
    return field.column


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _rows_insert(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[SQLValue]],
    literals: dict[str, str] | None = None,
) -> tuple[str, list[SQLValue]]:
    """`INSERT INTO <table> (<columns>) <rows>`, for an ON CONFLICT clause to follow, and its
    parameters. `rows` hold the values of the fields `names`; `literals` are fields that take
    the same SQL literal in every row.

    On PostgreSQL the rows travel as one JSON parameter unpacked by the server: a page is one
    short statement, where a VALUES list of thousands of placeholders costs more Python time
    (psycopg parses the SQL and quotes every value client-side) than the insert itself.
    SQLite takes a plain VALUES list.
    """
    quote = connection.ops.quote_name
    literals = literals or {}
    fields = [model._meta.get_field(name) for name in names]
    every = [*fields, *(model._meta.get_field(name) for name in literals)]
    columns = ", ".join(quote(_column(field)) for field in every)
    # Only names from the models and placeholders go into the SQL; values are parameters.
    head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
    if connection.vendor == "postgresql":
        select = []
        for i, field in enumerate(fields):
            db_type = field.db_type(connection) or "text"
            if db_type == "jsonb":
                select.append(f"e -> {i}")
            else:
                # text, not varchar(n): too long a value fails on assignment, as with the ORM,
                # instead of being cut short by an explicit cast.
                select.append(f"(e ->> {i})::{'text' if 'char' in db_type else db_type}")
        select += literals.values()
        source = "jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r(e, n)"
        sql = f"{head}SELECT {', '.join(select)} FROM {source} ORDER BY n"  # noqa: S608
        return sql, [json_dumps(rows, default=_json_default)]
    adapt_datetime = connection.ops.adapt_datetimefield_value
    adapters: list[Callable[[Any], SQLValue] | None] = [
        json_dumps
        if isinstance(field, models.JSONField)
        else adapt_datetime
        if isinstance(field, models.DateTimeField)
        else None
        for field in fields
    ]
    params = [
        adapt(value) if adapt is not None and value is not None else value
        for row in rows
        for adapt, value in zip(adapters, row, strict=True)
    ]
    row_sql = f"({', '.join(['%s'] * len(fields) + list(literals.values()))})"
    return f"{head}VALUES {', '.join([row_sql] * len(rows))}", params


_PAPER_INSERTED = [
    "arxiv_id",
    "canonical_url",
    "kind",
    "title",
    "normalized_title",
    "abstract",
    "authors",
    "affiliations",
    "categories",
    "primary_category",
    "comment",
    "journal_ref",
    "doi",
    "published_at",
    "updated_at_source",
    "version",
    "pdf_url",
    "created_at",
    "updated_at",
]
# The model's defaults, for the columns a harvest does not fill.
_PAPER_DEFAULTS = {
    "lab": "''",
    "code_urls": "'[]'",
    "hidden": "FALSE",
    "pinned_for_digest": "FALSE",
    "index_error": "''",
}
# Fields a new version replaces; revised_at is set alongside.
_UPDATED_ON_NEW = [
    "title",
    "normalized_title",
    "abstract",
    "authors",
    "affiliations",
    "categories",
    "primary_category",
    "comment",
    "journal_ref",
    "doi",
    "updated_at_source",
    "pdf_url",
    "version",
    "updated_at",
]


def _paper_rows_upsert(
    ids: Sequence[str], latest: dict[str, PaperRecord], titles: dict[str, str], now: datetime
) -> list[tuple[int, str, bool]]:
    """Insert new papers and update those the records carry a newer version of, in one
    statement: (id, arxiv id, inserted) for each row written. Rows left alone (same or
    older version) are not returned, but stay locked until the transaction ends.

    The row is claimed through the unique arxiv_id and the versions are compared in the
    same statement, so two harvests of one paper never make two rows and never let an
    older version overwrite a newer one.
    """
    rows = []
    for arxiv_id in ids:
        record = latest[arxiv_id]
        rows.append(
            (
                arxiv_id,
                record.canonical_url,
                PaperKind.ARXIV.value,
                record.title,
                titles[arxiv_id],
                record.abstract,
                record.authors,
                record.affiliations,
                record.categories,
                _clip(record.primary_category, 32),
                record.comment,
                record.journal_ref,
                _clip(record.doi, 200),
                record.published_at,
                record.updated_at or record.published_at,
                record.version or 1,
                _clip(record.pdf_url, 1000),
                now,
                now,
            )
        )
    insert, params = _rows_insert(Paper, _PAPER_INSERTED, rows, _PAPER_DEFAULTS)
    quote = connection.ops.quote_name
    table = quote(Paper._meta.db_table)
    assignments = [
        f"{column} = excluded.{column}"
        for column in (quote(_column(Paper._meta.get_field(name))) for name in _UPDATED_ON_NEW)
    ]
    # A new version marks the paper revised at this call's time (the new row's created_at).
    assignments.append(f"{quote('revised_at')} = excluded.{quote('created_at')}")
    version = quote("version")
    if connection.vendor == "postgresql":
        # A row this statement inserted has no xmax; an updated one has this transaction's.
        inserted = "(xmax = 0)"
    else:
        # SQLite has no xmax: a row is new when its created_at is this call's time.
        inserted = f"({quote('created_at')} = %s)"
        params.append(connection.ops.adapt_datetimefield_value(now))
    sql = (
        f"{insert} ON CONFLICT ({quote('arxiv_id')}) DO UPDATE SET {', '.join(assignments)} "
        f"WHERE excluded.{version} > {table}.{version} "
        f"RETURNING {quote('id')}, {quote('arxiv_id')}, {inserted}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(paper_id, arxiv_id, bool(new)) for paper_id, arxiv_id, new in cursor.fetchall()]


def _unnumbered_versions_keep(latest: dict[str, PaperRecord]) -> None:
    """Before a newer version replaces a stored paper's text, keep that text when it is in
    no version row: a paper imported without a version number (daily listings) has none,
    and its first text would otherwise be gone. It is kept as UNNUMBERED_VERSION, so the
    paper page can say what the numbered version changed. A query only when a record
    carries a version above 1: a harvest of new papers pays nothing."""
    newer = {i: r.version for i, r in latest.items() if (r.version or 0) > 1}
    if not newer:
        return
    stored = Paper.objects.filter(arxiv_id__in=list(newer), versions__isnull=True).values_list(
        "pk",
        "arxiv_id",
        "version",
        "title",
        "abstract",
        "authors",
        "updated_at_source",
        "created_at",
    )
    PaperVersion.objects.bulk_create(
        [
            PaperVersion(
                paper_id=pk,
                version=UNNUMBERED_VERSION,
                title=title,
                abstract=abstract,
                authors=authors,
                updated_at_source=updated_at_source,
                recorded_at=created_at,
            )
            for pk, arxiv_id, version, title, abstract, authors, updated_at_source, created_at in (
                stored
            )
            if arxiv_id and (newer[arxiv_id] or 0) > version
        ],
        ignore_conflicts=True,
    )


def _paper_versions_insert(
    records: Sequence[PaperRecord], stored: dict[str, int], now: datetime
) -> None:
    """The version history: each (paper, version) once, whoever saw it first."""
    names = ["paper", "version", "title", "abstract", "authors", "updated_at_source"]
    rows = [
        (
            stored[record.arxiv_id or ""],
            record.version,
            record.title,
            record.abstract,
            record.authors,
            record.updated_at or record.published_at,
            now,
        )
        for record in records
    ]
    insert, params = _rows_insert(PaperVersion, [*names, "recorded_at"], rows)
    quote = connection.ops.quote_name
    unique = f"{quote('paper_id')}, {quote('version')}"
    with connection.cursor() as cursor:
        cursor.execute(f"{insert} ON CONFLICT ({unique}) DO NOTHING", params)


def _paper_sources_touch(
    seen: Sequence[tuple[int, str, str]], source: Source, now: datetime
) -> None:
    """Note that `source` saw each (paper id, url, title) now: a new row the first time,
    afterwards only last_seen_at moves."""
    quote = connection.ops.quote_name
    last_seen = quote("last_seen_at")
    unique = f"{quote('paper_id')}, {quote('url')}"
    names = ["paper", "source", "url", "title", "first_seen_at", "last_seen_at"]
    for chunk in _chunks(seen):
        rows = [
            (paper_id, source.pk, _clip(url, 1000), title, now, now)
            for paper_id, url, title in chunk
        ]
        insert, params = _rows_insert(PaperSource, names, rows)
        with connection.cursor() as cursor:
            cursor.execute(
                f"{insert} ON CONFLICT ({unique}) DO UPDATE SET {last_seen} = excluded.{last_seen}",
                params,
            )


def _lab_reports_match(new_titles: dict[str, int], new_ids: dict[str, int]) -> None:
    """Lab reports that new arXiv papers (by normalised title and by id, their row ids)
    concern, in one query: a title match is a duplicate candidate for a curator; a report
    waiting for one of these papers joins it, whatever path brought the paper (a harvest,
    import_papers, add_paper)."""
    titles = [title for title in new_titles if title]
    if not titles and not new_ids:
        return
    waiting = Q(arxiv_link__in=list(new_ids), merged_into__isnull=True) & ~Q(arxiv_link="")
    matches = Paper.objects.filter(
        Q(normalized_title__in=titles) | waiting, kind=PaperKind.LAB_REPORT
    ).exclude(pk__in=list(new_titles.values()))
    joins = []
    for other in matches:
        if other.normalized_title in new_titles:
            duplicate_candidate_propose(
                Paper(pk=new_titles[other.normalized_title]), other, reason="title"
            )
        if other.merged_into_id is None and other.arxiv_link in new_ids:
            joins.append((other.pk, new_ids[other.arxiv_link]))
    for report_id, paper_id in joins:
        _waiting_report_join(report_id, paper_id)


def paper_upsert(record: PaperRecord, *, source: Source | None = None) -> tuple[Paper, bool]:
    """One arXiv paper: the stored row and whether it is new. Added by hand, so it can be
    found by its words at once; a harvest leaves that to the embedding step."""
    result = papers_upsert([record], source=source)
    search_documents_fill(result.paper_ids)
    return Paper.objects.get(pk=result.paper_ids[0]), result.new == 1


def lab_report_upsert(
    record: PaperRecord, *, source: Source | None = None, arxiv_link: str = ""
) -> tuple[Paper, bool]:
    """A lab report keyed by its URL. A new one whose title matches a stored paper becomes a
    duplicate candidate for a curator: never merged, never silently a second copy.

    `arxiv_link` is the arXiv paper the report links to when that paper is not stored yet:
    the report keeps the id and joins the paper as soon as it is stored (at once if it
    already is)."""
    if not record.url:
        raise ValueError("a lab report needs a URL")
    key = record.url
    if arxiv_link and arxiv_id_parse(record.url) is not None:
        # The entry links to the arXiv page itself, whose URL belongs to the arXiv paper
        # (canonical URLs are unique): the waiting report keeps a key of its own.
        key = f"{record.url}#lab-report"

    def work() -> tuple[Paper, bool]:
        fields = _paper_fields(record)
        fields.pop("version", None)
        paper, created = Paper.objects.get_or_create(
            canonical_url=_clip(key, 1000),
            defaults={
                "kind": PaperKind.LAB_REPORT,
                "lab": _clip(record.lab, 120),
                "arxiv_link": _clip(arxiv_link, 32),
                **fields,
            },
        )
        if source is not None:
            _paper_sources_touch([(paper.pk, record.url, record.title)], source, timezone.now())
        if created:
            claim_drafts_enqueue([paper.pk])
            papers_announce([paper.pk])
        if arxiv_link and not created and paper.kind == PaperKind.LAB_REPORT:
            # A report stored before its entry named the arXiv paper starts waiting now.
            Paper.objects.filter(pk=paper.pk, arxiv_link="").update(arxiv_link=arxiv_link)
        if created and paper.normalized_title:
            others = Paper.objects.filter(normalized_title=paper.normalized_title).exclude(
                pk=paper.pk
            )
            for other in others[:20]:
                duplicate_candidate_propose(paper, other, reason="title")
        if arxiv_link and paper.kind == PaperKind.LAB_REPORT and paper.merged_into_id is None:
            # The paper may have been stored since the caller looked it up.
            arrived = Paper.objects.filter(arxiv_id=arxiv_link).values_list("pk", flat=True)
            if arrived:
                _waiting_report_join(paper.pk, arrived[0])
        return paper, created

    return atomic_with_retries(work)


def paper_source_attach(paper: Paper, *, source: Source | None, url: str, title: str) -> None:
    """Note that a source (a lab's feed) points at a stored paper: one paper, two sources."""
    if source is None:
        return
    _paper_sources_touch([(paper.pk, url, title)], source, timezone.now())


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
    from workers.tasks import harvest_source_task  # task object only, to enqueue

    # Celery's Django task class has delay_on_commit; the celery-types stubs do not know it.
    harvest_source_task.delay_on_commit(source.pk)  # type: ignore[attr-defined]


# Papers per drafting task: with an LLM endpoint each paper may take up to
# LLM_TIMEOUT_SECONDS (60 s), and 25 of them stay well inside the 55-minute soft limit.
CLAIM_DRAFT_BATCH = 25


def claim_drafts_enqueue(paper_ids: list[int]) -> None:
    """Queue drafting the claims of newly stored papers, in batches, once the transaction
    commits (a rolled-back upsert queues nothing)."""
    from workers.tasks import draft_claims_task  # task object only, to enqueue

    for start in range(0, len(paper_ids), CLAIM_DRAFT_BATCH):
        batch = list(paper_ids[start : start + CLAIM_DRAFT_BATCH])
        draft_claims_task.delay_on_commit(batch)  # type: ignore[attr-defined] # as above


def papers_announce(paper_ids: list[int]) -> None:
    """Tell the apps above that new papers are stored (follows queues its matching after
    commit); sent inside the transaction, so nothing is queued for a rolled-back upsert."""
    if paper_ids:
        papers_arrived.send(sender=Paper, paper_ids=list(paper_ids))


def claim_rechecks_enqueue(paper_ids: list[int]) -> None:
    """Queue flagging the claims of papers a new version arrived for, after commit."""
    if not paper_ids:
        return
    from workers.tasks import flag_claim_rechecks_task

    flag_claim_rechecks_task.delay_on_commit(list(paper_ids))  # type: ignore[attr-defined] # as above


def source_cursor_advance(source: Source, to: datetime) -> None:
    """Move the cursor forward only (a slower concurrent run never moves it back)."""
    moved = Source.objects.filter(Q(cursor__isnull=True) | Q(cursor__lt=to), pk=source.pk)
    if moved.update(cursor=to):
        source.cursor = to


def source_resume_token_set(source: Source, token: str) -> None:
    Source.objects.filter(pk=source.pk).update(resume_token=token)
    source.resume_token = token


# --- Harvest runs ------------------------------------------------------------------------


class SourceBusyError(Exception):
    """Another run of this source is in progress; this one would fetch the same pages."""


WORKER_LOST = "worker lost: the run stopped without finishing (worker killed or restarted)"


def harvest_runs_reap(source: Source | None = None, now: datetime | None = None) -> list[int]:
    """Mark failed the runs left `running` whose heartbeat stopped: their worker was killed.
    Their sources are made due again, so the next beat tick queues the work once more.
    Returns the reaped runs' ids."""
    now = now or timezone.now()
    lost = HarvestRun.objects.filter(
        status=RunStatus.RUNNING,
        heartbeat_at__lt=now - timedelta(seconds=settings.HARVEST_RUN_LOST_SECONDS),
    )
    if source is not None:
        lost = lost.filter(source=source)
    reaped: list[int] = []
    for run_id, source_id in lost.values_list("pk", "source_id"):
        # Conditional on the heartbeat still being old: a run that just moved on is alive.
        if lost.filter(pk=run_id).update(
            status=RunStatus.FAILED,
            finished_at=now,
            error=WORKER_LOST,
            error_kind=RunErrorKind.WORKER_LOST,
        ):
            reaped.append(run_id)
            Source.objects.filter(pk=source_id, next_run_at__gt=now).update(next_run_at=now)
    return reaped


def harvest_run_start(source: Source) -> HarvestRun:
    """Claim the source for one run, or raise SourceBusyError while another live run of it
    holds it. The claim is the insert itself: at most one `running` run per source is a
    database constraint, so two workers cannot both win. Runs of the source whose worker
    died are closed first, so a lost run never blocks the source for longer than
    HARVEST_RUN_LOST_SECONDS."""
    harvest_runs_reap(source=source)
    try:
        with transaction.atomic():
            return HarvestRun.objects.create(source=source)
    except IntegrityError:
        raise SourceBusyError(f"{source} is being harvested by another run") from None


def harvest_run_progress(
    run: HarvestRun,
    *,
    fetched: int = 0,
    new: int = 0,
    updated: int = 0,
    skipped: int = 0,
    notes: Sequence[str] = (),
) -> None:
    """Add a committed page's counts, so that a killed run still shows what it stored.
    `notes` are one line each: what was skipped and why, what waits for what."""
    changes: dict[str, object] = {
        "fetched": F("fetched") + fetched,
        "new": F("new") + new,
        "updated": F("updated") + updated,
        "skipped": F("skipped") + skipped,
        "heartbeat_at": timezone.now(),
    }
    if notes:
        run.notes = "\n".join([*filter(None, [run.notes]), *notes])[:RUN_NOTES_CHARS]
        changes["notes"] = run.notes
    HarvestRun.objects.filter(pk=run.pk).update(**changes)
    run.fetched += fetched
    run.new += new
    run.updated += updated
    run.skipped += skipped


def harvest_run_finish(
    run: HarvestRun, *, error: str = "", error_kind: str = RunErrorKind.OTHER
) -> HarvestRun:
    run.status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
    run.error = error[:4000]
    run.error_kind = error_kind if error else ""
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "error_kind", "finished_at"])
    return run
