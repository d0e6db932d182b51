"""Reads for the reproduction board, a reproduction's page and a paper's reproductions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, F, Prefetch, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from tracker.core.http import url_for_pk
from tracker.papers.models import Paper
from tracker.reproductions.models import (
    OPEN_STATUSES,
    Claim,
    ClaimDraft,
    ClaimDraftDecision,
    Reproduction,
    ReproductionEvent,
    ResultLog,
    Status,
    spent_past_budget,
)
from tracker.reproductions.verdicts import (
    PROTOCOL_LABELS,
    Estimate,
    ProtocolMatch,
    Verdict,
    claim_judgement,
    claim_verdict,
    outcome_from_verdicts,
    protocol_match,
    protocol_of,
)
from tracker.teams.models import Membership, Team
from tracker.teams.selectors import usernames_only, with_usernames
from tracker.triage.selectors import team_marks

# A column shows its most recently updated cards; the rest are counted, and the CSV has all.
# The board is for the work under way: a finished or abandoned column shows fewer.
COLUMN_CARDS = 25
CLOSED_COLUMN_CARDS = 10


def board_queryset(membership: Membership, mine: bool = False) -> QuerySet[Reproduction]:
    reproductions = Reproduction.objects.for_team(membership.team)
    if mine:
        assigned = Reproduction.assignees.through.objects.filter(user_id=membership.user_id)
        reproductions = reproductions.filter(
            Q(pk__in=assigned.values("reproduction_id")) | Q(proposed_by_id=membership.user_id)
        )
    return reproductions.order_by("-updated_at", "-id")


@dataclass(slots=True)
class BoardCard:
    """What a card shows (jinja2/reproductions/_cards.html), read as plain values: model
    instances with a prefetched manager each were most of the board's time. The properties
    give the template its text ready-made, so that the card needs no filters."""

    pk: int
    status: str
    due_date: date | None
    compute_budget_gpu_hours: Decimal | None
    compute_spent_gpu_hours: Decimal
    title: str
    assignees: list[str] = field(default_factory=list)
    detail_url: str = ""
    # Where the member posts the card's step forward (QUICK_MOVES), when they may take it.
    move_url: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def over_budget(self) -> bool:
        return spent_past_budget(self.compute_spent_gpu_hours, self.compute_budget_gpu_hours)

    @property
    def due_text(self) -> str:
        return self.due_date.isoformat() if self.due_date else ""

    @property
    def spent_text(self) -> str:
        return gpu_hours_text(self.compute_spent_gpu_hours)

    @property
    def budget_text(self) -> str:
        return gpu_hours_text(self.compute_budget_gpu_hours)

    @property
    def move_to(self) -> str:
        """The status the card's button moves it to ("" when there is no routine step)."""
        return QUICK_MOVES[self.status][0] if self.status in QUICK_MOVES else ""

    @property
    def move_label(self) -> str:
        return QUICK_MOVES[self.status][1] if self.status in QUICK_MOVES else ""

    @property
    def move_to_label(self) -> str:
        return str(Status(self.move_to).label) if self.move_to else ""


def gpu_hours_text(value: Decimal | None) -> str:
    """GPU-hours as whole numbers, as floatformat:0 writes them (halves round up)."""
    return str(Decimal(value).quantize(Decimal(1), ROUND_HALF_UP)) if value is not None else ""


# The steps a board card offers as a button: the routine ones, which need no reason or
# outcome. Finishing and abandoning are decided on the reproduction's page.
QUICK_MOVES: dict[str, tuple[str, str]] = {
    Status.PROPOSED: (Status.ACCEPTED, "Accept"),
    Status.ACCEPTED: (Status.IN_PROGRESS, "Start"),
}


# The columns a card is read from, in BoardCard's order.
CARD_FIELDS = (
    "pk",
    "status",
    "due_date",
    "compute_budget_gpu_hours",
    "compute_spent_gpu_hours",
    "paper__title",
)


@dataclass
class BoardColumn:
    status: str
    label: str
    items: list[BoardCard]
    total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.items)


