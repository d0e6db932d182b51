"""From logged results to a claim's verdict, and from claims to a reproduction's outcome.

A claim's results are pooled into one estimate: a mean, a standard deviation and the number
of runs n (a result logged with seeds and a spread stands for len(seeds) runs). The verdict
respects that spread:

- reproduced when the mean lies within the tolerance of the claim;
- not reproduced when the whole 95% interval of the mean lies beyond the tolerance, and
  only when the protocol the results ran with matches the claim's exactly (a claim that
  states no protocol is never judged not reproduced: its misses are inconclusive);
- otherwise inconclusive, with an estimate of how many runs would decide it.

A single run without a spread is taken at its value: there is no interval to respect.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from scipy.stats import t as student_t

from tracker.reproductions.models import Claim, ResultLog, Status

# Not a reproduction status: a claim can be undecided while the reproduction goes on.
INCONCLUSIVE = "inconclusive"
VERDICT_LABELS = {
    Status.REPRODUCED.value: Status.REPRODUCED.label,
    Status.NOT_REPRODUCED.value: Status.NOT_REPRODUCED.label,
    INCONCLUSIVE: "Inconclusive",
}
# The most runs an estimate of seeds needed names; past it the gap is too small to resolve.
SEEDS_NEEDED_MAX = 1000
EPSILON = 1e-12

# The protocol's fields in the order people read them, with their labels.
PROTOCOL_FIELDS: tuple[tuple[str, str], ...] = (
    ("dataset", "dataset"),
    ("split", "split"),
    ("metric_definition", "metric definition"),
    ("shots", "shots"),
    ("decoding", "decoding"),
    ("harness", "harness"),
    ("harness_version", "harness version"),
    ("model_checkpoint", "model"),
    ("compute", "compute"),
)
PROTOCOL_LABELS = dict(PROTOCOL_FIELDS)
# The fields claim_judgement reads of a claim and of its results: a caller that reads them
# with only() names these, so that none is fetched again row by row.
JUDGED_CLAIM_FIELDS = (
    "claimed_value",
    "higher_is_better",
    "tolerance",
    *(name for name, _ in PROTOCOL_FIELDS),
)
JUDGED_RESULT_FIELDS = (
    "reproduced_value",
    "seeds",
    "spread",
    *(name for name, _ in PROTOCOL_FIELDS),
)


class Match:
    EXACT = "exact"
    DEVIATED = "deviated"
    UNKNOWN = "unknown"


def protocol_of(item: Any) -> dict[str, str]:
    """The protocol fields an item (claim or result) states, as text; blank ones left out."""
    stated: dict[str, str] = {}
    for name, _ in PROTOCOL_FIELDS:
        value = getattr(item, name, None)
        if value is None or str(value).strip() == "":
            continue
        stated[name] = str(value).strip()
    return stated


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


@dataclass(frozen=True)
class ProtocolMatch:
    """How a result's protocol compares with its claim's."""

    kind: str
    # (field label, the result's value, the claim's value) for each field that differs.
    differences: tuple[tuple[str, str, str], ...] = ()

    @property
    def summary(self) -> str:
        """E.g. "shots 5 vs 0": the result's value first, then the claim's."""
        return ", ".join(f"{label} {ran} vs {claimed}" for label, ran, claimed in self.differences)

    @property
    def label(self) -> str:
        if self.kind == Match.DEVIATED:
            return f"deviated: {self.summary}"
        return self.kind


def protocol_match(claim: Claim, result: ResultLog) -> ProtocolMatch:
    """Exact when the result states every field the claim states, with the same value;
    deviated (naming the fields) when a field both state differs; unknown otherwise,
    including when the claim states no protocol at all. The dataset is the claim's
    unless the result names another."""
    claimed = protocol_of(claim)
    ran = protocol_of(result)
    if claimed.get("dataset") and "dataset" not in ran:
        ran["dataset"] = claimed["dataset"]
    differences = tuple(
        (PROTOCOL_LABELS[name], ran[name], claimed[name])
        for name, _ in PROTOCOL_FIELDS
        if name in claimed and name in ran and not _same(claimed[name], ran[name])
    )
    if differences:
        return ProtocolMatch(Match.DEVIATED, differences)
    # The dataset alone is not a protocol: every claim names one.
    if set(claimed) - {"dataset"} and all(name in ran for name in claimed):
        return ProtocolMatch(Match.EXACT)
    return ProtocolMatch(Match.UNKNOWN)


def claim_gap(claim: Claim, reproduced_value: float) -> float:
    """How far the reproduction fell short of the claim (positive = worse than claimed)."""
    if claim.higher_is_better:
        return claim.claimed_value - reproduced_value
    return reproduced_value - claim.claimed_value


def gap_pct(claim: Claim, reproduced_value: float) -> float | None:
    """The gap as a share of the claim, in percent (positive = worse than claimed): the one
    unit gaps are shown in everywhere, so accuracy points and perplexities compare. None for
    a claim of zero."""
    if not claim.claimed_value:
        return None
    return 100 * claim_gap(claim, reproduced_value) / abs(claim.claimed_value)


@dataclass(frozen=True)
class Estimate:
    """A claim's results pooled: mean, standard deviation (None when unknown) and runs."""

    mean: float
    std: float | None
    n: int

    def half_width(self, confidence: float = 0.95) -> float | None:
        """Half the two-sided confidence interval of the mean (Student's t)."""
        if self.std is None or self.n < 2:
            return None
        return float(student_t.ppf(0.5 + confidence / 2, self.n - 1)) * self.std / math.sqrt(self.n)


