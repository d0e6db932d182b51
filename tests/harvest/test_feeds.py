"""Lab feeds replayed on loopback: lab reports, arXiv attachments, duplicate candidates,
sanitised text, and the refusal of private addresses."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.db import DataError
from django.urls import reverse
from django.utils import timezone

from pipeline.errors import HarvestError, RefusedURLError
from pipeline.feeds import html_to_text
from pipeline.http import FETCH_FAILED, safe_get
from tests.conftest import Cast, client_for
from tests.factories import PaperFactory
from tests.harvest.conftest import feed_source
from tests.harvest.fakes import FakeServer, Reply, arxiv_server
from tracker.core.fetching import fetch_config
from tracker.papers.duplicates import normalize_title
from tracker.papers.harvest import feed_url_validate, source_harvest
from tracker.papers.models import (
    DuplicateCandidate,
    HarvestRun,
    Paper,
    PaperKind,
    PaperSource,
    RunStatus,
)
from tracker.search.filters import SearchFilters
from tracker.search.fusion import search

pytestmark = pytest.mark.django_db

SMALL_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Lab</title><link>https://lab.example/</link>
<item><title>Our &lt;b&gt;new&lt;/b&gt; model</title><link>https://lab.example/new-model/</link>
<pubDate>Tue, 23 Sep 2025 04:00:00 +0800</pubDate>
<description>&lt;p&gt;Fast &amp;amp; small.&lt;script&gt;alert(1)&lt;/script&gt;
&lt;img src=x onerror=alert(2)&gt;
&lt;a href="javascript:evil()"&gt;read&lt;/a&gt;&lt;/p&gt;</description>
</item></channel></rss>"""


def test_qwen_feed_becomes_lab_reports_once(feeds: dict[str, bytes], shared_data: Path) -> None:
    body = (shared_data / "feeds" / "qwen" / "index.xml").read_bytes()
    source = feed_source(feeds, "/blog/index.xml", body, lab="Qwen")

    run = source_harvest(source)
    again = source_harvest(source)

    assert (run.status, run.fetched, run.new) == (RunStatus.SUCCEEDED, 44, 44)
    assert (again.status, again.new) == (RunStatus.SUCCEEDED, 0)
    reports = Paper.objects.filter(kind=PaperKind.LAB_REPORT)
    assert reports.count() == 44 and set(reports.values_list("lab", flat=True)) == {"Qwen"}
    guard = reports.get(canonical_url="https://qwenlm.github.io/blog/qwen3guard/")
    assert guard.title == "Qwen3Guard: Real-time Safety for Your Token Stream"
    assert guard.published_at.isoformat() == "2025-09-22T20:00:00+00:00"
    assert "<" not in guard.abstract and guard.abstract.startswith("Tech Report GitHub")
    assert PaperSource.objects.filter(source=source).count() == 44


Lookup = tuple[FakeServer, Callable[[list[str]], None]]
ELEUTHER_SERVED = ["2508.06601", "2407.06483", "2507.06378"]
ELEUTHER_MISSED = "2506.23869"


@pytest.fixture
def lookup(
    entries: list[bytes],
    settings,  # type: ignore[no-untyped-def]
) -> Iterator[Lookup]:
    """The arXiv API a feed's lookups reach, and a call that sets which ids it knows (a
    recorded entry re-labelled with each id)."""
    text = entries[0].decode()
    old_id = text.split("/abs/")[1].split("<")[0]
    with arxiv_server([]) as (server, listing):
        settings.ARXIV_API_URL = f"{server.url}/api/query"
        yield (
            server,
            lambda ids: listing.replace([text.replace(old_id, f"{i}v1").encode() for i in ids]),
        )


def _eleuther_source(feeds: dict[str, bytes], shared_data: Path):  # type: ignore[no-untyped-def]
    body = (shared_data / "feeds" / "labs" / "feed_eleuther_papers.xml").read_bytes()
    return feed_source(feeds, "/eleuther.xml", body, lab="EleutherAI")


