"""A bounded mapping that drops its least recently used entry: what a process keeps of work
it may be asked for again (the ranking's paper spaces, fitted models and priors, the
inbox's versions query), within a fixed number of entries.

Each operation holds the mapping's own lock, so the web process's threads can share one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most `limit` entries, the least recently used dropped first. `get` and `put` make
    an entry the most recently used; `in`, `len`, `items` and `values` leave the order as
    it is."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"an Lru keeps at least one entry, not {limit}")
        self.limit = limit
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value kept under `key`, now the most recently used; None when none is."""
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: K, value: V) -> None:
        """Keep `value` under `key` as the most recently used, dropping the least recently
        used entries past the limit."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> V | None:
        """Drop the entry under `key`: its value, or None when none was kept."""
        with self._lock:
            return self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def items(self) -> list[tuple[K, V]]:
        """The entries, least recently used first (a copy: the mapping may change meanwhile)."""
        with self._lock:
            return list(self._entries.items())

    def values(self) -> list[V]:
        """The values, least recently used first (a copy)."""
        with self._lock:
            return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