def _runs(result: ResultLog) -> int:
    return max(1, len(result.seeds or []))


def pooled_estimate(results: Sequence[ResultLog]) -> Estimate | None:
    """Pool results of one claim, each standing for len(seeds) runs with its spread.

    The pooled variance adds each result's spread over its runs to the scatter of the
    results' means around the overall mean (as one sample of all the runs would give). A
    result with several seeds but no spread leaves the spread unknown.
    """
    if not results:
        return None
    sizes = [_runs(r) for r in results]
    total = sum(sizes)
    overall = sum(n * r.reproduced_value for n, r in zip(sizes, results, strict=True)) / total
    if total < 2:
        return Estimate(overall, None, total)
    squares = 0.0
    for n, result in zip(sizes, results, strict=True):
        if n > 1:
            if result.spread is None:
                return Estimate(overall, None, total)
            squares += (n - 1) * result.spread**2
        squares += n * (result.reproduced_value - overall) ** 2
    return Estimate(overall, math.sqrt(squares / (total - 1)), total)


def seeds_needed(std: float, margin: float, have: int) -> int | None:
    """Runs needed for the 95% interval's half-width to fall below `margin` (the distance
    between the mean and the tolerance's edge), by Student's t; None past SEEDS_NEEDED_MAX."""
    if margin <= 0:
        return None
    for n in range(max(2, have + 1), SEEDS_NEEDED_MAX + 1):
        if float(student_t.ppf(0.975, n - 1)) * std / math.sqrt(n) < margin:
            return n
    return None


@dataclass(frozen=True)
class Verdict:
    status: str
    estimate: Estimate
    gap: float
    gap_pct: float | None
    half_width: float | None
    matches: tuple[ProtocolMatch, ...] = field(default_factory=tuple)
    reason: str = ""
    seeds_needed: int | None = None

    @property
    def label(self) -> str:
        text = VERDICT_LABELS[self.status]
        return f"{text}: {self.reason}" if self.reason else text

    @property
    def protocol(self) -> ProtocolMatch:
        """The results' protocol match taken together: deviated if any result deviated,
        exact if all were exact, else unknown."""
        deviated = [m for m in self.matches if m.kind == Match.DEVIATED]
        if deviated:
            seen: dict[tuple[str, str, str], None] = {}
            for match in deviated:
                seen.update(dict.fromkeys(match.differences))
            return ProtocolMatch(Match.DEVIATED, tuple(seen))
        if self.matches and all(m.kind == Match.EXACT for m in self.matches):
            return ProtocolMatch(Match.EXACT)
        return ProtocolMatch(Match.UNKNOWN)


class _VerdictParts(TypedDict):
    """What every verdict of one claim shares, whatever it says."""

    estimate: Estimate
    gap: float
    gap_pct: float | None
    half_width: float | None
    matches: tuple[ProtocolMatch, ...]


def claim_judgement(claim: Claim, results: Iterable[ResultLog]) -> Verdict | None:
    """The claim's verdict with what it rests on; None while no result is logged."""
    logged = list(results)
    estimate = pooled_estimate(logged)
    if estimate is None:
        return None
    gap = claim_gap(claim, estimate.mean)
    half = estimate.half_width()
    matches = tuple(protocol_match(claim, r) for r in logged)
    common = _VerdictParts(
        estimate=estimate,
        gap=gap,
        gap_pct=gap_pct(claim, estimate.mean),
        half_width=half,
        matches=matches,
    )
    if gap <= claim.tolerance + EPSILON:
        return Verdict(Status.REPRODUCED, **common)
    margin = gap - claim.tolerance
    if half is not None and half >= margin:
        needed = seeds_needed(estimate.std or 0.0, margin, estimate.n)
        reason = (
            f"the 95% interval reaches the tolerance; about {needed} seeds would decide"
            if needed
            else "the 95% interval reaches the tolerance"
        )
        return Verdict(INCONCLUSIVE, reason=reason, seeds_needed=needed, **common)
    verdict = Verdict(Status.NOT_REPRODUCED, **common)
    protocol = verdict.protocol
    if protocol.kind == Match.DEVIATED:
        return Verdict(INCONCLUSIVE, reason=f"protocol differs ({protocol.summary})", **common)
    if protocol.kind == Match.UNKNOWN:
        # A clear miss against an unknown protocol could be the protocol's: the claim states
        # none (so nothing says the run matched it), or the results leave out what it states.
        reason = (
            "protocol not stated for the result"
            if set(protocol_of(claim)) - {"dataset"}
            else "protocol not stated for the claim"
        )
        return Verdict(INCONCLUSIVE, reason=reason, **common)
    return verdict


def claim_verdict(claim: Claim, results: Iterable[ResultLog]) -> str | None:
    """reproduced, not_reproduced or inconclusive; None while no result is logged."""
    judgement = claim_judgement(claim, results)
    return judgement.status if judgement else None


def outcome_from_verdicts(verdicts: Iterable[str | None]) -> str | None:
    """All claims reproduced -> reproduced; none -> not reproduced; a mix -> partly.

    Claims without results and inconclusive claims do not count; None when no claim has a
    decided verdict yet.
    """
    decided = [v for v in verdicts if v is not None and v != INCONCLUSIVE]
    if not decided:
        return None
    if all(v == Status.REPRODUCED for v in decided):
        return Status.REPRODUCED
    if all(v == Status.NOT_REPRODUCED for v in decided):
        return Status.NOT_REPRODUCED
    return Status.PARTLY_REPRODUCED
