"""The named cast every test can use, and switches for tests that need real servers.

Two teams: "Vision" (ada, a curator; ben, a member) and "Language" (carol, a member).
Nothing here touches the network beyond loopback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client

from tests.corpus import absent_reason
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tracker.teams.models import Role, Team

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@dataclass
class Cast:
    vision: Team
    language: Team
    ada: AbstractUser
    ben: AbstractUser
    carol: AbstractUser


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:  # type: ignore[no-untyped-def]
    """Tests render templates without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    """Hashing with the production hasher costs ~0.3 s per user; tests need no strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_search_caches() -> Iterator[None]:
    """Each test builds its own corpus; what search and the inbox's ranking remembered of
    the last one is stale."""
    from tracker.core.cache import pages_forget
    from tracker.papers.embeddings import search_model_forget
    from tracker.search.fusion import search_caches_forget
    from tracker.triage.ranking import ranking_forget

    search_model_forget()
    search_caches_forget()
    ranking_forget()
    pages_forget()
    yield
    search_model_forget()
    search_caches_forget()
    ranking_forget()
    pages_forget()


@pytest.fixture(autouse=True)
def _beside_connections_closed() -> Iterator[None]:
    """A search outside a transaction (a live server's, a transactional test's) walks the
    vector index on threads holding connections of their own; the test database is
    dropped at the end of the session only once no connection is left."""
    yield
    from tracker.core.db import beside_close

    beside_close()


@pytest.fixture
def cast(db: None) -> Cast:
    vision = TeamFactory(name="Vision", slug="vision")
    language = TeamFactory(name="Language", slug="language")
    ada = UserFactory(username="ada")
    ben = UserFactory(username="ben")
    carol = UserFactory(username="carol")
    MembershipFactory(team=vision, user=ada, role=Role.CURATOR)
    MembershipFactory(team=vision, user=ben, role=Role.MEMBER)
    MembershipFactory(team=language, user=carol, role=Role.MEMBER)
    return Cast(vision=vision, language=language, ada=ada, ben=ben, carol=carol)


def client_for(user: AbstractUser) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(absent_reason(SHARED_DATA))
    return SHARED_DATA


def require_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.skip(f"set {name} to run this test against a real server")
    return value


@pytest.fixture
def redis_url() -> str:
    return require_env("REDIS_URL")


@pytest.fixture
def postgres_url() -> str:
    url = require_env("DATABASE_URL")
    if not url.startswith(("postgres", "pgsql")):
        pytest.skip("DATABASE_URL does not name PostgreSQL")
    return url
