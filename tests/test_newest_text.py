"""The newest papers' own full-text index: how it is kept, and how the keyword side reads
the newest matches through it (PostgreSQL)."""

from __future__ import annotations

import io
import itertools
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PaperFactory
from tracker.core.db import planned_rows
from tracker.papers import newest_text
from tracker.papers.models import Paper
from tracker.papers.newest_text import index_name, newest_text_from, newest_text_sync
from tracker.search import keyword as search_keyword
from tracker.search.keyword import keyword_search
from workers.tasks import sync_newest_text_index_task

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's full-text index"
)


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite has no such index")
def test_on_sqlite_the_command_says_so_and_the_nightly_task_does_nothing() -> None:
    PaperFactory.create_batch(3)
    with pytest.raises(CommandError, match="only PostgreSQL"):
        call_command("sync_newest_text_index", "--min-papers", "1")
    assert newest_text_sync(min_papers=1) == newest_text.NewestText(None, [], False)
    assert sync_newest_text_index_task() == {"made": None, "dropped": 0, "kept": 0, "busy": 0}
    assert newest_text_from() is None and Paper.objects.count() == 3


@pytest.fixture(autouse=True)
def _constraints_checked_at_once() -> None:
    """A test's transaction holds the papers' deferred foreign-key checks until it ends,
    and PostgreSQL builds no index on a table with checks pending (outside a test the
    sync runs in no transaction): checked as each row is written instead."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def bands() -> dict[int, tuple[bool, str]]:
    """Each index of the newest papers: whether it is valid, and its definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'papers_paper'::regclass AND starts_with(c.relname, %s)",
            [newest_text._PREFIX],
        )
        return {
            int(name.removeprefix(newest_text._PREFIX)): (valid, definition)
            for name, valid, definition in cursor.fetchall()
        }


def ids_past(after: int) -> int:
    return Paper.objects.filter(pk__gt=after).count()


@postgresql_only
def test_the_index_holds_the_newest_share_and_is_built_again_once_grown() -> None:
    """Too few papers: none. Then one over the newest 30% (its id read by the keyword
    side), kept while it has not grown much, built again over the newest share once it
    has, the old one dropped; dropped again when the papers fall below the threshold."""
    PaperFactory.create_batch(40)
    assert newest_text_sync(min_papers=50) == newest_text.NewestText(None, [], False)
    assert bands() == {} and newest_text_from() is None

    PaperFactory.create_batch(60)
    first = newest_text_sync(min_papers=50)
    assert first.made is not None and (first.dropped, first.kept) == ([], False)
    assert ids_past(first.made) == 30
    [(valid, definition)] = bands().values()
    assert valid and "gin (search_document)" in definition
    assert f"WHERE (id > {first.made})" in definition
    assert newest_text_from() == first.made

    PaperFactory.create_batch(10)  # 40 past it of 110: under 1.6 x 30% of them
    assert newest_text_sync(min_papers=50) == newest_text.NewestText(None, [], True)
    PaperFactory.create_batch(30)  # 70 of 140: past it
    second = newest_text_sync(min_papers=50)
    assert second.made is not None and second.made > first.made
    assert (ids_past(second.made), second.dropped, second.kept) == (42, [first.made], False)
    assert list(bands()) == [second.made] and newest_text_from() == second.made

    gone = newest_text_sync(min_papers=1000)
    assert gone == newest_text.NewestText(None, [second.made], False)
    assert bands() == {} and newest_text_from() is None


