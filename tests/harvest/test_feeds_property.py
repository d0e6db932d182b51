"""The feed harvester on generated feeds: random titles, links, guids, dates and HTML,
missing and huge fields, broken bytes. It never crashes, and every entry that has a web
link is stored exactly once (a second harvest adds nothing)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import HarvestError
from pipeline.feeds import MAX_TEXT_CHARS, MAX_TITLE_CHARS
from tests.harvest.conftest import feed_source
from tests.harvest.fakes import arxiv_server
from tracker.papers.harvest import source_harvest
from tracker.papers.models import HarvestRun, Paper, PaperSource, RunStatus, Source

pytestmark = pytest.mark.django_db

# Text a well-formed XML document can hold: no surrogates, no control characters.
XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=60,
)
HTML_BITS = st.sampled_from(
    [
        "<b>bold</b>",
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(2)">',
        '<a href="javascript:evil()">x</a>',
        "&amp;",
        "&#0;",
        "&#xD800;",
        "<p>unclosed",
        "arXiv:2501.00001",
        "https://arxiv.org/abs/2502.00002v3",
    ]
)
HTML = st.lists(st.one_of(XML_TEXT, HTML_BITS), max_size=6).map("".join)
# Now and then a field over every cap (the HTML handed to nh3, the text stored).
HUGE = st.sampled_from(["", "", "", "<p>" + "long text " * 25_000 + "</p>"])
DATES = st.one_of(
    st.none(),
    st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S +0000")),
    st.sampled_from(["yesterday", "Mon, 31 Feb 2025 25:61:00 +9999", "0000-00-00", ""]),
)
# A few links shared by several entries (release notes made from one page), and some
# entries with no link at all.
LINKS = st.one_of(
    st.none(),
    st.sampled_from(["https://lab.example/notes", "http://lab.example/blog?x=1&y=2"]),
    st.from_regex(r"https://[a-z]{1,8}\.example/[a-z0-9\-/]{0,20}", fullmatch=True),
)


@dataclass
class Entry:
    title: str
    link: str | None
    guid: str | None
    date: str | None
    html: str


@st.composite
def entries(draw: st.DrawFn) -> list[Entry]:
    found = draw(
        st.lists(
            st.builds(Entry, title=XML_TEXT, link=LINKS, guid=st.none(), date=DATES, html=HTML),
            max_size=8,
        )
    )
    for number, entry in enumerate(found):
        # Every entry gets a guid of its own, so entries that share a link stay distinct.
        entry.guid = f"tag:lab.example,2025:{number}-{draw(XML_TEXT)}"
        entry.html += draw(HUGE)
    return found


def rss(items: list[Entry]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>L</title>']
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.link is not None:
            parts.append(f"<link>{escape(item.link)}</link>")
        parts.append(f'<guid isPermaLink="false">{escape(item.guid or "")}</guid>')
        if item.date is not None:
            parts.append(f"<pubDate>{escape(item.date)}</pubDate>")
        parts.append(f"<description>{escape(item.html)}</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


_names = itertools.count()


@pytest.fixture
def fresh(feeds: dict[str, bytes], settings) -> Iterator[dict[str, bytes]]:  # type: ignore[no-untyped-def]
    """The feed server, and an arXiv on loopback that knows no paper (ids in the text)."""
    with arxiv_server([]) as (server, _):
        settings.ARXIV_API_URL = f"{server.url}/api/query"
        yield feeds


def _new_source(feeds: dict[str, bytes], body: bytes) -> Source:
    # Examples share the test's database: each starts from an empty corpus.
    Paper.objects.all().delete()
    n = next(_names)
    return feed_source(feeds, f"/feed-{n}.xml", body, lab=f"Lab {n}")


EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@EXAMPLES
@given(items=entries())
def test_every_entry_with_a_link_is_stored_once(
    fresh: dict[str, bytes], items: list[Entry]
) -> None:
    source = _new_source(fresh, rss(items))
    linked = [item for item in items if item.link is not None]
    unlinked = len(items) - len(linked)

    if not items:
        # An empty channel is a feed with nothing in it, not an error.
        run = source_harvest(source)
        assert run.status == RunStatus.SUCCEEDED and run.fetched == 0
        return
    run = source_harvest(source)
    again = source_harvest(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.fetched, run.new, run.skipped) == (len(items), len(linked), unlinked)
    assert (again.new, again.skipped) == (0, unlinked)
    reports = Paper.objects.filter(paper_sources__source=source)
    assert reports.count() == len(linked)
    assert PaperSource.objects.filter(source=source).count() == len(linked)
    for paper in reports:
        assert len(paper.title) <= MAX_TITLE_CHARS and len(paper.abstract) <= MAX_TEXT_CHARS
        assert "<script" not in paper.abstract and "\x00" not in paper.abstract


BREAKAGE = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [b"\xff\xfe", b"\x00", b"\xc3", b"\xed\xa0\x80", b"<![CDATA[", b"]]>", b"<!DOCTYPE x>"]
    ),
)


@EXAMPLES
@given(
    items=entries(),
    breaks=st.lists(st.tuples(st.floats(0, 1), BREAKAGE), max_size=4),
    encoding=st.sampled_from(["utf-8", "iso-8859-1", "utf-16", "bogus-encoding"]),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_broken_feeds_never_crash_the_harvest(
    fresh: dict[str, bytes],
    items: list[Entry],
    breaks: list[tuple[float, bytes]],
    encoding: str,
    cut: float | None,
) -> None:
    body = rss(items).replace(b'encoding="utf-8"', f'encoding="{encoding}"'.encode(), 1)
    for where, junk in breaks:
        at = int(where * len(body))
        body = body[:at] + junk + body[at:]
    if cut is not None:
        body = body[: int(cut * len(body))]
    source = _new_source(fresh, body)

    try:
        run = source_harvest(source)
    except HarvestError as exc:
        # The one failure a feed may give: it is not a feed at all.
        assert "is not an RSS/Atom feed" in str(exc)
        assert HarvestRun.objects.get(source=source).status == RunStatus.FAILED
        return
    assert run.status == RunStatus.SUCCEEDED
    stored = PaperSource.objects.filter(source=source).count()
    assert run.new <= stored <= run.fetched - run.skipped
