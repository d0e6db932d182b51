"""How far an import is, for the progress panel: kept in the shared cache, since an
import runs as a command outside the workers and leaves no row of its own."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache

from tracker.papers.embeddings import Progress

logger = logging.getLogger(__name__)

IMPORT_KEY = "progress:import"
# Written at most this often; read by a page that polls every few seconds.
WRITE_EVERY_SECONDS = 1.0
# A report older than this belongs to an import that ended or died.
STALE_SECONDS = 60


@dataclass(frozen=True)
class ImportProgress:
    name: str
    bytes: Progress


def import_progress_reporter(name: str, total_bytes: int) -> Callable[[int], None]:
    """A `progress` callback for snapshot_import that also tells the portal how far the
    file is read; the final call marks it done."""
    state = {"read": 0, "written": 0.0, "started": time.time()}

    def report(read: int) -> None:
        state["read"] += read
        now = time.time()
        if state["read"] >= total_bytes:
            # The whole file is read: the panel stops showing the import.
            try:
                cache.delete(IMPORT_KEY)
            except Exception:
                logger.warning("import progress: cache write failed", exc_info=True)
            return
        if now - state["written"] < WRITE_EVERY_SECONDS and state["read"] < total_bytes:
            return
        state["written"] = now
        value = {
            "name": name,
            "read": state["read"],
            "total": total_bytes,
            "started": state["started"],
            "at": now,
        }
        try:
            cache.set(IMPORT_KEY, value, STALE_SECONDS)
        except Exception:  # the panel is a courtesy; an import never fails for it
            logger.warning("import progress: cache write failed", exc_info=True)

    return report


def import_progress() -> ImportProgress | None:
    """The import under way, or None."""
    try:
        value = cache.get(IMPORT_KEY)
    except Exception:
        return None
    if not value or time.time() - value["at"] > STALE_SECONDS:
        return None
    elapsed = max(value["at"] - value["started"], 1e-6)
    per_second = value["read"] / elapsed if value["read"] else None
    done = min(value["read"], value["total"])
    return ImportProgress(value["name"], Progress(done, value["total"], per_second))
