"""Operating the harvest: add_paper (command and form), the Sources page, the tasks that
claim due sources, and the first-run defaults."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from pipeline.http import FETCH_FAILED
from tests.conftest import Cast, client_for
from tests.factories import SourceFactory
from tests.harvest.fakes import ArxivListing, FakeServer, Reply, Request
from tracker.papers.models import HarvestRun, Paper, PaperKind, RunStatus, Source
from tracker.papers.services import DEFAULT_FEED_SOURCES, source_defaults_ensure
from workers import tasks

pytestmark = pytest.mark.django_db

PAGE = b"""<!doctype html><html><head><title>ignored</title>
<meta property="og:title" content="Qwen3-Max: Just Scale it">
<meta name="description" content="Our &lt;b&gt;largest&lt;/b&gt; model.">
</head><body>text</body></html>"""


@pytest.fixture
def web(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    def respond(request: Request) -> Reply:
        if request.path == "/report/":
            return Reply(body=PAGE, headers={"Content-Type": "text/html"})
        if request.path == "/moved":
            return Reply(status=302, headers={"Location": "/report/"})
        return Reply(status=404)

    settings.FETCH_ALLOW_PRIVATE = True
    with FakeServer(respond) as server:
        yield server.url


def test_add_paper_by_arxiv_id_and_url(arxiv: tuple[FakeServer, ArxivListing]) -> None:
    out = io.StringIO()
    call_command("add_paper", "arXiv:2202.12139v1", stdout=out)
    call_command("add_paper", "https://arxiv.org/abs/2202.12139", stdout=out)
    assert "Added arxiv" in out.getvalue() and "Already stored" in out.getvalue()
    assert Paper.objects.get().arxiv_id == "2202.12139"
    with pytest.raises(CommandError, match=r"arXiv has no paper 2401\.99999"):
        call_command("add_paper", "2401.99999")
    with pytest.raises(CommandError, match="give an arXiv id"):
        call_command("add_paper", "not a thing")


def test_add_paper_by_page_url_makes_a_lab_report(web: str) -> None:
    call_command("add_paper", f"{web}/moved", stdout=io.StringIO())
    report = Paper.objects.get()
    assert report.kind == PaperKind.LAB_REPORT
    assert report.title == "Qwen3-Max: Just Scale it"
    assert report.abstract == "Our largest model."
    assert report.canonical_url == f"{web}/report/"


def test_add_paper_refuses_loopback_urls_by_default(web: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FETCH_ALLOW_PRIVATE = False
    with pytest.raises(CommandError, match=FETCH_FAILED):
        call_command("add_paper", f"{web}/report/")


def test_add_paper_form(cast: Cast, web: str) -> None:
    client = client_for(cast.ben)
    response = client.post(reverse("papers:add"), {"id_or_url": f"{web}/report/"})
    paper = Paper.objects.get()
    assert response.status_code == 302 and response.url == reverse("papers:detail", args=[paper.pk])

    response = client.post(reverse("papers:add"), {"id_or_url": f"{web}/nothing"})
    assert response.status_code == 400 and FETCH_FAILED.encode() in response.content


def _sources_page_queries(client) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("papers:sources"))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def _source_with_runs(n: int) -> None:
    source = SourceFactory(name=f"src {n}")
    HarvestRun.objects.create(source=source, status=RunStatus.SUCCEEDED, new=3 + n)
    HarvestRun.objects.create(source=source, status=RunStatus.FAILED, error=f"failed <{n}>")


def test_sources_page_shows_runs_and_failures_in_a_fixed_number_of_queries(cast: Cast) -> None:
    client = client_for(cast.ben)
    _source_with_runs(0)
    client.get(reverse("papers:sources"))  # the session and team lookups settle first
    few, _ = _sources_page_queries(client)
    for n in range(1, 6):
        _source_with_runs(n)
    many, page = _sources_page_queries(client)

    assert few == many
    assert "failed &lt;5&gt;" in page and "new 8" in page


def test_a_refused_paper_keeps_the_sources_table_whole(cast: Cast, web: str) -> None:
    """The form's error comes back on the Sources page with its sources and runs listed,
    not an empty table under the message."""
    _source_with_runs(0)
    _source_with_runs(1)
    client = client_for(cast.ben)

    for refused in ("not a thing", f"{web}/nothing"):
        response = client.post(reverse("papers:add"), {"id_or_url": refused})
        page = response.content.decode()
        assert response.status_code == 400
        assert "src 0" in page and "src 1" in page and "failed &lt;1&gt;" in page


def test_sources_page_needs_a_login(db: None) -> None:
    from django.test import Client

    response = Client().get(reverse("papers:sources"))
    assert response.status_code == 302


def test_due_sources_are_claimed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.harvest_source_task, "delay", queued.append)
    due = SourceFactory()
    SourceFactory(enabled=False)

    assert tasks.harvest_due_sources_task() == [due.pk]
    assert tasks.harvest_due_sources_task() == []
    assert queued == [due.pk]


def test_harvest_task_skips_a_missing_or_disabled_source() -> None:
    assert tasks.harvest_source_task(987654) is None
    assert tasks.harvest_source_task(SourceFactory(enabled=False).pk) is None


def test_harvest_task_retries_only_transient_errors() -> None:
    from pipeline.errors import HarvestError, TransientHarvestError

    task = tasks.harvest_source_task
    assert task.autoretry_for == (TransientHarvestError,)
    assert task.retry_jitter and task.retry_backoff
    assert HarvestError in task.throws


def test_harvest_task_runs_one_harvest(arxiv: tuple[FakeServer, ArxivListing]) -> None:
    source = SourceFactory(query="all:testing", window_days=10950)
    run_id = tasks.harvest_source_task(source.pk)
    assert HarvestRun.objects.get(pk=run_id).new == 100


def test_bootstrap_creates_default_sources_once_and_queues_their_harvest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker.portal.management.commands import bootstrap

    queued: list[bool] = []
    monkeypatch.setattr(bootstrap.harvest_due_sources_task, "delay", lambda: queued.append(True))
    call_command("bootstrap", stdout=io.StringIO())
    call_command("bootstrap", stdout=io.StringIO())

    names = set(Source.objects.values_list("name", flat=True))
    assert {name for name, _, _ in DEFAULT_FEED_SOURCES} <= names
    arxiv = Source.objects.get(kind="arxiv")
    assert arxiv.query == "cat:cs.CL OR cat:cs.LG OR cat:cs.AI OR cat:cs.CV"
    assert Source.objects.get(name="Qwen blog").url == "https://qwenlm.github.io/blog/index.xml"
    assert queued == [True]
    assert source_defaults_ensure() == []


def test_politeness_gate_spaces_requests_across_callers(
    monkeypatch: pytest.MonkeyPatch,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    import time

    from django.core.cache import cache

    from pipeline import http as fetch
    from tracker.core.fetching import CacheGate

    monkeypatch.setattr(fetch, "sleep", time.sleep)
    cache.delete("politeness-gate:test")
    started = time.monotonic()
    for _ in range(3):
        fetch.politeness_wait("test", 1.0, CacheGate())
    assert time.monotonic() - started >= 1.9


def test_enqueueing_a_harvest_waits_for_the_commit(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    from django.db import transaction

    from tracker.papers.services import source_harvest_enqueue

    sent: list[int] = []
    monkeypatch.setattr(tasks.harvest_source_task, "delay", sent.append)
    source = SourceFactory()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        source_harvest_enqueue(source)
        assert sent == []
    assert sent == [source.pk]
