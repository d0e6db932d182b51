"""tracker.core.lru: the bounded mapping behind the process's kept spaces, models and queries."""

from __future__ import annotations

import pytest

from tracker.core.lru import Lru


def test_put_past_the_limit_drops_the_least_recently_put() -> None:
    kept: Lru[str, int] = Lru(3)
    for n, key in enumerate("abcd"):
        kept.put(key, n)

    assert len(kept) == 3
    assert "a" not in kept
    assert kept.items() == [("b", 1), ("c", 2), ("d", 3)]


def test_get_makes_an_entry_the_most_recently_used() -> None:
    kept: Lru[str, int] = Lru(3)
    for n, key in enumerate("abc"):
        kept.put(key, n)

    assert kept.get("a") == 0
    kept.put("d", 3)

    assert kept.values() == [2, 0, 3]
    assert "b" not in kept
    assert kept.get("b") is None


def test_put_again_replaces_the_value_and_refreshes_it() -> None:
    kept: Lru[str, int] = Lru(2)
    kept.put("a", 0)
    kept.put("b", 1)
    kept.put("a", 10)
    kept.put("c", 2)

    assert kept.items() == [("a", 10), ("c", 2)]


def test_looking_does_not_refresh() -> None:
    kept: Lru[str, int] = Lru(2)
    kept.put("a", 0)
    kept.put("b", 1)
    assert "a" in kept
    assert kept.items()[0] == ("a", 0)
    kept.put("c", 2)

    assert "a" not in kept


def test_pop_and_clear() -> None:
    kept: Lru[str, int] = Lru(2)
    kept.put("a", 0)
    kept.put("b", 1)

    assert kept.pop("a") == 0
    assert kept.pop("a") is None
    assert kept.items() == [("b", 1)]
    kept.clear()
    assert len(kept) == 0
    assert kept.get("b") is None


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        Lru(0)