def test_feed_entries_linking_to_arxiv_attach_to_the_arxiv_paper(
    feeds: dict[str, bytes], shared_data: Path, lookup: Lookup
) -> None:
    source = _eleuther_source(feeds, shared_data)
    stored = PaperFactory(arxiv_id="2601.04301", title="Quantifying the Effect of Test Set")
    # arXiv answers for three of the four papers it is asked about, and misses the last.
    lookup[1](ELEUTHER_SERVED)
    run = source_harvest(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    attached = PaperSource.objects.filter(source=source)
    assert stored.pk in set(attached.values_list("paper_id", flat=True))
    assert {"2601.04301", *ELEUTHER_SERVED} <= set(Paper.objects.values_list("arxiv_id", flat=True))
    assert Paper.objects.filter(arxiv_id="2601.04301").count() == 1
    # The entry arXiv missed is not dropped: a lab report that keeps its arXiv id.
    waiting = Paper.objects.get(kind=PaperKind.LAB_REPORT)
    assert waiting.arxiv_link == ELEUTHER_MISSED and waiting.lab == "EleutherAI"
    assert waiting.title.startswith("Scaling Self-Supervised Representation Learning")
    assert attached.count() == 5 and run.fetched == 5
    assert "1 entry kept as a lab report until arXiv has its paper" in run.notes


def _import_line(tmp_path: Path, arxiv_id: str, title: str) -> None:
    line = {"id": arxiv_id, "categories": ["cs.SD"], "authors": ["A. Author"], "title": title}
    path = tmp_path / "2025-07-01.jsonl"
    path.write_text(json.dumps({**line, "summary": "An abstract."}) + "\n", encoding="utf-8")
    call_command("import_papers", str(path), "--no-progress", stdout=io.StringIO())


def test_a_waiting_feed_entry_joins_its_arxiv_paper_when_it_is_imported(
    feeds: dict[str, bytes], shared_data: Path, lookup: Lookup, tmp_path: Path, cast: Cast
) -> None:
    source = _eleuther_source(feeds, shared_data)
    lookup[1](["2601.04301", *ELEUTHER_SERVED])
    source_harvest(source)
    report = Paper.objects.get(kind=PaperKind.LAB_REPORT)
    page = client_for(cast.ben).get(reverse("papers:sources")).content.decode()
    assert "1 lab report stored, waiting for its arXiv paper" in page

    _import_line(tmp_path, ELEUTHER_MISSED, "Scaling Self-Supervised Representation Learning")

    paper = Paper.objects.get(arxiv_id=ELEUTHER_MISSED)
    report.refresh_from_db()
    # One paper with two sources: the feed's entry now lists the arXiv paper.
    assert report.merged_into_id == paper.pk
    assert PaperSource.objects.get(source=source, paper=paper).url == (
        f"https://arxiv.org/abs/{ELEUTHER_MISSED}"
    )
    assert list(Paper.objects.visible().filter(kind=PaperKind.LAB_REPORT)) == []
    page = client_for(cast.ben).get(reverse("papers:sources")).content.decode()
    assert 'class="muted waiting"' not in page

    # The next harvest attaches the entry to the same source row and stores nothing new.
    again = source_harvest(source)
    assert (again.status, again.new) == (RunStatus.SUCCEEDED, 0)
    assert PaperSource.objects.filter(source=source).count() == 5
    assert Paper.objects.filter(kind=PaperKind.LAB_REPORT).count() == 1


def test_a_waiting_feed_entry_joins_its_arxiv_paper_added_by_hand(
    feeds: dict[str, bytes], shared_data: Path, lookup: Lookup
) -> None:
    from tracker.papers.harvest import paper_add

    source = _eleuther_source(feeds, shared_data)
    lookup[1](["2601.04301", *ELEUTHER_SERVED])
    source_harvest(source)
    lookup[1]([ELEUTHER_MISSED])
    paper, created = paper_add(f"https://arxiv.org/abs/{ELEUTHER_MISSED}")

    assert created
    report = Paper.objects.get(kind=PaperKind.LAB_REPORT)
    assert report.merged_into_id == paper.pk
    assert set(paper.paper_sources.values_list("source", flat=True)) == {source.pk}


def test_feed_entries_are_stored_while_arxiv_is_down_and_linked_when_it_answers(
    feeds: dict[str, bytes], shared_data: Path, lookup: Lookup
) -> None:
    source = _eleuther_source(feeds, shared_data)
    stored = PaperFactory(arxiv_id="2601.04301", title="Quantifying the Effect of Test Set")
    missing = [*ELEUTHER_SERVED, ELEUTHER_MISSED]
    api, knows = lookup
    knows(missing)
    api.fault(Reply(status=503, body=b"down"), times=None)
    offline = source_harvest(source)

    assert offline.status == RunStatus.SUCCEEDED, offline.error
    assert (offline.fetched, offline.new) == (5, 4)
    assert "arXiv lookup failed" in offline.notes
    waiting = Paper.objects.waiting_for_arxiv()
    assert sorted(waiting.values_list("arxiv_link", flat=True)) == sorted(missing)
    assert PaperSource.objects.get(source=source, paper=stored)

    api.faults.clear()
    online = source_harvest(source)

    assert online.status == RunStatus.SUCCEEDED, online.error
    assert not Paper.objects.waiting_for_arxiv().exists()
    for arxiv_id in missing:
        paper = Paper.objects.get(arxiv_id=arxiv_id)
        assert paper.paper_sources.filter(source=source).count() == 1
        assert paper.merged_papers.get().arxiv_link == arxiv_id
    assert Paper.objects.visible().count() == 5


def test_title_match_makes_a_duplicate_candidate_not_a_merge(
    feeds: dict[str, bytes], shared_data: Path
) -> None:
    title = "Qwen3Guard:  real-time safety for your token stream!"
    arxiv_paper = PaperFactory(title=title, normalized_title=normalize_title(title))
    body = (shared_data / "feeds" / "qwen" / "index.xml").read_bytes()
    source_harvest(feed_source(feeds, "/q.xml", body, lab="Qwen"))

    report = Paper.objects.get(canonical_url="https://qwenlm.github.io/blog/qwen3guard/")
    candidate = DuplicateCandidate.objects.get()
    assert {candidate.paper_a_id, candidate.paper_b_id} == {arxiv_paper.pk, report.pk}
    assert candidate.reason == "title"
    assert report.merged_into is None and arxiv_paper.pk != report.pk


def test_feed_html_is_stored_as_sanitised_plain_text(feeds: dict[str, bytes]) -> None:
    source_harvest(feed_source(feeds, "/small.xml", SMALL_FEED))
    report = Paper.objects.get()
    assert report.title == "Our new model"
    assert report.abstract == "Fast & small. read"
    assert html_to_text("<script>x()</script><style>p{}</style>ok") == "ok"


def test_feed_url_on_loopback_is_refused_unless_allowed(
    feeds: dict[str, bytes],
    settings,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = feed_source(feeds, "/small.xml", SMALL_FEED)
    settings.FETCH_ALLOW_PRIVATE = False

    with pytest.raises(RefusedURLError):
        source_harvest(source)

    run = HarvestRun.objects.get()
    assert run.status == RunStatus.FAILED
    # The run says only that the fetch failed; why is in the log, for whoever runs the server.
    assert run.error == FETCH_FAILED
    assert "private or loopback" in caplog.text and "FETCH_ALLOW_PRIVATE" in caplog.text
    assert not Paper.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000/feed.xml",
        "http://127.0.0.1/feed.xml",
        "http://10.1.2.3/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/feed.xml",
        "http://[::ffff:127.0.0.1]/feed.xml",
        "file:///etc/passwd",
    ],
)
def test_private_addresses_and_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(RefusedURLError):
        safe_get(url, fetch_config())


