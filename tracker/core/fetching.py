"""How the tracker fetches: pipeline.http's configuration built from settings, and a
politeness gate shared through the cache by every process (web and workers alike)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from pipeline.http import FetchConfig


class CacheGate:
    """pipeline.http's Gate on Django's cache: `cache.add` is atomic on Redis and on the
    database cache, and the key's expiry is what releases the next turn, so a killed
    process never holds it."""

    prefix = "politeness-gate:"

    def take(self, key: str, seconds: float) -> bool:
        return bool(cache.add(f"{self.prefix}{key}", "1", timeout=seconds))

    def hold(self, key: str, seconds: float) -> None:
        cache.set(f"{self.prefix}{key}", "1", timeout=seconds)


def fetch_config() -> FetchConfig:
    """Read on every call, so a changed setting (and a test's override) counts at once."""
    return FetchConfig(
        timeout_seconds=settings.FETCH_TIMEOUT_SECONDS,
        max_bytes=settings.FETCH_MAX_BYTES,
        allow_private=settings.FETCH_ALLOW_PRIVATE,
        polite_interval=settings.ARXIV_DELAY_SECONDS,
        retry_attempts=settings.HARVEST_RETRY_ATTEMPTS,
        retry_delay_seconds=settings.HARVEST_RETRY_DELAY_SECONDS,
        max_retry_after_seconds=settings.HARVEST_MAX_RETRY_AFTER_SECONDS,
        gate=CacheGate(),
    )
