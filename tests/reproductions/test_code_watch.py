"""The code watch in the tracker: links found on a paper, checked on their schedule against
fake GitHub and Hugging Face servers, and the events shown on the paper's page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.conftest import client_for
from tests.factories import PaperFactory
from tests.pipeline.fake_code_hosts import fake_code_hosts, github_repo
from tracker.papers.codewatch import code_links_check_due, code_links_sync, code_watch_run
from tracker.papers.models import CodeEvent, CodeLink

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def hosts(settings):  # type: ignore[no-untyped-def]
    with fake_code_hosts() as fake:
        settings.CODEWATCH_GITHUB_API = fake.url
        settings.CODEWATCH_HF_API = fake.url + "/api"
        settings.CODEWATCH_HOST_INTERVAL = 0
        settings.GITHUB_TOKEN = ""
        yield fake


@time_machine.travel(NOW, tick=False)
def test_promised_then_released_code_and_weights_on_their_schedule(cast, hosts) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(
        abstract="Code will be at https://github.com/acme/fastnet.",
        comment="Weights: https://huggingface.co/acme/fastnet-7b",
        published_at=NOW - timedelta(days=3),
    )
    old = PaperFactory(
        abstract="See https://github.com/acme/old", published_at=NOW - timedelta(days=90)
    )
    hosts.repos["acme/fastnet"] = github_repo("acme/fastnet", size=0)
    hosts.repos["acme/old"] = github_repo("acme/old")
    hosts.models["acme/fastnet-7b"] = {
        "id": "acme/fastnet-7b",
        "likes": 1,
        "tags": [],
        "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "model.safetensors"}],
    }
    assert code_watch_run() == 3
    assert set(CodeEvent.objects.values_list("paper_id", "kind")) == {
        (paper.pk, "code_promised"),
        (paper.pk, "weights_released"),
        (old.pk, "code_released"),
    }
    repo = CodeLink.objects.get(ident="acme/fastnet")
    # Daily while the paper is new, weekly after its first 30 days.
    assert repo.next_check_at == NOW + timedelta(days=1)
    assert CodeLink.objects.get(ident="acme/old").next_check_at == NOW + timedelta(days=7)

    # Nothing is due an hour later; the next day the repository has its code.
    assert code_links_check_due(now=NOW + timedelta(hours=1)) == 0
    hosts.repos["acme/fastnet"] = github_repo("acme/fastnet", tags=[{"name": "v0.1"}])
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert code_links_check_due() == 2  # the repository and the model
    repo.refresh_from_db()
    assert (repo.empty, repo.latest_release, repo.license) == (False, "v0.1", "MIT")
    assert paper.code_events.filter(kind="code_released").exists()
    # Each event once per link, however often it is checked.
    assert CodeEvent.objects.filter(paper=paper).count() == 3
    page = client_for(cast.ben).get(f"/papers/{paper.pk}/").content.decode()
    assert "Code released" in page and "Weights released" in page and "Code promised" in page


@time_machine.travel(NOW, tick=False)
def test_a_failing_link_keeps_its_failures_and_others_go_on(cast, hosts) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(
        abstract="https://github.com/acme/down and https://github.com/acme/up",
        published_at=NOW,
    )
    hosts.fail["/repos/acme/down"] = 503
    hosts.repos["acme/up"] = github_repo("acme/up")
    code_links_sync([paper.pk])
    assert code_links_check_due() == 2
    down = CodeLink.objects.get(ident="acme/down")
    assert (down.failures, down.last_error) == (1, "HTTP 503 Service Unavailable")
    assert down.next_check_at == NOW + timedelta(days=1)
    assert CodeLink.objects.get(ident="acme/up").exists is True
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        code_links_check_due()
    down.refresh_from_db()
    assert down.failures == 2
    page = client_for(cast.ben).get(f"/papers/{paper.pk}/").content.decode()
    assert "2 failed checks: HTTP 503 Service Unavailable" in page
