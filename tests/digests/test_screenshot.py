"""The digest HTML in headless Chromium: no scripts, nothing fetched, saved as a PNG to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from tests.browser.conftest import ARGS, CHROMIUM
from tests.digests.conftest import NOW, build_week
from tracker.digests.services import digest_preview

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.mark.parametrize("width", [720, 390], ids=["desktop", "phone"])
def test_digest_renders_in_chromium_and_is_saved_as_png(cast, width: int) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    build_week(cast)
    settings.SITE_URL = "https://tracker.example.org"
    _, rendered = digest_preview(cast.ada, NOW)
    out = Path(settings.VAR_DIR) / "screenshots" / f"digest-{width}.png"
    out.parent.mkdir(parents=True, exist_ok=True)

    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(
                viewport={"width": width, "height": 900}, java_script_enabled=False
            )
            page.on("request", lambda request: requested.append(request.url))
            page.set_content(rendered.html, wait_until="load")
            assert page.title() == rendered.subject
            assert page.get_by_text("Ring attention at 10M tokens").first.is_visible()
            assert page.get_by_text("Overdue by 3 days").is_visible()
            # Nothing overflows sideways on a phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    assert [url for url in requested if not url.startswith(("about:", "data:"))] == []
    assert out.stat().st_size > 10_000


@pytest.mark.django_db(transaction=True)
def test_preview_page_shows_the_email_in_the_portal(cast, live_server) -> None:  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed")
    import time_machine
    from django.test import Client
    from django.urls import reverse
    from playwright.sync_api import expect, sync_playwright

    build_week(cast)
    out = Path(settings.VAR_DIR) / "screenshots" / "digest-preview-page.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    with time_machine.travel(NOW, tick=True):
        # Signed in inside the frozen week: a session from the real clock may have expired.
        client = Client()
        client.force_login(cast.ada)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                context = browser.new_context(viewport={"width": 1100, "height": 900})
                context.add_cookies(
                    [
                        {
                            "name": settings.SESSION_COOKIE_NAME,
                            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                            "url": live_server.url,
                        }
                    ]
                )
                page = context.new_page()
                page.goto(live_server.url + reverse("digests:preview"))
                expect(page.get_by_text("5 new papers in 2 topics").first).to_be_visible()
                frame = page.frame_locator("iframe")
                expect(frame.get_by_text("LoRA without regret")).to_be_visible()
                page.screenshot(path=str(out))
            finally:
                browser.close()
