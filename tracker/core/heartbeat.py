"""The worker heartbeat: written by a beat-scheduled task, read by the health check."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_KEY = "workers:heartbeat"


def heartbeat_record(hostname: str) -> str:
    stamp = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, {"at": stamp, "hostname": hostname}, timeout=None)
    return stamp


def heartbeat_last() -> dict[str, Any]:
    return cache.get(HEARTBEAT_KEY) or {}
