"""Sources are tried before they are saved; "harvest now" queues the harvest after commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pipeline.errors import RefusedURLError
from pipeline.http import FETCH_FAILED, safe_get
from tests.conftest import Cast
from tests.factories import SourceFactory
from tracker.core.fetching import fetch_config
from tracker.papers.models import HarvestRun, RunStatus, Source, SourceKind
from tracker.papers.source_checks import source_check

OPENSEARCH = (
    b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:o="http://a9.com/-/spec/opensearch/1.1/">'
    b"<title>ArXiv Query</title><o:totalResults>1</o:totalResults>"
    b"<o:startIndex>0</o:startIndex><o:itemsPerPage>1</o:itemsPerPage>"
)
ATOM_OK = (
    OPENSEARCH
    + b"<entry><id>http://arxiv.org/abs/2401.00001v1</id><title>A paper</title></entry></feed>"
)
ATOM_ERROR = (
    OPENSEARCH
    + b"<entry><id>http://arxiv.org/api/errors#incorrect_id_format</id><title>Error</title>"
    + b"<summary>malformed query: unbalanced parentheses</summary></entry></feed>"
)
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Lab blog</title>
<item><title>Our new model</title><link>https://lab.example/post</link></item></channel></rss>"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/api/query"):
            body = ATOM_ERROR if "bad" in self.path else ATOM_OK
        elif self.path == "/feed.xml":
            body = RSS
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/feed.xml")
            self.end_headers()
            return
        elif self.path == "/huge":
            body = b"x" * 5000
        elif self.path == "/page.html":
            body = b"<html><body>not a feed</body></html>"
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    settings.FETCH_ALLOW_PRIVATE = True
    settings.ARXIV_API_URL = base + "/api/query"
    settings.FETCH_MAX_BYTES = 4096
    settings.FETCH_TIMEOUT_SECONDS = 5
    settings.ARXIV_DELAY_SECONDS = 0
    yield base
    httpd.shutdown()
    httpd.server_close()


def test_arxiv_query_is_tried_and_its_error_shown(server: str, db: None) -> None:
    source_check(Source(kind=SourceKind.ARXIV, query="cat:cs.CL"))
    with pytest.raises(ValidationError) as caught:
        source_check(Source(kind=SourceKind.ARXIV, query="bad (query"))
    assert "unbalanced parentheses" in str(caught.value.message_dict["query"])


def test_feed_is_fetched_following_redirects_within_the_size_cap(server: str) -> None:
    source_check(Source(kind=SourceKind.FEED, url=server + "/feed.xml"))
    source_check(Source(kind=SourceKind.FEED, url=server + "/moved"))
    for path, reason in [
        ("/huge", FETCH_FAILED),
        ("/page.html", "not an RSS"),
        ("/x", FETCH_FAILED),
    ]:
        with pytest.raises(ValidationError) as caught:
            source_check(Source(kind=SourceKind.FEED, url=server + path))
        assert reason in str(caught.value.message_dict["url"])


def test_private_and_loopback_addresses_are_refused_by_default(server: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FETCH_ALLOW_PRIVATE = False
    for url in (server + "/feed.xml", "http://10.0.0.1/feed", "http://[::1]/feed"):
        with pytest.raises(RefusedURLError):
            safe_get(url, fetch_config())
    with pytest.raises(RefusedURLError, match="http and https"):
        safe_get("file:///etc/passwd", fetch_config())


def test_admin_form_shows_the_fetch_error_and_saves_nothing(server: str, curator: Client) -> None:
    data = {
        "name": "Lab blog",
        "kind": SourceKind.FEED,
        "url": server + "/page.html",
        "enabled": "on",
        "interval_minutes": 360,
        "window_days": 7,
    }
    response = curator.post("/admin/papers/source/add/", data)
    assert response.status_code == 200
    assert "not an RSS/Atom feed" in str(response.context["adminform"].form.errors["url"])
    assert not Source.objects.exists()

    response = curator.post("/admin/papers/source/add/", {**data, "url": server + "/feed.xml"})
    assert response.status_code == 302
    assert Source.objects.get().name == "Lab blog"


def test_harvest_now_queues_the_task_after_commit_and_is_audited(
    cast: Cast,
    curator: Client,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    source = SourceFactory()
    HarvestRun.objects.create(source=source, status=RunStatus.FAILED, error="HTTP 503 twice")
    page = curator.get(f"/admin/papers/source/{source.pk}/change/")
    assert b"HTTP 503 twice" in page.content and b"Harvest now" in page.content

    with (
        mock.patch("workers.tasks.harvest_source_task.delay") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = curator.post(f"/admin/papers/source/{source.pk}/harvest/")
        assert response.status_code == 302
    send.assert_called_once_with(source.pk)
    assert LogEntry.objects.filter(
        user=cast.ada, object_id=str(source.pk), change_message="Harvest now"
    ).exists()


def test_enable_and_disable_actions(curator: Client, db: None) -> None:
    source = SourceFactory(enabled=True)
    curator.post("/admin/papers/source/", {"action": "disable", "_selected_action": [source.pk]})
    source.refresh_from_db()
    assert not source.enabled
    curator.post("/admin/papers/source/", {"action": "enable", "_selected_action": [source.pk]})
    source.refresh_from_db()
    assert source.enabled


def test_source_list_shows_each_sources_last_run_in_fixed_queries(
    curator: Client, db: None
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert curator.get("/admin/papers/source/").status_code == 200
        return len(captured)

    first = SourceFactory()
    HarvestRun.objects.create(source=first, status=RunStatus.FAILED, error="HTTP 503")
    few = queries()
    for _ in range(5):
        HarvestRun.objects.create(source=SourceFactory(), status=RunStatus.SUCCEEDED)
    assert queries() == few
    assert b"failed" in curator.get("/admin/papers/source/").content
