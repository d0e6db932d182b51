"""Headless Chromium for the portal's browser tests, and screenshots into var/screenshots/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Playwright's sync API runs an event loop in this thread; the ORM calls are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser_page(live_server, settings) -> Iterator:  # type: ignore[no-untyped-def]
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    # The live server speaks plain http on loopback.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.ALLOWED_HOSTS = ["*"]
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(10_000)
        yield page
        browser.close()
        # Playwright's event loop gives the test body a connection of its own (Django's
        # connections are per context): it is this test thread's too, and is kept.
        inside = _backend_pid()
    _drop_server_thread_connections(keep={inside, _backend_pid()})


def _backend_pid() -> int | None:
    connection = connections["default"]
    if connection.vendor != "postgresql" or connection.connection is None:
        return None
    return int(connection.connection.info.backend_pid)


def _drop_server_thread_connections(keep: set[int | None]) -> None:
    """End PostgreSQL sessions a live-server request thread left open.

    A thread that served a kept-alive browser connection can outlive the test with its
    database session, and then the test database cannot be dropped at the end of the run.
    """
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND NOT pid = ANY(%s)",
            [[pid for pid in keep if pid is not None]],
        )


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = Path(django_settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def log_in(page, live_server, username: str, next_url: str = "/") -> None:  # type: ignore[no-untyped-def]
    """Sign in through the real login form, as a person would."""
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}")
