"""What a drafted claim is, whichever extractor drafted it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    ABSOLUTE = "absolute"  # "reaches 84.2% accuracy"
    IMPROVEMENT = "improvement"  # "improves accuracy by 3.1 points"
    RATIO = "ratio"  # "3.2x faster"


DIRECTIONS = ("higher", "lower")


@dataclass(frozen=True)
class DraftClaim:
    value: float
    unit: str
    metric: str
    dataset: str
    kind: str
    direction: str
    quote: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": str(self.kind)}