@postgresql_only
def test_an_index_left_invalid_is_built_again_and_one_sync_runs_at_a_time() -> None:
    """A concurrent build that failed leaves an invalid index: the keyword side does not
    read past its id, and the next sync builds it again. While another sync holds the
    lock, a sync does nothing and says so; the command and the nightly task run it."""
    PaperFactory.create_batch(60)
    made = newest_text_sync(min_papers=50).made
    assert made is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass",
            [index_name(made)],
        )
    newest_text.newest_text_forget()
    assert newest_text_from() is None
    again = newest_text_sync(min_papers=50)
    assert (again.made, again.dropped) == (made, [])
    assert bands() == {made: (True, bands()[made][1])} and newest_text_from() == made

    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [newest_text._LOCK])
            assert newest_text_sync(min_papers=50).busy
            with pytest.raises(CommandError, match="another sync"):
                call_command("sync_newest_text_index", "--min-papers", "50", stdout=io.StringIO())
            cursor.execute("SELECT pg_advisory_unlock(%s)", [newest_text._LOCK])
    finally:
        other.close()
    out = io.StringIO()
    call_command("sync_newest_text_index", "--min-papers", "50", stdout=out)
    assert "kept as it was" in out.getvalue()
    with pytest.raises(CommandError, match="at least 1"):
        call_command("sync_newest_text_index", "--min-papers", "0")
    # The nightly task, at its own threshold: these papers are too few, and it drops it.
    assert sync_newest_text_index_task() == {"made": None, "dropped": 1, "kept": 0, "busy": 0}


def reads_of(queries: CaptureQueriesContext) -> list[tuple[int, int | None]]:
    """The id bounds (lower, upper or None) of each read of the newest matches."""
    found = []
    for query in queries:
        sql = query["sql"]
        if "@@" not in sql or "ORDER BY 1 DESC" not in sql:
            continue
        lower = re.search(r'"papers_paper"\."id" > (\d+)', sql)
        upper = re.search(r'"papers_paper"\."id" <= (\d+)', sql)
        found.append((int(lower.group(1)) if lower else 0, int(upper.group(1)) if upper else None))
    return found


@postgresql_only
@pytest.mark.parametrize("window_id_cost", [1e9, 0.0], ids=["sorted", "windowed"])
def test_the_newest_matches_are_read_past_the_index_id_first(
    monkeypatch, window_id_cost: float
) -> None:  # type: ignore[no-untyped-def]
    """With the newest papers' index, the capped set is still the uncapped ranking's
    first rows, whether sorted or read from windows; no read crosses the index's id, the
    first is past it, and the planner answers that one from the index."""
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 0.9)
    monkeypatch.setattr(search_keyword, "WINDOW_ID_COST", window_id_cost)
    monkeypatch.setattr(search_keyword, "WINDOW_MARGIN", 1e-9)
    studies = []
    for _ in range(40):
        studies.append(PaperFactory(title="Quokka study", abstract=""))
        PaperFactory.create_batch(2, title="Filler paper", abstract="")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE papers_paper")
    uncapped = keyword_search("quokka", 20)
    assert uncapped == [p.pk for p in reversed(studies[-20:])]
    band = newest_text_sync(min_papers=50).made
    assert band is not None  # the newest 36 papers: 12 studies
    monkeypatch.setattr(search_keyword, "RANKED_AT_MOST", 16)
    with CaptureQueriesContext(connection) as queries:
        assert keyword_search("quokka", 20) == uncapped[:16]
    reads = reads_of(queries)
    assert reads[0][0] >= band and any(lower == band for lower, _ in reads), reads
    assert all(lower >= band or (upper or 0) <= band for lower, upper in reads), reads
    assert len(reads) >= 2  # the index's 12 studies are not the cap's 16

    first = next(q["sql"] for q in queries if f'"papers_paper"."id" > {band}' in q["sql"])
    with connection.cursor() as cursor:
        # A table this small is read whole, or its few ids through the primary key, unless
        # told not to: the point is that the index can answer the read past its id. (In
        # the test's transaction, rolled back with it.)
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false "
            "WHERE indexrelid = 'papers_paper_pkey'::regclass"
        )
        cursor.execute(f"EXPLAIN {first}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index_name(band) in plan, plan


@postgresql_only
@pytest.mark.parametrize("window_id_cost", [0.0, 1e9], ids=["window", "sorted"])
def test_below_the_index_id_the_read_is_chosen_on_the_matches_found_past_it(
    monkeypatch, window_id_cost: float
) -> None:  # type: ignore[no-untyped-def]
    """Two words always found together: the planner takes them for independent and
    expects a ninth of their matches, fewer than the cap, so the newest are read past the
    index's id first, all of them. Those counted say how densely the matches lie below:
    the rest come from a window below the index's id when that costs less than sorting
    every match, and are sorted out of them otherwise; the set is the uncapped one's
    newest either way."""
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 0.9)
    monkeypatch.setattr(search_keyword, "WINDOW_ID_COST", window_id_cost)
    monkeypatch.setattr(search_keyword, "WINDOW_MARGIN", 1e-9)
    for _ in range(40):
        PaperFactory(title="Quokka burrow", abstract="")
        PaperFactory.create_batch(2, title="Filler paper", abstract="")
    band = newest_text_sync(min_papers=50).made  # analysed: the newest 36 papers, 12 matches
    assert band is not None
    every = Paper.objects.filter(title="Quokka burrow").order_by("-id")
    with connection.cursor() as cursor:
        pair = search_keyword._pg_match("quokka & burrow")
        assert planned_rows(cursor, Paper.objects.filter(pair)) < 16 < every.count()
        with CaptureQueriesContext(connection) as queries:
            found = search_keyword._pg_newest_capped(
                cursor, Paper.objects.visible(), "quokka & burrow", every[0].pk, 16, False
            )
    assert found == list(every.values_list("pk", flat=True)[:16])
    reads = reads_of(queries)
    assert reads[0] == (band, None)
    if window_id_cost:
        assert reads[1:] == [(0, band)]
    else:
        # Windows down from the index's id, each as wide as the last few matches need.
        assert reads[1][1] == band and 0 < reads[1][0] < band
        assert all(upper == lower for (lower, _), (_, upper) in itertools.pairwise(reads[1:]))