def test_feed_url_validation(feeds: dict[str, bytes]) -> None:
    feeds["/small.xml"] = SMALL_FEED
    base = feeds["__url__"].decode()
    assert feed_url_validate(f"{base}/small.xml").entries == 1
    with pytest.raises(HarvestError, match=FETCH_FAILED):
        feed_url_validate(f"{base}/missing.xml")
    feeds["/page.html"] = b"<html><body>not a feed</body></html>"
    with pytest.raises(HarvestError, match="not an RSS/Atom feed"):
        feed_url_validate(f"{base}/page.html")


def _rss(items: list[str]) -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Lab</title>'
    return (head + "".join(items) + "</channel></rss>").encode()


def _release(n: int, *, link: str = "https://lab.example/release-notes", guid: str = "") -> str:
    guid = guid or f"release-{n}"
    return (
        f"<item><title>Model {n} released</title><link>{link}</link>"
        f'<guid isPermaLink="false">{guid}</guid>'
        f"<pubDate>Mon, {n:02d} Sep 2025 10:00:00 +0000</pubDate>"
        f"<description>Notes for model {n}.</description></item>"
    )


def test_release_notes_sharing_one_link_are_distinct_reports(feeds: dict[str, bytes]) -> None:
    source = feed_source(feeds, "/releases.xml", _rss([_release(n) for n in range(1, 20)]))

    run = source_harvest(source)
    again = source_harvest(source)

    assert (run.status, run.fetched, run.new) == (RunStatus.SUCCEEDED, 19, 19)
    assert (again.status, again.new) == (RunStatus.SUCCEEDED, 0)
    reports = Paper.objects.filter(kind=PaperKind.LAB_REPORT)
    assert sorted(reports.values_list("title", flat=True)) == sorted(
        f"Model {n} released" for n in range(1, 20)
    )
    seven = reports.get(title="Model 7 released")
    assert seven.abstract == "Notes for model 7."
    # The key still opens the release-notes page.
    assert seven.canonical_url == "https://lab.example/release-notes#release-7"
    assert PaperSource.objects.filter(source=source).count() == 19

    # The page's feed later keeps one entry: it is still the same report.
    feeds["/releases.xml"] = _rss([_release(19)])
    assert source_harvest(source).new == 0
    assert reports.count() == 19


