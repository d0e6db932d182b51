"""What a feed source's URL may be, at save time (admin form, add_source) and at harvest
time: only http(s), and never a way into the server's own network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from pipeline.errors import HarvestError
from pipeline.http import FETCH_FAILED
from tests.listeners import HTTP_500, SSH_BANNER, Listener, closed_port
from tracker.papers.harvest import source_harvest
from tracker.papers.models import HarvestRun, RunStatus, Source, SourceKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(settings) -> Iterator[Listener]:  # type: ignore[no-untyped-def]
    settings.FETCH_ALLOW_PRIVATE = False
    with Listener() as listener:
        yield listener


def _feed_form(url: str) -> dict[str, object]:
    return {
        "name": "Lab blog",
        "kind": SourceKind.FEED,
        "url": url,
        "lab": "Lab",
        "enabled": "on",
        "interval_minutes": 360,
        "window_days": 7,
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}\\@8.8.8.8/feed.xml",
        "http://2130706433:{port}/feed.xml",
        "http://[::ffff:127.0.0.1]:{port}/feed.xml",
        "ftp://127.0.0.1:{port}/feed.xml",
    ],
)
def test_admin_feed_form_refuses_the_url_and_reaches_nothing(
    url: str, target: Listener, curator: Client
) -> None:
    response = curator.post("/admin/papers/source/add/", _feed_form(url.format(port=target.port)))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"]
    assert not Source.objects.exists()
    assert not target.reached, target.received


@pytest.mark.parametrize("url", ["ftp://lab.example/feed.xml", "gopher://lab.example/1"])
def test_add_source_refuses_a_url_that_is_not_http(url: str) -> None:
    with pytest.raises(CommandError, match="http:// or https://"):
        call_command("add_source", "feed", "Lab blog", "--url", url, "--lab", "Lab")
    assert not Source.objects.exists()


def test_a_source_saved_with_a_backslash_url_never_reaches_the_network(target: Listener) -> None:
    call_command(
        "add_source", "feed", "Lab blog", "--lab", "Lab",
        "--url", f"http://127.0.0.1:{target.port}\\@8.8.8.8/feed.xml",
    )  # fmt: skip
    with pytest.raises(HarvestError, match="cannot be fetched"):
        source_harvest(Source.objects.get())
    assert HarvestRun.objects.get().status == RunStatus.FAILED
    assert not target.reached, target.received


@pytest.mark.parametrize("allow_private", [False, True])
def test_admin_feed_form_reads_the_same_for_closed_other_protocol_and_http_error_ports(
    allow_private: bool,
    curator: Client,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.FETCH_ALLOW_PRIVATE = allow_private
    errors = set()
    with Listener(reply=SSH_BANNER) as ssh, Listener(reply=HTTP_500) as http:
        for port in (closed_port(), ssh.port, http.port):
            url = f"http://127.0.0.1:{port}/feed.xml"
            response = curator.post("/admin/papers/source/add/", _feed_form(url))
            errors.add(str(response.context["adminform"].form.errors["url"]))
    assert len(errors) == 1 and FETCH_FAILED in errors.pop()
    assert not Source.objects.exists()