def board_columns(membership: Membership, mine: bool = False) -> list[BoardColumn]:
    """One column per status; two queries (the cards and their assignees) for any number.

    The database ranks cards within their status and counts each status in the same pass,
    so only the cards shown are loaded, however many reproductions the team has.
    """
    ordering = [F("updated_at").desc(), F("id").desc()]
    rows = (
        board_queryset(membership, mine)
        .annotate(
            column_rank=Window(RowNumber(), partition_by=F("status"), order_by=ordering),
            column_total=Window(Count("id"), partition_by=F("status")),
            column_cards=Case(
                When(status__in=OPEN_STATUSES, then=Value(COLUMN_CARDS)),
                default=Value(CLOSED_COLUMN_CARDS),
            ),
        )
        .filter(column_rank__lte=F("column_cards"))
        # A card shows the paper's title; its abstract and other long text stay behind.
        .values_list(*CARD_FIELDS, "column_total")
    )
    cards: list[BoardCard] = []
    totals: dict[str, int] = {}
    for *values, column_total in rows:
        card = BoardCard(*values)
        cards.append(card)
        totals[card.status] = column_total
    by_pk = {card.pk: card for card in cards}
    username = f"user__{get_user_model().USERNAME_FIELD}"
    for reproduction_id, name in (
        Reproduction.assignees.through.objects.filter(reproduction_id__in=list(by_pk))
        .order_by("reproduction_id", username)
        .values_list("reproduction_id", username)
    ):
        by_pk[reproduction_id].assignees.append(name)
    return [
        BoardColumn(value, label, [c for c in cards if c.status == value], totals.get(value, 0))
        for value, label in Status.choices
    ]


@dataclass
class ResultRow:
    result: ResultLog
    protocol: ProtocolMatch


@dataclass
class ClaimRow:
    claim: Claim
    results: list[ResultRow]
    judgement: Verdict | None

    @property
    def verdict(self) -> str | None:
        return self.judgement.status if self.judgement else None

    @property
    def verdict_label(self) -> str:
        return self.judgement.label if self.judgement else "No result yet"

    @property
    def estimate(self) -> Estimate | None:
        return self.judgement.estimate if self.judgement else None

    @property
    def gap_pct(self) -> float | None:
        return self.judgement.gap_pct if self.judgement else None

    @property
    def protocol_summary(self) -> str:
        """The claim's protocol as one line: "shots 5, harness lm-eval 0.4"."""
        stated = protocol_of(self.claim)
        stated.pop("dataset", None)
        return ", ".join(f"{PROTOCOL_LABELS[name]} {value}" for name, value in stated.items())


def claim_rows(
    claims: list[Claim], results: list[ResultLog], reproduction_id: int | None = None
) -> list[ClaimRow]:
    """Each claim with its results (of one reproduction, or all of them) and its verdict."""
    by_claim: dict[int, list[ResultLog]] = {}
    for result in results:
        if reproduction_id is None or result.reproduction_id == reproduction_id:
            by_claim.setdefault(result.claim_id, []).append(result)
    rows = []
    for claim in claims:
        logged = by_claim.get(claim.pk, [])
        rows.append(
            ClaimRow(
                claim=claim,
                results=[ResultRow(r, protocol_match(claim, r)) for r in logged],
                judgement=claim_judgement(claim, logged),
            )
        )
    return rows


@dataclass
class PaperReproductions:
    reproductions: list[Reproduction]
    claims: list[ClaimRow]


def paper_reproductions(team: Team, paper: Paper) -> PaperReproductions:
    reproductions = list(
        Reproduction.objects.for_team(team)
        .filter(paper=paper)
        .prefetch_related(Prefetch("assignees", queryset=usernames_only()))
        .order_by("-created_at")
    )
    claims = list(Claim.objects.for_team(team).filter(paper=paper))
    results = list(
        with_usernames(
            ResultLog.objects.filter(claim__in=claims, reproduction__team=team), "logged_by"
        ).order_by("created_at")
    )
    return PaperReproductions(reproductions=reproductions, claims=claim_rows(claims, results))


