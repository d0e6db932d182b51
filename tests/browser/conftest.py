"""Headless Chromium for the portal's browser tests, and screenshots into var/screenshots/."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.db.backends.signals import connection_created

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
    connection_created.connect(_tag_server_thread_connection)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(10_000)
        yield page
        browser.close()
    connection_created.disconnect(_tag_server_thread_connection)
    _drop_server_thread_connections()


# How the live server's request threads name their PostgreSQL sessions, so that teardown
# ends those and only those: the test body's own connection lives in another context than
# this fixture's and is not "the current one" there, yet must survive for the next test.
SERVER_THREAD_SESSION = "live-server-thread"


def _tag_server_thread_connection(sender, connection, **kwargs) -> None:  # type: ignore[no-untyped-def]
    if (
        connection.vendor == "postgresql"
        and threading.current_thread() is not threading.main_thread()
    ):
        with connection.cursor() as cursor:
            cursor.execute("SET application_name = %s", [SERVER_THREAD_SESSION])


@pytest.fixture(scope="session", autouse=True)
def _end_test_body_sessions(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """At the end of the run, before the test database is dropped, end the sessions the
    test bodies opened while Playwright ran (see SERVER_THREAD_SESSION): idle by now, but
    open, and PostgreSQL will not drop a database in use."""
    yield
    with django_db_blocker.unblock():
        _end_sessions("")


def _end_sessions(application_name: str) -> None:
    """End the other PostgreSQL sessions on the test database; with a name, only those."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND (%s = '' OR application_name = %s)",
            [application_name, application_name],
        )


def _drop_server_thread_connections() -> None:
    """End PostgreSQL sessions a live-server request thread left open.

    A thread that served a kept-alive browser connection can outlive the test with its
    database session, and then the test database cannot be dropped at the end of the run.
    """
    _end_sessions(SERVER_THREAD_SESSION)


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
