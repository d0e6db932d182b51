"""Every page and endpoint needs a login, except the few that must be open."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

# Open on purpose: the login pages themselves, the health check for load balancers, the icon, and
# endpoints that authenticate by other means (a signed token in the URL, an API token).
OPEN_VIEWS = {"login", "health", "favicon", "admin:login", "digests:unsubscribe"}
TOKEN_AUTH_PREFIXES = ("/api/",)

ROUTE_SAMPLES = {
    "int": "1",
    "slug": "x",
    "str": "x",
    "path": "x/y",
    "uuid": "00000000-0000-0000-0000-000000000001",
}


def _sample(pattern: RoutePattern | RegexPattern) -> str:
    text = str(pattern)
    if isinstance(pattern, RoutePattern):
        return re.sub(
            r"<(?:(\w+):)?\w+>", lambda m: ROUTE_SAMPLES.get(m.group(1) or "str", "x"), text
        )

    def group(match: re.Match[str]) -> str:
        body = match.group(2)
        # An alternation of plain words (the admin's app labels): take the first.
        if re.fullmatch(r"[\w|]+", body):
            return body.split("|")[0]
        return "1"

    text = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, text)
    return text.lstrip("^").rstrip("$").replace("\\", "")


def walk(
    resolver: URLResolver, prefix: str = "/", namespace: str = ""
) -> Iterator[tuple[str, str]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry, prefix + _sample(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name or entry.lookup_str}", prefix + _sample(entry.pattern)


ALL_URLS = sorted(set(walk(get_resolver())))


def test_the_walk_finds_the_apps_pages() -> None:
    names = {name for name, _ in ALL_URLS}
    assert {"home", "login", "health", "admin:index"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path"), ALL_URLS, ids=[name for name, _ in ALL_URLS])
def test_no_page_is_open_without_login(client: Client, name: str, path: str) -> None:
    if name in OPEN_VIEWS:
        return
    match = resolve(path)
    assert (
        f"{match.namespace + ':' if match.namespace else ''}{match.url_name}" == name
        or match.url_name is None
    )
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        if path.startswith(TOKEN_AUTH_PREFIXES):
            assert response.status_code in (401, 403), (
                f"{method.upper()} {path} -> {response.status_code}"
            )
            continue
        assert response.status_code == 302, (
            f"{method.upper()} {path} answered {response.status_code}"
        )
        location = response.headers["Location"]
        assert location.startswith(("/accounts/login/", "/admin/login/")), location


@pytest.mark.django_db
def test_login_page_and_health_are_open(client: Client) -> None:
    assert client.get("/accounts/login/").status_code == 200
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_home_after_login_and_admin_for_staff(cast, client: Client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/accounts/login/", {"username": "ada", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert b"Welcome, ada" in page.content
    assert b"Vision" in page.content
    # ada is a curator but not staff: no admin yet.
    assert client.get("/admin/").status_code in (302, 403)


def test_repeated_failed_logins_lock_the_account(cast, client: Client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        client.post("/accounts/login/", {"username": "ben", "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": "ben", "password": "correct horse battery"}
    )
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content


def test_pages_carry_a_csp_without_inline_scripts(client: Client, db: None) -> None:
    csp = client.get("/accounts/login/").headers["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'self'" in script_src
    assert "unsafe-inline" not in script_src


def test_favicon_is_served_to_anyone_so_admin_and_health_show_an_icon(client) -> None:
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/favicon.ico")
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO header
