"""What the results API accepts and answers, declared once.

The API validates every body against these schemas, and the OpenAPI document at
/api/openapi.json is generated from them, so the document states exactly the types, ranges
and sizes the API enforces. The sizes come from the models, which the portal's forms share.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from ninja import Schema
from pydantic import AfterValidator, Field

from tracker.reproductions.models import (
    GPU_HOURS_DECIMAL_PLACES,
    GPU_HOURS_MAX,
    GPU_HOURS_MAX_DIGITS,
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    RUN_URL_MAX_LENGTH,
    Status,
)

# Seeds are stored as JSON; a 64-bit range keeps them usable by any training framework.
SEED_MIN = -(2**63)
SEED_MAX = 2**63 - 1
SEEDS_MAX_ITEMS = 1000


def _storable_text(value: str) -> str:
    """PostgreSQL text holds neither NUL nor a lone surrogate (valid JSON may carry both)."""
    if "\x00" in value:
        raise ValueError("Text cannot contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("Text must be valid Unicode (no lone surrogates).") from exc
    return value


def _http_url(value: str) -> str:
    if not value:
        return value
    try:
        URLValidator(schemes=["http", "https"])(value)
    except DjangoValidationError as exc:
        raise ValueError("A run link is an http(s) URL.") from exc
    return value


StorableText = Annotated[str, AfterValidator(_storable_text)]
# Finite: a JSON number too large for a float (1 followed by 400 zeros) is refused, not stored.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class ProtocolIn(Schema):
    """The protocol a result ran with; compared field by field with its claim's."""

    dataset: StorableText = Field(default="", max_length=200, description="If not the claim's")
    split: StorableText = Field(default="", max_length=60)
    metric_definition: StorableText = Field(default="", max_length=200)
    shots: int | None = Field(default=None, ge=0, le=32767)
    decoding: StorableText = Field(default="", max_length=120)
    harness: StorableText = Field(default="", max_length=120)
    harness_version: StorableText = Field(default="", max_length=60)
    model_checkpoint: StorableText = Field(default="", max_length=200)
    compute: StorableText = Field(default="", max_length=120)


class ResultIn(ProtocolIn):
    claim: int = Field(ge=1, description="A claim id of this paper, recorded by your team")
    reproduced_value: FiniteFloat
    seeds: list[Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]] = Field(
        default_factory=list, max_length=SEEDS_MAX_ITEMS
    )
    spread: FiniteFloat | None = Field(default=None, ge=0, description="Std. dev. over seeds")
    compute_gpu_hours: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=GPU_HOURS_MAX,
        max_digits=GPU_HOURS_MAX_DIGITS,
        decimal_places=GPU_HOURS_DECIMAL_PLACES,
        description="GPU-hours this run used; added to the reproduction's total",
    )
    run_url: Annotated[StorableText, AfterValidator(_http_url)] = Field(
        default="", max_length=RUN_URL_MAX_LENGTH, description="An http(s) link to the run"
    )
    note: StorableText = Field(default="", max_length=NOTE_MAX_LENGTH)


class StatusIn(Schema):
    status: Status
    reason: StorableText = Field(
        default="",
        max_length=REASON_MAX_LENGTH,
        description="Required to abandon, or to finish with another outcome than the claims'",
    )


class PaperOut(Schema):
    id: int
    title: str


VerdictName = Literal["reproduced", "not_reproduced", "inconclusive"]
MatchName = Literal["exact", "deviated", "unknown"]


class ProtocolOut(Schema):
    dataset: str
    split: str
    metric_definition: str
    shots: int | None
    decoding: str
    harness: str
    harness_version: str
    model_checkpoint: str
    compute: str


class ProtocolDifference(Schema):
    field: str
    result: str
    claim: str


class ProtocolMatchOut(Schema):
    match: MatchName
    differences: list[ProtocolDifference]


class ResultOut(Schema):
    id: int
    reproduced_value: float
    seeds: list[int]
    spread: float | None
    paper_version: int | None = Field(description="The paper's version the result concerns")
    protocol: ProtocolOut
    protocol_match: ProtocolMatchOut


class ClaimOut(Schema):
    id: int
    metric: str
    dataset: str
    setting: str
    claimed_value: float
    higher_is_better: bool
    tolerance: float
    location: str = Field(description="abstract, table, figure or section; empty if not said")
    location_ref: str
    quote: str
    paper_version: int | None = Field(description="The paper's version the claim was read from")
    recheck_version: int | None = Field(
        description="A newer version of the paper the claim has not been checked against"
    )
    protocol: ProtocolOut
    results: int = Field(description="How many results are logged against this claim")
    result_list: list[ResultOut]
    verdict: VerdictName | None
    verdict_reason: str = Field(description="Why a verdict is inconclusive")
    mean: float | None
    std: float | None
    n: int = Field(description="Runs behind the mean: seeds summed over the results")
    gap_pct: float | None = Field(
        description="Shortfall from the claim in percent of it (positive = worse)"
    )
    seeds_needed: int | None = Field(description="Estimated runs that would decide it")


class ReproductionOut(Schema):
    id: int
    paper: PaperOut
    status: Status
    outcome_from_claims: Status | None
    due_date: date | None
    compute_budget_gpu_hours: float | None
    compute_spent_gpu_hours: float
    claims: list[ClaimOut]


class ResultCreated(Schema):
    id: int
    reproduction: ReproductionOut


class FieldError(Schema):
    message: str
    code: str


class Error(Schema):
    """Every refusal: one plain message, and per-field messages when the input was invalid."""

    error: str
    fields: dict[str, list[FieldError]] | None = None