def test_an_entry_alone_on_its_link_keeps_its_report_when_others_join_it(
    feeds: dict[str, bytes],
) -> None:
    first = _release(1, guid="https://lab.example/release-notes")
    source = feed_source(feeds, "/releases.xml", _rss([first]))
    source_harvest(source)
    stored = Paper.objects.get()
    assert stored.canonical_url == "https://lab.example/release-notes"

    feeds["/releases.xml"] = _rss([first, _release(2), _release(3)])
    run = source_harvest(source)

    assert run.new == 2
    assert Paper.objects.get(title="Model 1 released").pk == stored.pk
    assert Paper.objects.count() == 3
    assert source_harvest(source).new == 0


def test_an_oversized_entry_is_capped_and_a_bad_entry_is_skipped_with_its_reason(
    feeds: dict[str, bytes],
) -> None:
    # 2.3 MB of distinct words: PostgreSQL refuses a full-text document of them (over 1 MB).
    huge = "<p>&amp; " + " ".join(f"word{n}" for n in range(250_000)) + "</p>"
    items = [
        _release(1, link="https://lab.example/a"),
        f"<item><title>Huge</title><link>https://lab.example/huge</link>"
        f"<description>{html.escape(huge)}</description></item>",
        "<item><title>No link at all</title><description>lost</description></item>",
        _release(2, link="https://lab.example/b"),
    ]
    source = feed_source(feeds, "/big.xml", _rss(items))
    assert len(feeds["/big.xml"]) > 2_000_000

    run = source_harvest(source)
    again = source_harvest(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.fetched, run.new, run.skipped) == (4, 3, 1)
    assert "entry 3 ('No link at all') skipped: no http(s) link" in run.notes
    assert (again.status, again.new, again.skipped) == (RunStatus.SUCCEEDED, 0, 1)
    from pipeline.feeds import MAX_TEXT_CHARS

    report = Paper.objects.get(title="Huge")
    assert len(report.abstract) <= MAX_TEXT_CHARS
    assert report.abstract.startswith("& word0 word1 word2")
    assert [hit.paper.pk for hit in search("Huge", SearchFilters(), limit=5)] == [report.pk]


