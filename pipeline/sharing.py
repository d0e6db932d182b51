"""Sharing out a team's new papers: each paper to k readers, chosen by how well it matches
each member (their ranking's score) and balanced by how much each still has to read.

Plain data in and out: the tracker reads the members, their scores and their loads, and
stores what comes back.

How a reader is chosen. A member's scores are made comparable with everyone else's by
turning them into percentiles (0: the paper they would like least of the reference set,
1: the one they would like most). For each paper, each member costs

    load / LOAD_SCALE - affinity

where load is how many shared papers they have not read yet, this round's included; the k
cheapest read it. A member LOAD_SCALE papers behind the others therefore gets a paper only
when it suits them better than it suits anyone else by the whole range of the percentiles:
affinity decides among members with about the same load, and load wins over it when one
falls behind. Ties go to the member listed first, so the same input gives the same shares.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)  # a paper
M = TypeVar("M", bound=Hashable)  # a member

# How many unread papers outweigh the best match over the worst (see the module's doc);
# a large round spreads over at least its fair share per member.
LOAD_SCALE = 10.0


@dataclass(frozen=True)
class Share(Generic[M, K]):
    member: M
    key: K
    affinity: float


def percentiles(scores: Mapping[K, float]) -> dict[K, float]:
    """Each score's place among the others, from 0 (lowest) to 1 (highest); equal scores
    share the middle of their places, so with no signal at all every paper gets 0.5."""
    n = len(scores)
    if n == 0:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64, count=n)
    if n == 1 or np.all(values == values[0]):
        return dict.fromkeys(scores, 0.5)
    ordered = np.sort(values)
    low = np.searchsorted(ordered, values, side="left")
    high = np.searchsorted(ordered, values, side="right") - 1
    places = (low + high) / 2 / (n - 1)
    return dict(zip(scores, places.tolist(), strict=True))


def share_out(
    keys: Sequence[K],
    members: Sequence[M],
    affinity: Mapping[M, Mapping[K, float]],
    load: Mapping[M, int],
    need: Mapping[K, int],
    exclude: Mapping[K, Collection[M]] | None = None,
) -> list[Share[M, K]]:
    """Give each of `keys` to `need[key]` of `members` (fewer when fewer can take it).

    `affinity[member][key]` is the member's percentile of the paper (0.5 when missing),
    `load[member]` their unread shares before this round, `exclude[key]` the members who
    must not get it (they have it already, or read it). Papers are given out in the order
    of `keys`; the loads grow as they go.
    """
    exclude = exclude or {}
    if not members:
        return []
    loads = {member: float(load.get(member, 0)) for member in members}
    scale = max(LOAD_SCALE, sum(need.get(key, 0) for key in keys) / len(members))
    shares: list[Share[M, K]] = []
    for key in keys:
        wanted = need.get(key, 0)
        barred = exclude.get(key, ())
        candidates = [m for m in members if m not in barred]
        if wanted <= 0 or not candidates:
            continue
        fit = {m: affinity.get(m, {}).get(key, 0.5) for m in candidates}
        # sorted() is stable: equal costs keep the members' order.
        chosen = sorted(candidates, key=lambda m: loads[m] / scale - fit[m])[:wanted]
        for member in chosen:
            loads[member] += 1
            shares.append(Share(member, key, fit[member]))
    return shares
