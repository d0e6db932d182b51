"""Admin tests: ada curates Vision with her admin access synced, as the admin would do it."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import Cast, client_for
from tracker.teams.models import Role
from tracker.teams.services import membership_set_role


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:  # type: ignore[no-untyped-def]
    """The cast's passwords are hashed per test; these tests never check password strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def curator(cast: Cast) -> Client:
    membership_set_role(team=cast.vision, user=cast.ada, role=Role.CURATOR)
    cast.ada.refresh_from_db()
    return client_for(cast.ada)