def test_an_entry_the_database_refuses_is_skipped_and_the_others_are_stored(
    feeds: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.papers import harvest as feed_module

    real = feed_module.lab_report_upsert

    def refuse_one(record, **kwargs):  # type: ignore[no-untyped-def]
        if record.title == "Model 2 released":
            raise DataError("value too long for type character varying(120)")
        return real(record, **kwargs)

    monkeypatch.setattr(feed_module, "lab_report_upsert", refuse_one)
    links = [f"https://lab.example/{n}" for n in range(1, 4)]
    source = feed_source(feeds, "/f.xml", _rss([_release(n, link=links[n - 1]) for n in (1, 2, 3)]))

    run = source_harvest(source)

    assert run.status == RunStatus.SUCCEEDED and (run.new, run.skipped) == (2, 1)
    assert "entry 2 ('Model 2 released') skipped: value too long" in run.notes
    assert set(Paper.objects.values_list("title", flat=True)) == {
        "Model 1 released",
        "Model 3 released",
    }


def test_a_stray_byte_in_the_encoding_declaration_loses_no_entry(feeds: dict[str, bytes]) -> None:
    """Found by the property test: feedparser raised on the declaration's encoding name."""
    body = _rss([_release(1, link="https://lab.example/a")]).replace(
        b'encoding="utf-8"', b'encoding="ut\x80f-8"'
    )
    run = source_harvest(feed_source(feeds, "/odd.xml", body))

    assert (run.status, run.new) == (RunStatus.SUCCEEDED, 1)
    assert Paper.objects.get().title == "Model 1 released"


def test_a_join_a_curator_undid_is_not_redone(
    feeds: dict[str, bytes], shared_data: Path, lookup: Lookup, tmp_path: Path
) -> None:
    from tracker.papers.merge import paper_merge_undo
    from tracker.papers.models import PaperMerge

    source = _eleuther_source(feeds, shared_data)
    lookup[1](["2601.04301", *ELEUTHER_SERVED])
    source_harvest(source)
    _import_line(tmp_path, ELEUTHER_MISSED, "Scaling Self-Supervised Representation Learning")
    paper_merge_undo(PaperMerge.objects.get(), by=None)

    source_harvest(source)

    report = Paper.objects.get(kind=PaperKind.LAB_REPORT)
    assert report.merged_into_id is None
    assert not Paper.objects.waiting_for_arxiv().exists()
    assert PaperMerge.objects.get().undone_at is not None


class Killed(BaseException):
    """The worker dying mid-feed: nothing in the harvest catches it."""


def _killed_on(real, calls: int, when):  # type: ignore[no-untyped-def]
    """`real`, raising Killed on the `calls`-th call for which `when(kwargs)` holds."""
    seen = []

    def call(*args, **kwargs):  # type: ignore[no-untyped-def]
        if when(kwargs):
            seen.append(1)
            if len(seen) == calls:
                raise Killed
        return real(*args, **kwargs)

    return call


@pytest.mark.parametrize("dies", ["storing", "counting"])
def test_a_run_killed_mid_feed_counts_what_it_stored_and_the_next_run_the_rest(
    feeds: dict[str, bytes],
    lookup: Lookup,
    monkeypatch: pytest.MonkeyPatch,
    settings,  # type: ignore[no-untyped-def]
    dies: str,
) -> None:
    from tracker.papers import harvest as feed_module

    items = [_release(n, link=f"https://lab.example/{n}") for n in range(1, 6)]
    on_arxiv = "<item><title>Our paper</title><link>https://arxiv.org/abs/2508.06601</link></item>"
    source = feed_source(feeds, "/f.xml", _rss([on_arxiv, *items]))
    lookup[1](["2508.06601"])
    if dies == "storing":
        # Killed as the third report is being stored.
        killer = _killed_on(feed_module.lab_report_upsert, 3, lambda kwargs: True)
        monkeypatch.setattr(feed_module, "lab_report_upsert", killer)
    else:
        # Killed as the second report is counted: the arXiv paper's count was the first.
        killer = _killed_on(feed_module.harvest_run_progress, 3, lambda kw: kw.get("new"))
        monkeypatch.setattr(feed_module, "harvest_run_progress", killer)

    with pytest.raises(Killed):
        source_harvest(source)

    killed = HarvestRun.objects.get()
    stored = Paper.objects.count()
    assert stored == (3 if dies == "storing" else 2)  # the arXiv paper and the reports
    assert (killed.status, killed.fetched, killed.new) == (RunStatus.RUNNING, 6, stored)
    monkeypatch.undo()
    # The next run, once the killed one's heartbeat is old enough for it to be reaped.
    later = timezone.now() + timedelta(seconds=settings.HARVEST_RUN_LOST_SECONDS + 60)
    with time_machine.travel(later, tick=False):
        run = source_harvest(source)
    assert HarvestRun.objects.get(pk=killed.pk).status == RunStatus.FAILED
    assert (run.status, run.new) == (RunStatus.SUCCEEDED, 6 - stored)
    assert HarvestRun.objects.get(pk=run.pk).new == 6 - stored
    assert Paper.objects.count() == 6
