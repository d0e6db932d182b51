"""Done when: a followed author's new paper reaches a loopback webhook receiver once,
signed. A member follows the author from a paper page and adds a webhook on the follows
page in headless Chromium; the paper arrives through a real Celery worker over Redis."""

from __future__ import annotations

import re
import time

import pytest
from django.db import transaction
from django.utils import timezone

from pipeline.follows import signature_valid
from pipeline.records import PaperRecord
from tests.browser.conftest import log_in, shot
from tests.factories import PaperFactory
from tests.follows.receiver import webhook_receiver
from tests.integration.conftest import celery_app, running_worker
from tracker.follows.models import Delivery, DeliveryStatus
from tracker.papers.services import papers_upsert

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_followed_authors_new_paper_reaches_the_webhook_once_signed(  # type: ignore[no-untyped-def]
    cast, live_server, browser_page, settings, redis_url: str
) -> None:
    settings.FETCH_ALLOW_PRIVATE = True  # the receiver is on loopback
    page = browser_page
    older = PaperFactory(title="Energy-based models", authors=["Yann LeCun", "Sumit Chopra"])
    log_in(page, live_server, "ben", f"/papers/{older.pk}/")

    page.get_by_role("button", name="Follow Yann LeCun").click()
    page.wait_for_selector("text=Following Yann LeCun.")
    assert page.get_by_role("button", name="Unfollow Yann LeCun").is_visible()

    app = celery_app(redis_url, redis_url)
    app.conf.task_default_queue = "default"
    with webhook_receiver() as receiver, running_worker(app):
        page.goto(f"{live_server.url}/follows/")
        page.fill("#webhook-url", receiver.url)
        page.get_by_role("button", name="Add webhook").click()
        page.wait_for_selector("text=Webhook added.")
        page.locator(".webhook summary").click()
        secret = page.locator(".webhook code").inner_text().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", secret)

        record = PaperRecord(
            arxiv_id="2603.07777",
            version=1,
            title="Self-supervised world models",
            authors=["Randall Balestriero", "Yann LeCun"],
            published_at=timezone.now(),
        )
        with transaction.atomic():
            papers_upsert([record])
        delivered = receiver.wait_for(1, timeout=60)
        # Give a duplicate every chance to arrive: none does.
        time.sleep(2)

        page.goto(f"{live_server.url}/inbox/")
        page.wait_for_selector(".unread-count")
        assert page.locator(".unread-count").inner_text().startswith("1")
        page.get_by_role("link", name=re.compile("^Alerts")).click()
        alert = page.locator(".alert.unread")
        assert "Self-supervised world models" in alert.inner_text()
        assert "you follow Yann LeCun" in alert.inner_text()
        page.goto(f"{live_server.url}/follows/#deliveries")
        assert "Sent" in page.locator(".deliveries tbody tr").first.inner_text()
        shot(page, "follows-delivered")

    assert len(receiver.received) == len(delivered) == 1
    got = delivered[0]
    header = got.headers["X-Tracker-Signature"]
    assert signature_valid(secret, header, got.body, now=time.time())
    assert not signature_valid(secret, header, got.body + b" ", now=time.time())
    assert got.payload["paper"]["arxiv_id"] == "2603.07777"
    assert Delivery.objects.get().status == DeliveryStatus.SENT
