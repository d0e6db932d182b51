"""Sharing out papers as plain data: percentiles, and who reads what by affinity and load."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.sharing import LOAD_SCALE, percentiles, share_out


def test_percentiles_place_scores_from_zero_to_one_and_ties_share_the_middle() -> None:
    assert percentiles({"a": 3.0, "b": 1.0, "c": 2.0}) == {"a": 1.0, "b": 0.0, "c": 0.5}
    tied = percentiles({"a": 1.0, "b": 5.0, "c": 5.0})
    assert tied["a"] == 0.0
    assert tied["b"] == tied["c"] == 0.75
    # No signal at all: every paper in the middle, so load alone decides.
    assert percentiles({"a": 0.0, "b": 0.0}) == {"a": 0.5, "b": 0.5}
    assert percentiles({"a": 7.0}) == {"a": 0.5}
    assert percentiles({}) == {}


def test_each_paper_goes_to_the_members_it_suits_best() -> None:
    keys = ["vision-1", "vision-2", "nlp-1", "nlp-2"]
    affinity = {
        "ada": {"vision-1": 1.0, "vision-2": 0.9, "nlp-1": 0.1, "nlp-2": 0.0},
        "carol": {"vision-1": 0.0, "vision-2": 0.1, "nlp-1": 1.0, "nlp-2": 0.9},
    }
    shares = share_out(keys, ["ada", "carol"], affinity, {}, dict.fromkeys(keys, 1))
    assert {(s.member, s.key) for s in shares} == {
        ("ada", "vision-1"),
        ("ada", "vision-2"),
        ("carol", "nlp-1"),
        ("carol", "nlp-2"),
    }
    assert next(s for s in shares if s.key == "nlp-1").affinity == 1.0


def test_load_outweighs_affinity_once_a_member_falls_behind() -> None:
    keys = [f"p{i}" for i in range(6)]
    # Ada suits every paper a little better, but has LOAD_SCALE papers unread already.
    affinity = {"ada": dict.fromkeys(keys, 0.9), "ben": dict.fromkeys(keys, 0.6)}
    behind = share_out(
        keys, ["ada", "ben"], affinity, {"ada": int(LOAD_SCALE)}, dict.fromkeys(keys, 1)
    )
    assert Counter(s.member for s in behind) == {"ben": 6}
    # With nothing unread, the same papers spread over both as the loads grow.
    even = share_out(keys, ["ada", "ben"], affinity, {}, dict.fromkeys(keys, 1))
    counts = Counter(s.member for s in even)
    assert counts["ada"] > counts["ben"] > 0


def test_no_signal_spreads_papers_evenly_and_the_same_way_every_time() -> None:
    keys = [f"p{i}" for i in range(12)]
    members = ["ada", "ben", "carol", "dan"]
    first = share_out(keys, members, {}, {}, dict.fromkeys(keys, 2))
    assert Counter(s.member for s in first) == dict.fromkeys(members, 6)
    assert all(len({s.member for s in first if s.key == key}) == 2 for key in keys)
    assert share_out(keys, members, {}, {}, dict.fromkeys(keys, 2)) == first


@pytest.mark.parametrize(
    ("need", "exclude", "expected"),
    [
        # More readers wanted than members: each member once.
        ({"p": 5}, {}, {"ada", "ben"}),
        # A member who has the paper already is passed over.
        ({"p": 1}, {"p": {"ada"}}, {"ben"}),
        # Nobody left to take it: nothing, and no error.
        ({"p": 1}, {"p": {"ada", "ben"}}, set()),
        # Nothing wanted.
        ({"p": 0}, {}, set()),
    ],
)
def test_need_and_exclusions_bound_who_gets_a_paper(need, exclude, expected) -> None:  # type: ignore[no-untyped-def]
    shares = share_out(["p"], ["ada", "ben"], {}, {}, need, exclude)
    assert {s.member for s in shares} == expected


def test_no_members_no_shares() -> None:
    assert share_out(["p"], [], {}, {}, {"p": 2}) == []
