"""Following from where a thing is shown, the follows page, the notification list and its
unread count, the inbox that puts followed matches first, and the digest's follows."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import PaperFactory, SourceFactory
from tests.follows.conftest import member
from tests.portal.helpers import paper_in
from tracker.digests.emails import digest_render
from tracker.digests.selectors import digest_for
from tracker.follows.models import Alert, Delivery, DeliveryStatus, Follow, FollowKind
from tracker.follows.services import WEBHOOK_PRIVATE, alerts_create, follow_add, webhook_add
from tracker.papers.models import PaperSource
from tracker.topics.models import Topic

pytestmark = pytest.mark.django_db


def test_an_author_on_the_paper_page_is_followed_and_unfollowed_there(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(authors=["Yann LeCun", "Léon Bottou"], lab="Meta AI")
    source = SourceFactory(name="arXiv cs.LG")
    PaperSource.objects.create(paper=paper, source=source, url=paper.canonical_url)
    client = client_for(cast.ben)
    page = client.get(f"/papers/{paper.pk}/").content.decode()
    for label in ("Yann LeCun", "Léon Bottou", "Meta AI", "arXiv cs.LG"):
        assert f'Follow<span class="visually-hidden"> {label}</span>' in page
    assert ">More like this</button>" in page
    back = f"/papers/{paper.pk}/"
    response = client.post("/follows/add/", {"kind": "author", "value": "Yann LeCun", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    page = client.get(back).content.decode()
    assert 'Unfollow<span class="visually-hidden"> Yann LeCun</span>' in page
    assert 'Follow<span class="visually-hidden"> Léon Bottou</span>' in page
    client.post("/follows/unfollow/", {"kind": "author", "value": "Yann LeCun", "next": back})
    assert not Follow.objects.exists()


def test_a_search_is_saved_and_a_topic_followed_from_their_pages(cast) -> None:  # type: ignore[no-untyped-def]
    topic = Topic.objects.create(label="Agents")
    client = client_for(cast.ben)
    hidden = '<span class="visually-hidden"> this topic</span>'
    assert f"Follow{hidden}" in client.get(f"/topics/{topic.pk}/").content.decode()
    client.post("/follows/add/", {"kind": "topic", "value": str(topic.pk)})
    assert f"Unfollow{hidden}" in client.get(f"/topics/{topic.pk}/").content.decode()
    PaperFactory(title="Tool use for agents")
    page = client.get("/search/?q=tool+use").content.decode()
    assert "Save this search" in page
    client.post("/follows/add/", {"kind": "search", "value": "tool use"})
    assert set(Follow.objects.values_list("kind", "label")) == {
        ("topic", "Agents"),
        ("search", "tool use"),
    }


def test_the_follows_page_lists_follows_webhooks_and_the_delivery_log(cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FETCH_ALLOW_PRIVATE = True
    ben = member(cast.ben, cast.vision)
    follow_add(ben, FollowKind.AUTHOR, "Yann LeCun")
    follow_add(member(cast.ada, cast.vision), FollowKind.LAB, "Qwen", channel=True)
    follow_add(member(cast.carol, cast.language), FollowKind.AUTHOR, "Carol's Author")
    hook = webhook_add(ben, "http://127.0.0.1:19499/hook")
    paper = PaperFactory(authors=["Yann LeCun"], created_at=timezone.now() + timedelta(1))
    alerts_create([paper.pk])
    Delivery.objects.update(
        status=DeliveryStatus.FAILED, attempts=8, last_error="the receiver answered HTTP 500"
    )
    page = client_for(cast.ben).get("/follows/").content.decode()
    assert "Yann LeCun" in page and "Qwen" in page and "Carol" not in page
    assert hook.secret in page
    assert "the receiver answered HTTP 500" in page and "Send again" in page
    assert "Traceback" not in page
    # A member cannot unfollow the channel's follow: no button for it.
    unfollow = 'Unfollow<span class="visually-hidden"> Qwen</span>'
    assert unfollow not in page
    assert unfollow in client_for(cast.ada).get("/follows/").content.decode()


def test_a_private_webhook_url_is_refused_on_the_page_with_one_plain_message(  # type: ignore[no-untyped-def]
    cast, settings
) -> None:
    settings.FETCH_ALLOW_PRIVATE = False
    client = client_for(cast.ben)
    response = client.post("/follows/webhooks/add/", {"url": "http://10.0.0.7/hook"}, follow=True)
    page = response.content.decode()
    assert WEBHOOK_PRIVATE.replace("'", "&#x27;") in page
    assert "10.0.0.7" not in page.split("<main", 1)[-1].split('name="url"')[0]
    assert not cast.ben.webhooks.exists()
    # A member asking for the channel's webhook is refused too.
    client.post("/follows/webhooks/add/", {"url": "https://example.org/h", "channel": "1"})
    assert not cast.ben.webhooks.exists()


def test_the_alert_list_shows_why_and_the_nav_counts_unread(cast) -> None:  # type: ignore[no-untyped-def]
    ben = member(cast.ben, cast.vision)
    follow_add(ben, FollowKind.AUTHOR, "Yann LeCun")
    follow_add(member(cast.ada, cast.vision), FollowKind.KEYWORD, "JEPA", channel=True)
    later = timezone.now() + timedelta(minutes=1)
    first = PaperFactory(title="JEPA for video", authors=["Yann LeCun"], created_at=later)
    second = PaperFactory(title="More JEPA", created_at=later)
    alerts_create([first.pk, second.pk])
    client = client_for(cast.ben)
    assert 'hx-get="/alerts/unread/"' in client.get("/inbox/").content.decode()
    assert re.search(
        r">3<span class=\"visually-hidden\"> unread", client.get("/alerts/unread/").content.decode()
    )
    page = client.get("/alerts/").content.decode()
    assert page.count('class="alert unread"') == 3
    assert "you follow Yann LeCun" in page and "the team follows “JEPA”" in page
    assert client.get("/alerts/unread/").content.decode().strip() == ""
    assert client.get("/alerts/").content.decode().count('class="alert unread"') == 0
    # carol, in another team, sees none of them.
    assert "JEPA" not in client_for(cast.carol).get("/alerts/").content.decode()


def test_alert_list_query_count_is_fixed(cast) -> None:  # type: ignore[no-untyped-def]
    follow_add(member(cast.ben, cast.vision), FollowKind.AUTHOR, "Yann LeCun")
    client = client_for(cast.ben)
    later = timezone.now() + timedelta(minutes=1)
    client.get("/alerts/")  # what a first visit settles once
    counts = []
    for n in (1, 12):
        ids = [PaperFactory(authors=["Yann LeCun"], created_at=later).pk for _ in range(n)]
        alerts_create(ids)
        with CaptureQueriesContext(connection) as queries:
            client.get("/alerts/")
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_followed_match_rises_to_the_top_of_the_inbox_with_its_reason(cast) -> None:  # type: ignore[no-untyped-def]
    papers = [paper_in(None, days_ago=n / 10, title=f"Paper {n}") for n in range(8)]
    followed = paper_in(None, days_ago=3, title="Old but followed", authors=["Yann LeCun"])
    client = client_for(cast.ben)
    rows = re.findall(r'id="paper-(\d+)"', client.get("/inbox/").content.decode())
    assert int(rows[0]) == papers[0].pk
    follow_add(member(cast.ben, cast.vision), FollowKind.AUTHOR, "Yann LeCun")
    page = client.get("/inbox/").content.decode()
    rows = re.findall(r'<article class="paper-row" id="paper-(\d+)"', page)
    assert int(rows[0]) == followed.pk
    top = page.split(f'id="paper-{followed.pk}"', 1)[1].split("</article>", 1)[0]
    assert "you follow Yann LeCun" in top
    # Newest stays newest: following changes the ranked orders only.
    newest = re.findall(r'id="paper-(\d+)"', client.get("/inbox/?order=newest").content.decode())
    assert int(newest[0]) == papers[0].pk
    # Another member's follow moves nothing for ben's colleague ada.
    ada_rows = re.findall(r'id="paper-(\d+)"', client_for(cast.ada).get("/inbox/").content.decode())
    assert int(ada_rows[0]) == papers[0].pk


def test_the_weekly_digest_lists_the_weeks_follow_alerts(cast) -> None:  # type: ignore[no-untyped-def]
    follow_add(member(cast.ben, cast.vision), FollowKind.AUTHOR, "Yann LeCun")
    now = timezone.now()
    paper = PaperFactory(title="JEPA world models", authors=["Yann LeCun"], created_at=now)
    alerts_create([paper.pk], now=now)
    Alert.objects.update(created_at=now - timedelta(days=1))
    digest = digest_for(cast.ben, now)
    assert [a.paper_id for a in digest.follow_alerts] == [paper.pk]
    assert not digest.is_empty
    rendered = digest_render(digest, "UTC")
    assert "FROM WHAT YOU FOLLOW" in rendered.text and "JEPA world models" in rendered.text
    assert "you follow Yann LeCun" in rendered.html
    # ada follows nothing: no such section for her.
    assert digest_for(cast.ada, now).follow_alerts == []


def test_a_source_is_followed_from_the_sources_page(cast) -> None:  # type: ignore[no-untyped-def]
    source = SourceFactory(name="Qwen blog")
    client = client_for(cast.ben)
    hidden = '<span class="visually-hidden"> Qwen blog</span>'
    assert f"Follow{hidden}" in client.get("/sources/").content.decode()
    client.post("/follows/add/", {"kind": "source", "value": str(source.pk)})
    assert f"Unfollow{hidden}" in client.get("/sources/").content.decode()
    assert Follow.objects.get().source == source


def test_the_inbox_keeps_its_follow_matches_until_the_follows_or_papers_change(  # type: ignore[no-untyped-def]
    cast, monkeypatch
) -> None:
    from tracker.triage import ranking

    for n in range(4):
        paper_in(None, days_ago=n / 10, title=f"Paper {n}")
    followed = paper_in(None, days_ago=3, title="Old but followed", authors=["Yann LeCun"])
    membership = member(cast.ben, cast.vision)
    follow_add(membership, FollowKind.AUTHOR, "Yann LeCun")
    matched: list[int] = []
    real = ranking.followed_reasons

    def counting(follows, papers):  # type: ignore[no-untyped-def]
        matched.append(1)
        return real(follows, papers)

    monkeypatch.setattr(ranking, "followed_reasons", counting)
    client = client_for(cast.ben)

    def top() -> int:
        return int(
            re.findall(
                r'<article class="paper-row" id="paper-(\d+)"',
                client.get("/inbox/").content.decode(),
            )[0]
        )

    assert top() == followed.pk
    # A rating changes neither the follows nor the inbox's papers: nothing is matched again.
    response = client.post(f"/inbox/papers/{followed.pk}/rate/", {"value": 2})
    assert response.status_code in (200, 302)
    client.get("/inbox/")
    assert len(matched) == 1
    # A new paper by the followed author (published two days ago, so only the follow can
    # put it first) is matched at once.
    newer = paper_in(None, days_ago=2, title="New and followed", authors=["Yann LeCun"])
    rows = re.findall(
        r'<article class="paper-row" id="paper-(\d+)"', client.get("/inbox/").content.decode()
    )
    assert len(matched) == 2
    assert rows[0] == str(newer.pk)
    # Unfollowing shows at once too.
    Follow.objects.filter(kind=FollowKind.AUTHOR).delete()
    assert "you follow" not in client.get("/inbox/").content.decode()
