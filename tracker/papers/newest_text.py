"""The full-text index of the newest papers, beside the index of every paper (PostgreSQL).

The search box ranks the newest thousand matches of a question's words
(tracker.search.keyword). PostgreSQL's full-text index (GIN) gives every match, in no
order, as a bitmap: for a word in a tenth of a million papers, 99,000 matches and 25 ms
to build, before the window of the newest ids keeps 2,000 of them; for a rarer word the
window itself was the cost, a bitmap of the primary key over 233,000 ids (25 ms).

A partial index over the papers past an id (the newest share of them, NEWEST_SHARE) holds
only their matches: the same word's bitmap there is a tenth as large, and a window inside
it needs no bitmap of the primary key at all. The keyword side reads the newest matches
there first (`newest_text_from` gives the id past which it holds them); the index of every
paper answers the rest.

Papers arrive with higher ids, so the band grows: once it holds NEWEST_GROWN times its
share, a sync builds another over the newest share and drops the old one, concurrently
(searches and harvests go on). Nightly (workers.tasks.sync_newest_text_index_task), and
`manage.py sync_newest_text_index`. Below NEWEST_MIN_PAPERS there is none: the index of
every paper is small enough.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

# The band holds this share of the papers when built...
NEWEST_SHARE = 0.3
# ...and is built again once it holds this many times as many.
NEWEST_GROWN = 1.6
NEWEST_MIN_PAPERS = 50_000
_PREFIX = "papers_paper_newest_text_"
# What a build may hold in memory: GIN gathers its entries there before writing them (the
# newest 300,000 of a million papers: an index of 109 MB, built in 21-31 s).
BUILD_MEMORY = "512MB"
# One sync at a time per database (a session advisory lock; the number is this feature's).
_LOCK = 7_261_002
# How long a process trusts what it read of the band (a catalogue query per search
# otherwise); a band dropped meanwhile costs only its speed: the queries bound by its id
# are right with or without it.
_KNOWN_SECONDS = 600.0
_known: list[tuple[float, int | None]] = []


@dataclass(frozen=True)
class NewestText:
    """What a sync did: the id past which the index it built holds the papers (None when
    it built none), the bands it dropped, whether it kept one as it was; `busy`: another
    sync was running, and this one did nothing."""

    made: int | None
    dropped: list[int]
    kept: bool
    busy: bool = False


def index_name(after: int) -> str:
    return f"{_PREFIX}{int(after)}"


def newest_text_from() -> int | None:
    """The id past which a valid index of the newest papers holds every paper's search
    document (the highest, while a new band replaces an old one), or None."""
    now = time.monotonic()
    if _known and now - _known[0][0] < _KNOWN_SECONDS:
        return _known[0][1]
    _known[:] = [(now, _valid(_bands()) if connection.vendor == "postgresql" else None)]
    return _known[0][1]


def newest_text_forget() -> None:
    _known.clear()


def _bands() -> dict[int, bool]:
    """Each band's id and whether its index is valid (a concurrent build that failed
    leaves an invalid one behind)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'papers_paper'::regclass AND starts_with(c.relname, %s)",
            [_PREFIX],
        )
        return {int(name.removeprefix(_PREFIX)): bool(ok) for name, ok in cursor.fetchall()}


def _valid(bands: dict[int, bool]) -> int | None:
    """The highest id among the valid `bands`: a new one while it replaces an old one."""
    return max((after for after, ok in bands.items() if ok), default=None)


def newest_text_sync(
    min_papers: int = NEWEST_MIN_PAPERS, report: Callable[[str], None] | None = None
) -> NewestText:
    """Build the index of the newest papers where there is none, or where the one there
    has grown past NEWEST_GROWN times its share, and drop the bands it replaces (and any
    left invalid). With fewer than `min_papers` papers, drop them all. Outside a
    transaction, built and dropped CONCURRENTLY. Nothing on SQLite."""
    if connection.vendor != "postgresql":
        return NewestText(None, [], False)
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK])
        if not cursor.fetchone()[0]:
            return NewestText(None, [], False, busy=True)
        try:
            made = None
            bands = _bands()
            papers = _count(cursor, None)
            current = _valid(bands)
            if papers < min_papers:
                current = None
            elif current is None or _count(cursor, current) > NEWEST_GROWN * NEWEST_SHARE * papers:
                made = _newest_after(cursor, int(papers * NEWEST_SHARE))
                started = time.monotonic()
                _build(cursor, made, concurrently)
                current = made
                if report:
                    report(
                        f"built the index of the papers past id {made}: "
                        f"{_count(cursor, made)} papers in {time.monotonic() - started:.0f} s"
                    )
            dropped = sorted(after for after in bands if after != current)
            for after in dropped:
                cursor.execute(f"DROP INDEX {concurrently}IF EXISTS {_quoted(index_name(after))}")
                if report:
                    report(f"dropped the index of the papers past id {after}")
            if made is not None:
                # The planner weighs a new index by the table's statistics.
                cursor.execute("ANALYZE papers_paper")
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK])
    newest_text_forget()
    return NewestText(made, dropped, made is None and current is not None)


def _count(cursor: Any, after: int | None) -> int:
    """Papers in all, or past the id `after` (read off the primary key)."""
    if after is None:
        cursor.execute("SELECT count(*) FROM papers_paper")
    else:
        cursor.execute("SELECT count(*) FROM papers_paper WHERE id > %s", [after])
    return int(cursor.fetchone()[0])


def _newest_after(cursor: Any, newest: int) -> int:
    """The id past which the `newest` papers lie."""
    cursor.execute(
        "SELECT id FROM papers_paper ORDER BY id DESC OFFSET %s LIMIT 1", [max(0, newest)]
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def _build(cursor: Any, after: int, concurrently: str) -> None:
    name = _quoted(index_name(after))
    # A build that failed half-way left an invalid index of this name behind.
    cursor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")
    # A session setting, where the build cannot be inside a transaction; reset after.
    cursor.execute(f"SET maintenance_work_mem = '{BUILD_MEMORY}'")
    try:
        cursor.execute(
            f"CREATE INDEX {concurrently}{name} ON papers_paper "
            f"USING gin (search_document) WHERE id > {int(after)}"
        )
    finally:
        cursor.execute("RESET maintenance_work_mem")


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)