def latest_reproductions(team: Team, paper_ids: list[int]) -> dict[int, Reproduction]:
    """Each paper's most recent reproduction in the team (its id and status), for the
    papers that have one; one query whatever the number of papers."""
    latest = (
        Reproduction.objects.for_team(team)
        .filter(paper_id__in=paper_ids)
        .order_by("paper_id", "-created_at", "-id")
        .only("pk", "paper_id", "status")
    )
    found: dict[int, Reproduction] = {}
    for reproduction in latest:
        found.setdefault(reproduction.paper_id, reproduction)
    return found


def reproduction_events(reproduction: Reproduction) -> list[ReproductionEvent]:
    return list(reproduction.events.select_related("actor").order_by("at", "id"))


def claim_verdicts(reproduction: Reproduction) -> list[tuple[Claim, list[ResultLog], str | None]]:
    """Each of the paper's claims (in the team) with this reproduction's results and verdict."""
    claims = list(Claim.objects.for_team(reproduction.team).filter(paper=reproduction.paper))
    results: dict[int, list[ResultLog]] = {}
    for result in ResultLog.objects.filter(reproduction=reproduction).order_by("created_at"):
        results.setdefault(result.claim_id, []).append(result)
    return [(c, results.get(c.pk, []), claim_verdict(c, results.get(c.pk, []))) for c in claims]


def reproduction_outcome(reproduction: Reproduction) -> str | None:
    """The outcome the claims' verdicts give; None while no claim has a result."""
    return outcome_from_verdicts(verdict for _, _, verdict in claim_verdicts(reproduction))


def reproduction_claim_rows(reproduction: Reproduction) -> list[ClaimRow]:
    """The reproduction page's claims table: the paper's claims with this run's results."""
    claims = list(
        Claim.objects.for_team(reproduction.team)
        .filter(paper=reproduction.paper)
        .order_by("created_at", "id")
    )
    results = list(
        ResultLog.objects.filter(reproduction=reproduction).select_related("logged_by", "claim")
    )
    return claim_rows(claims, results, reproduction.pk)


def paper_claim_drafts(team: Team, paper: Paper) -> list[ClaimDraft]:
    """The paper's drafted claims that the team has neither accepted nor rejected, in the
    order the text gives them; one query."""
    decided = ClaimDraftDecision.objects.for_team(team).filter(draft__paper=paper)
    return list(
        ClaimDraft.objects.filter(paper=paper)
        .exclude(pk__in=decided.values("draft_id"))
        .order_by("position")
    )


@dataclass(frozen=True)
class PaperMarks:
    """What the member's team made of one paper, as a list that is not the inbox shows it
    (search/_team_marks.html): the team score, its raters, the member's own rating, and the
    team's latest reproduction (status and link) if any."""

    score: float | None = None
    raters: int = 0
    mine: int | None = None
    reproduction_status: str = ""
    reproduction_label: str = ""
    reproduction_url: str = ""
    blind: bool = False  # the team's ratings are hidden from the member for now


def team_view(membership: Membership | None, paper_ids: list[int]) -> dict[int, PaperMarks]:
    """Each paper's marks (PaperMarks) for a list of papers that is not the inbox (search
    hits, a topic's papers), for the papers the team rated or reproduced; empty for someone
    in no team. Two queries."""
    if membership is None or not paper_ids:
        return {}
    marks = team_marks(membership.team, membership.user_id, paper_ids)
    reproductions = latest_reproductions(membership.team, paper_ids)
    # Reversed once for the page, not once a row.
    reproduction_url = url_for_pk("reproductions:detail")
    found: dict[int, PaperMarks] = {}
    for pk in marks.keys() | reproductions.keys():
        mark, reproduction = marks.get(pk), reproductions.get(pk)
        found[pk] = PaperMarks(
            score=mark.score if mark else None,
            raters=mark.raters if mark else 0,
            mine=mark.mine if mark else None,
            blind=mark.blind if mark else False,
            reproduction_status=reproduction.status if reproduction else "",
            reproduction_label=reproduction.get_status_display() if reproduction else "",
            reproduction_url=reproduction_url(reproduction.pk) if reproduction else "",
        )
    return found
