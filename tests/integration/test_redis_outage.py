"""Redis goes down (a server of the test's own, killed and restarted on the same port):
pages keep working from the database, /health/ says so, and harvests retry."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import Client

from tests.conftest import Cast, client_for
from tests.integration.conftest import OwnRedis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cache_on_own_redis(own_redis: OwnRedis, settings) -> OwnRedis:  # type: ignore[no-untyped-def]
    settings.CACHES = {
        "default": {"BACKEND": "tracker.core.cache.RedisCache", "LOCATION": own_redis.url}
    }
    # Django's setting_changed handler drops the cache objects made from the old value.
    assert caches["default"]._cache._servers == [own_redis.url]
    return own_redis


def _home(client: Client) -> int:
    return client.get("/").status_code


def test_signed_in_pages_work_from_the_database_while_redis_is_down(
    cast: Cast, cache_on_own_redis: OwnRedis
) -> None:
    client = client_for(cast.ben)
    assert _home(client) == 200
    with cache_on_own_redis.down_for(3):
        assert _home(client) == 200
        assert client.get("/tokens/").status_code == 200
        # Still signed in: a fresh client with the same cookie is not sent to the login page.
        again = Client()
        again.cookies = client.cookies
        assert _home(again) == 200
    assert _home(client) == 200


def test_health_answers_503_json_while_redis_is_down_with_or_without_a_session(
    cast: Cast, cache_on_own_redis: OwnRedis
) -> None:
    signed_in = client_for(cast.ben)
    assert signed_in.get("/health/").status_code == 200
    with cache_on_own_redis.down_for(3):
        for client in (Client(), signed_in):
            response = client.get("/health/")
            assert response.status_code == 503
            assert response.json()["cache"] == "error"
            assert response.json()["database"] == "ok"
    assert signed_in.get("/health/").status_code == 200


def test_harvest_that_meets_the_outage_fails_transiently_and_is_retried(
    cast: Cast,
    cache_on_own_redis: OwnRedis,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    from pipeline.errors import TransientHarvestError
    from tracker.papers.harvest import source_harvest
    from tracker.papers.models import HarvestRun, RunStatus
    from tracker.papers.services import source_create
    from workers.tasks import harvest_source_task

    # Nothing listens here: the run must stop at the politeness gate, which needs Redis.
    settings.ARXIV_API_URL = "http://127.0.0.1:9/api/query"
    source = source_create(kind="arxiv", name="outage", query="all:testing", window_days=7)
    with (
        cache_on_own_redis.down_for(1),
        pytest.raises(TransientHarvestError, match="Redis unavailable"),
    ):
        source_harvest(source)
    run = HarvestRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("temporary failure") and "ConnectionError" in run.error
    # The task retries what is transient, so the harvest runs again once Redis is back.
    assert TransientHarvestError in harvest_source_task.autoretry_for
