"""Keyword search, per database: PostgreSQL's stored tsvector, SQLite's FTS5 with bm25.
Common words are left out of a question's OR (see COMMON_SHARE)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import Expression, RawSQL

from tracker.core.db import planned_rows, planner_settings
from tracker.papers.models import Paper
from tracker.papers.newest_text import newest_text_forget, newest_text_from

# Papers each side of the search box ranks before the two rankings are fused.
CANDIDATES = 200
MAX_QUERY_WORDS = 24


def query_words(query: str) -> list[str]:
    return re.findall(r"\w+", query.lower())[:MAX_QUERY_WORDS]


# An OR over a question's words is dominated by the common ones ("models", "in"):
# PostgreSQL's ts_rank has no inverse document frequency at all, and on SQLite bm25 must
# score most of the table. Words found in more than this share of papers are left out.
COMMON_SHARE = 0.1
# Every match of an OR is scored before the best are kept: the rarest words are taken
# until their matches would pass this share of papers or MATCH_BUDGET_MIN, whichever is
# more (the rarest is always taken). The words left out are frequent ones, whose meaning
# the semantic side carries anyway; a long question of mid-frequency words otherwise
# scored tens of thousands of papers. PostgreSQL ranks real abstracts at about 7 ms a
# thousand matches: at 100k papers 5% took 33 ms a question and 2% takes 16, and a title
# asked as a question found its own paper in the first ten as often (52 of 80 against 51).
MATCH_BUDGET_SHARE = 0.02
MATCH_BUDGET_MIN = 1000
# PostgreSQL ranks at most this many matches of each kind a question (RANKED_AT_MOST):
# those holding every word it ranks by (the distinctive ones), then those holding any,
# the newest of each. The rarest word is taken whatever its matches, and a share of a
# million papers is tens of thousands of them: ranking reads each one's document, 1.6 s
# for 27,000 matches at 300k papers on a loaded machine, where taking the first matches
# from the index is a bounded read. The papers holding every word rank first in nearly
# every question, so the cap keeps them.
RANKED_AT_MOST = 1000
# The matches each set keeps are the newest (highest ids): PostgreSQL's full-text index gives
# them in the table's order, mostly oldest first, and the ranking breaks ties newest first,
# so the newest thousand keep far more of an uncapped ranking's first ten (at 300k papers,
# 60 title questions: 0.93 against 0.59, and 0.96 against 0.60 with a category filter).
# Sorting every match by id visits each one's row. Many matches are read from a window of
# the newest ids instead, which the primary key bounds before any row is read (papers
# migration 0017 says why not a BRIN index): sized to hold about WINDOW_MARGIN times the
# cap at the matches' share, widened when it holds fewer. A window costs about
# WINDOW_ID_COST of a row's visit per id in it, so it is taken when it costs less than the
# sort (past about 4,600 matches at 300k papers, 7,400 at a million).
WINDOW_MARGIN = 2.0
WINDOW_GROWTH = 4
WINDOW_ID_COST = 0.02
# A filter that keeps at least this share of the papers is applied when the newest
# matches are ranked, not when they are read (_pg_newest_pool).
BROAD_FILTER_SHARE = 0.25
# Whether a word is common changes slowly with the corpus (and the cap it is measured
# against is part of the key), so each process remembers the answer for a while instead of
# counting up to 10% of the table for every word of every search.
WORD_CACHE_SECONDS = 600.0
WORD_CACHE_SIZE = 20_000
_word_common: dict[tuple[str, int], tuple[float, int]] = {}
# The stored to_tsvector of title and abstract (papers migration 0006).
PG_DOCUMENT = "search_document"


def _paper_count(cursor: CursorWrapper) -> int:
    """How many papers there are, near enough for a share: PostgreSQL's planner estimate
    (kept by ANALYZE and autovacuum) costs nothing, where count(*) scans the table."""
    if connection.vendor == "postgresql":
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'papers_paper'::regclass")
        row = cursor.fetchone()
        if row and row[0] > 0:
            return int(row[0])
    cursor.execute("SELECT count(*) FROM papers_paper")
    return int(cursor.fetchone()[0])


def _pg_common_counts(cursor: CursorWrapper, words: list[str], papers: int) -> dict[str, int]:
    """How many papers hold each of `words` that is common enough for ANALYZE's statistics
    to list (most_common_elems of the tsvector column: every lexeme in more than a percent
    or two of papers), and 0 for a word with no lexeme (a stop word). Counting a common
    word's matches reads thousands of rows of long abstracts, 10 ms and more each at 100k
    papers; a new question of a dozen words spent most of the search box's time there.
    The words left out are rare, and their exact count stays cheap."""
    stats = _lexeme_shares(cursor)
    cursor.execute(
        "SELECT w, array(SELECT lexeme FROM unnest(to_tsvector('english', w))) "
        "FROM unnest(%s::text[]) AS w",
        [words],
    )
    counts = {}
    for word, lexemes in cursor.fetchall():
        if not lexemes:
            counts[word] = 0
        elif len(lexemes) == 1 and lexemes[0] in stats:
            counts[word] = int(stats[lexemes[0]] * papers)
    return counts


def _lexeme_shares(cursor: CursorWrapper) -> dict[str, float]:
    """The share of papers holding each common lexeme, as ANALYZE last counted; kept for
    WORD_CACHE_SECONDS. Empty before the first ANALYZE."""
    now = time.monotonic()
    if _lexeme_stats and now - _lexeme_stats[0][0] < WORD_CACHE_SECONDS:
        return _lexeme_stats[0][1]
    cursor.execute(
        "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
        "WHERE schemaname = current_schema() AND tablename = 'papers_paper' AND attname = %s",
        [PG_DOCUMENT],
    )
    row = cursor.fetchone()
    # The frequencies end with the smallest and largest of them; the lexemes do not.
    shares = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
    _lexeme_stats[:] = [(now, shares)]
    return shares


_lexeme_stats: list[tuple[float, dict[str, float]]] = []


def _distinctive_counts(cursor: CursorWrapper, words: list[str]) -> dict[str, int]:
    """The words found in less than COMMON_SHARE of papers, rarest first and within the
    match budget (empty when all are common), each with its matches: exact within the
    budget, the budget and one more for the rarest word when even it is past the budget.

    A word the column statistics do not list is counted, and only up to the budget: past
    it, it is taken only if it is the rarest, and then how far past does not matter. At a
    million papers counting such a word to COMMON_SHARE read up to 18,000 rows (188 ms of
    the search box's p95). A word too common to be counted within the budget is never
    common by COMMON_SHARE: the statistics list every word in more than a percent or two
    of papers, and those are known without counting."""
    papers = _paper_count(cursor)
    cap = max(int(papers * COMMON_SHARE), 5)
    budget = max(int(papers * MATCH_BUDGET_SHARE), MATCH_BUDGET_MIN)
    counted_upto = min(cap, budget + 1)
    if connection.vendor == "postgresql":
        count_sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM papers_paper "  # noqa: S608
            f"WHERE {PG_DOCUMENT} @@ plainto_tsquery('english', %s) LIMIT %s) hits"
        )
    else:
        count_sql = (
            "SELECT count(*) FROM (SELECT 1 FROM papers_paper_fts "
            "WHERE papers_paper_fts MATCH %s LIMIT %s) hits"
        )
    counts = {}
    now = time.monotonic()
    if len(_word_common) > WORD_CACHE_SIZE:
        _word_common.clear()

    def remembered(word: str) -> int | None:
        known = _word_common.get((word, counted_upto))
        return known[1] if known is not None and now - known[0] < WORD_CACHE_SECONDS else None

    unknown = [word for word in dict.fromkeys(words) if remembered(word) is None]
    if unknown and connection.vendor == "postgresql":
        for word, common in _pg_common_counts(cursor, unknown, papers).items():
            _word_common[(word, counted_upto)] = (now, common)
    for word in dict.fromkeys(words):
        count = remembered(word)
        if count is None:
            # Counting stops past the budget (or at the cap, if lower), so a frequent word
            # costs a bounded index scan.
            term = word if connection.vendor == "postgresql" else f'"{word}"'
            cursor.execute(count_sql, [term, counted_upto])
            count = cursor.fetchone()[0]
            _word_common[(word, counted_upto)] = (now, count)
        # A stop word (no lexeme) or a word no paper holds matches nothing: not a word
        # to rank by.
        if 0 < count < cap:
            counts[word] = count
    rare: dict[str, int] = {}
    matches = 0
    for word in sorted(counts, key=counts.__getitem__):
        if rare and matches + counts[word] > budget:
            break
        rare[word] = counts[word]
        matches += counts[word]
    return rare


def keyword_search(
    query: str,
    limit: int = CANDIDATES,
    within: QuerySet[Paper] | None = None,
    dated: bool = False,
) -> list[int]:
    """Paper ids ranked by full-text relevance: keyword_search_scored without cosines."""
    return [pk for pk, _ in keyword_search_scored(query, limit, within, dated)]


def keyword_search_scored(
    query: str,
    limit: int = CANDIDATES,
    within: QuerySet[Paper] | None = None,
    dated: bool = False,
    cosine: Callable[[], Expression] | None = None,
) -> list[tuple[int, float | None]]:
    """Paper ids ranked by full-text relevance (any of the words; rarer and title matches
    count more), visible papers only, and only those in `within` (the search filters)
    when given: filtering the best matches afterwards would leave none when every one of
    them lies outside the filters, as the newest matches of a common word do for a
    filter on last spring.

    When every word is common, a relevance score says little (PostgreSQL's has no inverse
    document frequency) and would have to be computed for a large share of the table;
    the newest matches come first instead, walked along the primary key, or along the
    date index inside the filter's bounds when they bound the date (`dated`).

    Each id comes with `cosine()` of its paper (an expression on papers, asked for once
    the ranking's last query is built, PostgreSQL only), computed in that query for the
    papers it returns alone; None without it, or where it gives none. The search box
    scores its keyword matches by meaning this way: on their own, after the ranking, the
    same 200 cosines took a second query of 7 ms at a million papers."""
    words = query_words(query)
    if not words:
        return []
    with connection.cursor() as cursor:
        rare = _distinctive_counts(cursor, words)
    if connection.vendor == "postgresql":
        papers = within if within is not None else Paper.objects.visible()
        if rare:
            ranked = _pg_ranked(papers, rare, filtered=within is not None)
        else:
            ranked = _pg_newest(papers, words, dated)
        if cosine is None:
            return [(pk, None) for pk in ranked.values_list("id", flat=True)[:limit]]
        # The cosines are computed after the sort and the limit: PostgreSQL leaves an
        # expensive output expression (a subquery) until the rows are chosen.
        return list(ranked.annotate(cosine=cosine()).values_list("id", "cosine")[:limit])
    found = _sqlite_matches(within, list(rare) or words, limit, bool(rare), dated)
    return [(pk, None) for pk in found]


def _pg_match(tsquery: str) -> RawSQL:
    # The words are a parameter; only the constant column name is formatted in.
    return RawSQL(  # noqa: S611
        f'"papers_paper"."{PG_DOCUMENT}" @@ to_tsquery(\'english\', %s)',
        (tsquery,),
        BooleanField(),
    )


def _pg_ranked(papers: QuerySet[Paper], rare: dict[str, int], filtered: bool) -> QuerySet[Paper]:
    """The best matches of any of the `rare` words by full-text rank, among at most
    RANKED_AT_MOST papers holding every rare word and RANKED_AT_MOST holding any, the
    newest of each (_pg_newest_capped). The filters and the match are one WHERE on the
    papers table. When the rare words' matches are within the cap, no set is cut and both
    are read inside the ranking's one query."""
    tsquery = " | ".join(rare)
    matches = sum(rare.values())
    document = f'"papers_paper"."{PG_DOCUMENT}"'
    rank = RawSQL(f"ts_rank_cd({document}, to_tsquery('english', %s), 1)", (tsquery,))  # noqa: S611
    ranked: QuerySet[Paper]
    if matches <= RANKED_AT_MOST:
        pool = papers.filter(_pg_match(tsquery)).order_by().values("id")
        ranked = Paper.objects.filter(pk__in=pool)
    else:
        ranked = papers.filter(pk__among=_pg_newest_pool(papers, list(rare), filtered))
    return ranked.annotate(rank=rank).order_by("-rank", "-id")


def _pg_newest_pool(papers: QuerySet[Paper], rare: list[str], filtered: bool) -> list[int]:
    """The papers _pg_ranked ranks when the cap cuts: the newest RANKED_AT_MOST holding
    every one of the `rare` words and the newest RANKED_AT_MOST holding any, their ids
    in order. `filtered`: `papers` are narrowed by search filters.

    Every rare word, not every word of the question: the rank counts the rare words
    alone, so a paper lacking a word left out of it ranks as high as one holding it. A
    question with one rare word reads one set; the common words' long lists of matches
    are never walked. At a million papers, 100 title questions, warm: the box's p95 41-45
    ms where it was 50-57, and 41-53 where it was 61-76 with a category filter; its first
    ten agree with the same box ranking every match on 0.874 and 0.905, where they did on
    0.881 and 0.910.

    Filters that keep a large share of the papers (BROAD_FILTER_SHARE) are left to the
    ranking: the sets are the newest matches of every visible paper, as many more as
    the filters keep fewer, and the ranking keeps those within them. In the sets' own
    query the planner met such a filter with its btree's bitmap, hundreds of thousands
    of ids (a category of 55% of a million papers: 64 ms to build, where the matches'
    own bitmap took 1), for few rows saved."""
    # The newest id bounds the windows (an index probe, before index scans are turned off).
    newest = Paper.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with planner_settings() as (cursor, settings):
        # Matches are found through the full-text index, never by walking the primary key
        # and testing each row's document (the planner's choice for a window of a common
        # word: it reads each document from TOAST, 78 ms for 10k rows where the bitmaps
        # of both indexes take 31).
        settings({"enable_indexscan": "off"})
        cap = RANKED_AT_MOST
        if filtered:
            share = planned_rows(cursor, papers) / max(1, _paper_count(cursor))
            if share >= BROAD_FILTER_SHARE:
                papers, filtered = Paper.objects.visible(), False
                cap = int(RANKED_AT_MOST / min(1.0, share))
        every_word, some_word = " & ".join(rare), " | ".join(rare)
        every = _pg_newest_capped(cursor, papers, every_word, newest, cap, filtered)
        # A question of one rare word asks the same of both sets: it is read once (a window
        # of a word in 1% of a million papers is 15-40 ms).
        some = (
            every
            if len(rare) == 1
            else _pg_newest_capped(cursor, papers, some_word, newest, cap, filtered)
        )
    return sorted({*every, *some})


def _pg_newest_capped(
    cursor: CursorWrapper,
    papers: QuerySet[Paper],
    tsquery: str,
    newest: int,
    cap: int,
    filtered: bool,
) -> list[int]:
    """The ids of the `cap` newest of `papers` matching `tsquery`, `newest` the highest id.
    Sorted out of every match, or when that costs less (_windowed), read from a window of
    the newest ids that should hold WINDOW_MARGIN times the cap, and the windows below
    it, each WINDOW_GROWTH times wider, until the cap is reached: the primary key's and
    the full-text index's bitmaps meet before any row is read (a BitmapAnd), so only the
    window's matches are visited. 13,800 matches of one word at a million papers: 81 ms
    sorted, 18 ms windowed.

    Where the newest papers have a full-text index of their own, the sort and the
    windows read those papers first, through it alone: its bitmaps hold only their
    matches, and a window inside it needs none of the primary key. Once they are read
    whole, the read below them is chosen again on how many they held, counted: the
    planner's estimate of words that go together can be far off (three words of a
    title at a million papers: 345 estimated, 3,087 found), and a sort below the newest
    papers then read every match to keep the 73 still wanted.

    How many matches there are is the planner's estimate, filters and every word
    included (planned_rows). The words' own counts overstate it: a question's words
    together in one paper are far fewer than its rarest word, and a category filter
    keeps a share of them, so a window sized on them held too few matches and was
    widened, window after window, down to the oldest id."""
    match = _pg_match(tsquery)
    matches = papers.filter(match).order_by("-id").values_list("id", flat=True)
    if not newest:
        return list(matches[:cap])
    expected = planned_rows(cursor, matches)
    # A sort visits every match of the words, in the filters or not: the filters are
    # tested on the rows (a broad category has no bitmap of its own worth reading).
    visited = expected if not filtered else planned_rows(cursor, Paper.objects.filter(match))
    share = expected / newest
    windowed = _windowed(expected, visited, newest, cap)
    # The newest papers' own index (tracker.papers.newest_text): no read below crosses its
    # first id, so that each one above it is answered there.
    band = newest_text_from()
    band = band if band is not None and 0 < band < newest else None
    found: list[int] = []
    upper = newest
    if band is not None and (
        not windowed or _band_whole(share, newest - band, _window(cap, share))
    ):
        found = list(matches.filter(id__gt=band)[:cap])
        upper = band
        if len(found) >= cap:
            return found
        # Every match past the band is in hand: how densely the matches lie, counted.
        share = len(found) / (newest - band)
        visited = max(visited, share * newest)
        windowed = _window_cheaper(cap - len(found), share, visited / newest, visited)
    if not windowed:
        below = matches if upper == newest else matches.filter(id__lte=upper)
        return found + list(below[: cap - len(found)])
    window = _window(cap - len(found), share)
    while len(found) < cap and upper > 0:
        lower = max(0, upper - window)
        if band is not None and lower < band < upper:
            lower = band
        within = matches.filter(id__gt=lower, id__lte=upper)
        found += within[: cap - len(found)]
        upper = lower
        window *= WINDOW_GROWTH
    return found


def _window(wanted: int, share: float) -> int:
    """The ids of a window that should hold WINDOW_MARGIN times `wanted` matches, where a
    `share` of ids match."""
    return max(wanted, int(wanted * WINDOW_MARGIN / share))


def _band_whole(share: float, band: int, window: int) -> bool:
    """Whether the newest papers' matches cost less read whole from their own index than
    a window of `window` ids of them (a `share` of ids match; the band has `band` ids):
    the band's bitmap brings every match of the band to be visited, the window's only
    its own, after a bitmap of the primary key over its ids. At a million papers, a word
    in 0.3% of papers: 11 ms whole (2,700 matches in the newest 300,000), 23 ms in a
    window of 217,000 ids; a word in 10%: 83 ms whole, 8 ms in a window of 20,000."""
    return share * band <= share * window + window * WINDOW_ID_COST


def _windowed(expected: float, visited: float, papers: int, cap: int) -> bool:
    """Whether the newest `cap` of `expected` matches (within the filters) among `papers`
    cost less read from a window of the newest ids than sorted out of every match, when
    a sort visits `visited` rows (the words' matches, filtered or not)."""
    return expected > cap and _window_cheaper(cap, expected / papers, visited / papers, visited)


def _window_cheaper(wanted: int, share: float, visit_share: float, sorted_visits: float) -> bool:
    """Whether the newest `wanted` matches cost less read from windows of the newest ids
    than sorted out of every match, the sort visiting `sorted_visits` rows: a `share` of
    ids match (within the filters), and a window visits a `visit_share` of its ids (the
    words' matches, filtered or not) after a bitmap of the primary key over them all."""
    if share <= 0:
        return False
    window = _window(wanted, share)
    return window * visit_share + window * WINDOW_ID_COST < sorted_visits


def _pg_newest(papers: QuerySet[Paper], words: list[str], dated: bool) -> QuerySet[Paper]:
    """The newest matches of any of `words`, walked along the primary key, or along the
    date index inside the filter's bounds when they bound the date (`dated`): the filters
    and the match in one WHERE, so the planner can walk an index in order and stop early."""
    matches = papers.filter(_pg_match(" | ".join(words)))
    order = ("-published_at", "-id") if dated else ("-id",)
    return matches.order_by(*order)


def _sqlite_matches(
    within: QuerySet[Paper] | None, words: list[str], limit: int, ranked: bool, dated: bool
) -> list[int]:
    match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
    # The filters apply to each joined paper, one primary-key probe per match. On the
    # full-text table's rowid SQLite would run the MATCH once for every paper they allow,
    # and as an IN list it would first gather every id they allow (25k ids for one
    # category: most of a filtered search at 100k papers).
    scope, params = ("", [])
    if within is not None:
        this_paper = within.order_by().filter(pk=RawSQL("p.id", ())).values("pk")
        sql, scope_params = this_paper.query.sql_with_params()
        scope, params = (f"AND EXISTS ({sql})", list(scope_params))
    with connection.cursor() as cursor:
        if ranked:
            # Ranked inside the full-text table first, then joined: joining every match
            # before the sort cost a row lookup per match (1.5x slower at 100k papers).
            # The over-fetch covers hidden and merged papers among the best matches; with
            # filters every match is joined (the match budget bounds how many there are).
            cursor.execute(
                f"""SELECT p.id FROM (
                    SELECT rowid AS id, bm25(papers_paper_fts, 3.0, 1.0) AS score
                    FROM papers_paper_fts WHERE papers_paper_fts MATCH %s
                    ORDER BY score, rowid DESC LIMIT %s
                ) f JOIN papers_paper p ON p.id = f.id
                WHERE p.hidden = 0 AND p.merged_into_id IS NULL {scope}
                ORDER BY f.score, p.id DESC LIMIT %s""",  # noqa: S608
                [match, -1 if scope else limit * 2 + 50, *params, limit],
            )
        else:
            newest = "p.published_at DESC, p.id DESC" if dated else "p.id DESC"
            cursor.execute(
                f"""SELECT p.id FROM papers_paper_fts f JOIN papers_paper p ON p.id = f.rowid
                WHERE papers_paper_fts MATCH %s AND p.hidden = 0 AND p.merged_into_id IS NULL
                {scope}
                ORDER BY {newest} LIMIT %s""",  # noqa: S608
                [match, *params, limit],
            )
        return [row[0] for row in cursor.fetchall()]


def keyword_caches_forget() -> None:
    """Drop what this process remembered of which words are common."""
    _word_common.clear()
    _lexeme_stats.clear()
    newest_text_forget()
