"""From logged results to a claim's verdict, and from claims to a reproduction's outcome."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import mean

from tracker.reproductions.models import Claim, ResultLog, Status


def claim_gap(claim: Claim, reproduced_value: float) -> float:
    """How far the reproduction fell short of the claim (positive = worse than claimed)."""
    if claim.higher_is_better:
        return claim.claimed_value - reproduced_value
    return reproduced_value - claim.claimed_value


def claim_verdict(claim: Claim, results: Iterable[ResultLog]) -> str | None:
    """Reproduced when the mean of the results is within tolerance of the claim.

    None while no result is logged. A result better than claimed counts as reproduced.
    """
    values = [r.reproduced_value for r in results]
    if not values:
        return None
    if claim_gap(claim, mean(values)) <= claim.tolerance + 1e-12:
        return Status.REPRODUCED
    return Status.NOT_REPRODUCED


def outcome_from_verdicts(verdicts: Iterable[str | None]) -> str | None:
    """All claims reproduced -> reproduced; none -> not reproduced; a mix -> partly.

    Claims without results do not count; None when no claim has a verdict yet.
    """
    decided = [v for v in verdicts if v is not None]
    if not decided:
        return None
    if all(v == Status.REPRODUCED for v in decided):
        return Status.REPRODUCED
    if all(v == Status.NOT_REPRODUCED for v in decided):
        return Status.NOT_REPRODUCED
    return Status.PARTLY_REPRODUCED