@postgresql_only
@pytest.mark.parametrize("whole", [True, False], ids=["whole", "window"])
def test_past_the_index_id_the_matches_are_read_whole_or_from_a_window(
    monkeypatch, whole: bool
) -> None:  # type: ignore[no-untyped-def]
    """Past the index's id, the matches are read whole (no upper bound: no bitmap of the
    primary key) when that costs less than a window of them (_band_whole), or from a
    window inside it."""
    # Nothing is common: the sync's ANALYZE finds the word in every paper.
    monkeypatch.setattr(search_keyword, "COMMON_SHARE", 2.0)
    monkeypatch.setattr(search_keyword, "RANKED_AT_MOST", 4)
    monkeypatch.setattr(search_keyword, "WINDOW_MARGIN", 1e-9)
    monkeypatch.setattr(search_keyword, "_windowed", lambda *args: True)
    monkeypatch.setattr(search_keyword, "_band_whole", lambda *args: whole)
    # A rare word, whatever count another test's ANALYZE left the planner.
    monkeypatch.setattr(search_keyword, "_paper_count", lambda cursor: 10_000)
    PaperFactory.create_batch(100, title="Wombat study", abstract="")
    band = newest_text_sync(min_papers=50).made
    assert band is not None
    with CaptureQueriesContext(connection) as queries:
        assert len(keyword_search("wombat", 10)) == 4
    lower, upper = reads_of(queries)[0]
    if whole:
        assert (lower, upper) == (band, None)
    else:
        assert upper is not None and band < lower < upper


@pytest.mark.parametrize(
    ("share", "window", "whole"),
    [
        # At a million papers, the newest 300,000 with their own index (measured): a word
        # in 0.3% of papers, 11 ms read whole, 23 ms from a window of 217,000 ids; a word
        # in 10%, 83 ms whole, 8 ms from a window of 20,000.
        (0.003, 217_000, True),
        (0.1, 20_000, False),
        # A window as wide as the band: whole, which needs no bitmap of the primary key.
        (0.01, 300_000, True),
    ],
)
def test_the_band_is_read_whole_when_that_costs_less_than_a_window(
    share: float, window: int, whole: bool
) -> None:
    assert search_keyword._band_whole(share, 300_000, window) is whole
