"""Django's Redis cache, with one redis-py client per connection pool instead of one per call,
and reads and writes that degrade instead of raising while Redis is unreachable.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache
operation. Connections come from the pool either way, but each new client first fills its
table of response callbacks (some 170 entries): a third of the CPU of a cache read. Every
page reads the session from the cache, and the health check reads it three times.

A ``redis.Redis`` over a pool is safe to share between threads; Django also gives each
thread its own cache object.

Everything kept in this cache can be rebuilt: sessions are written through to the database,
search and topic results are recomputed. So while Redis is down (a restart, a failover) a
read is a miss and a plain write is dropped, with a warning, and pages keep working from the
database. ``add``, ``incr`` and ``decr`` still raise: their answer is a decision (the arXiv
politeness gate, a counter) that a caller must not take on a guess, and the harvest treats
the error as transient and retries later. ``ping`` lets the health check see the outage.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import redis
from django.core.cache.backends import redis as django_redis

log = logging.getLogger(__name__)

# What an unreachable or stalled server raises (redis-py's own classes, not the builtins).
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's own client members, which the stubs leave out.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        # Pools are kept for the cache's lifetime, so their ids stay theirs.
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


def _degrading(operation: Callable[..., Any], fallback: Callable[..., Any]) -> Callable[..., Any]:
    """`operation`, answering `fallback(*args)` with a warning while Redis is unreachable."""

    @functools.wraps(operation)
    def degraded(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return operation(self, *args, **kwargs)
        except UNAVAILABLE as exc:
            log.warning("cache %s skipped, Redis is unavailable: %s", operation.__name__, exc)
            return fallback(*args, **kwargs)

    return degraded


def _default(key: Any, default: Any = None, version: int | None = None) -> Any:
    return default


_base = django_redis.RedisCache


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def ping(self) -> bool:
        """Raises while the server is unreachable (for the health check)."""
        return bool(self._cache.get_client().ping())

    # Reads: a miss.
    get = _degrading(_base.get, _default)
    get_many = _degrading(_base.get_many, lambda *a, **k: {})
    has_key = _degrading(_base.has_key, lambda *a, **k: False)
    # Plain writes: dropped (what they would have stored can be rebuilt). A dropped delete
    # leaves a stale key only if the server comes back with its old data; the production
    # Redis is not persistent, so it comes back empty.
    set = _degrading(_base.set, lambda *a, **k: None)
    set_many = _degrading(_base.set_many, lambda data, *a, **k: list(data))
    touch = _degrading(_base.touch, lambda *a, **k: False)
    delete = _degrading(_base.delete, lambda *a, **k: False)
    delete_many = _degrading(_base.delete_many, lambda *a, **k: None)


# --- The "pages" cache: what a page computes and any web process may reuse ------------------

# Part of every "pages" key; pages_forget() changes it, so that what one test kept is not
# found by the next, whose rows may reuse the same ids.
_pages_salt = ""


def pages_key(kind: str, *parts: object) -> str:
    """A "pages" cache key for `kind`: a digest of `parts`, which are what the value is
    computed from (their repr must say all of it)."""
    digest = hashlib.sha256(repr((_pages_salt, *parts)).encode()).hexdigest()
    return f"{kind}:{digest}"


def pages_shared() -> bool:
    """Whether every process reads the same "pages" cache (Redis), rather than each its own
    memory (the embedded default): what a worker keeps there, a web process then finds."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    return not isinstance(caches["pages"], LocMemCache)


def pages_forget() -> None:
    """Leave everything the "pages" cache kept (tests)."""
    global _pages_salt
    _pages_salt = secrets.token_hex(8)
