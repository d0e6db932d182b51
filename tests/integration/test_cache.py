"""The Redis cache keeps one redis-py client per pool, and behaves as Django's does."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tracker.core.cache import RedisCache

pytestmark = pytest.mark.integration


@pytest.fixture
def cache(redis_url: str) -> Iterator[RedisCache]:
    # A prefix of its own: the test leaves whatever else shares the Redis database alone.
    backend = RedisCache(redis_url, {"KEY_PREFIX": f"cache-test-{secrets.token_hex(4)}"})
    yield backend
    backend.delete_many([f"k{i}" for i in range(40)] + ["counter", "gate"])


def test_one_client_serves_every_call(cache: RedisCache) -> None:
    first = cache._cache.get_client()
    assert cache._cache.get_client() is first
    assert cache._cache.get_client(write=True) is first  # one server: one pool


def test_reads_writes_and_atomic_operations_work_through_the_kept_client(
    cache: RedisCache,
) -> None:
    cache.set("k1", {"papers": [1, 2]}, 60)
    assert cache.get("k1") == {"papers": [1, 2]}
    assert cache.add("gate", 1, 60) is True
    assert cache.add("gate", 1, 60) is False  # the arXiv politeness gate relies on this
    cache.set("counter", 1, 60)
    assert cache.incr("counter", 5) == 6
    cache.delete("k1")
    assert cache.get("k1", "gone") == "gone"


def test_threads_share_the_client_without_mixing_answers(cache: RedisCache) -> None:
    cache.set_many({f"k{i}": i * i for i in range(40)}, 60)

    def read(i: int) -> object:
        return cache.get(f"k{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(read, range(40)))
    assert answers == [i * i for i in range(40)]
