"""Writes for reproductions: propose, assign, move through statuses, claims and results.

Every change leaves a ReproductionEvent saying who did what and when. Permission rules live
here, not in the views, so the portal and the API enforce the same ones:

- any member may propose a reproduction and record a paper's claims;
- a curator or the proposer assigns members;
- only assignees and curators change the status or log results;
- only an assignee may set an outcome that differs from what the claims' verdicts give,
  and only with a reason.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from pipeline.claims import draft_claims
from pipeline.claims.llm import LLMConfig
from tracker.papers.models import Paper, PaperVersion
from tracker.papers.versions import abstract_diff
from tracker.reproductions.models import (
    FINISHED_STATUSES,
    GPU_HOURS_MAX,
    OPEN_STATUSES,
    Claim,
    ClaimDraft,
    ClaimDraftDecision,
    DraftDecision,
    EventKind,
    Reproduction,
    ReproductionEvent,
    ResultLog,
    Status,
)
from tracker.reproductions.selectors import reproduction_outcome
from tracker.reproductions.verdicts import PROTOCOL_FIELDS
from tracker.teams.models import Membership

PROTOCOL_NAMES = tuple(name for name, _ in PROTOCOL_FIELDS if name != "dataset")

log = logging.getLogger(__name__)

# Where each status may go next. Finished and abandoned reproductions can be reopened,
# because a late result or a fixed bug is common; the events keep the whole story.
TRANSITIONS: dict[str, set[str]] = {
    Status.PROPOSED: {Status.ACCEPTED, Status.ABANDONED},
    Status.ACCEPTED: {Status.IN_PROGRESS, Status.ABANDONED},
    Status.IN_PROGRESS: {*FINISHED_STATUSES, Status.ABANDONED},
    Status.REPRODUCED: {Status.IN_PROGRESS},
    Status.PARTLY_REPRODUCED: {Status.IN_PROGRESS},
    Status.NOT_REPRODUCED: {Status.IN_PROGRESS},
    Status.ABANDONED: {Status.PROPOSED},
}


def _check_team(reproduction: Reproduction, membership: Membership) -> None:
    if reproduction.team_id != membership.team_id:
        raise PermissionDenied("This reproduction belongs to another team.")


def is_assignee(reproduction: Reproduction, user: User) -> bool:
    return reproduction.assignees.filter(pk=user.pk).exists()


def can_manage(reproduction: Reproduction, membership: Membership) -> bool:
    """Assignees and curators change the status and log results."""
    if reproduction.team_id != membership.team_id:
        return False
    return membership.is_curator or is_assignee(reproduction, membership.user)


def can_assign(reproduction: Reproduction, membership: Membership) -> bool:
    if reproduction.team_id != membership.team_id:
        return False
    return membership.is_curator or reproduction.proposed_by_id == membership.user_id


def _event(
    reproduction: Reproduction,
    actor: User | None,
    kind: EventKind,
    *,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
) -> ReproductionEvent:
    return ReproductionEvent.objects.create(
        reproduction=reproduction,
        actor=actor,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=note,
        at=timezone.now(),
    )


@transaction.atomic
def reproduction_propose(
    *,
    membership: Membership,
    paper: Paper,
    due_date: date | None = None,
    budget_gpu_hours: Decimal | None = None,
    note: str = "",
) -> tuple[Reproduction, bool]:
    """Propose reproducing a paper; an open reproduction of it in the team is reused."""
    existing = (
        Reproduction.objects.for_team(membership.team)
        .filter(paper=paper, status__in=OPEN_STATUSES)
        .first()
    )
    if existing is not None:
        return existing, False
    reproduction = Reproduction.objects.create(
        team=membership.team,
        paper=paper,
        proposed_by=membership.user,
        due_date=due_date,
        compute_budget_gpu_hours=budget_gpu_hours,
    )
    _event(reproduction, membership.user, EventKind.PROPOSED, to_status=Status.PROPOSED, note=note)
    return reproduction, True


@transaction.atomic
def reproduction_assign(
    *, reproduction: Reproduction, membership: Membership, assignees: Iterable[User]
) -> Reproduction:
    if not can_assign(reproduction, membership):
        raise PermissionDenied("Only a curator or the proposer assigns members.")
    people = list(assignees)
    member_ids = set(
        Membership.objects.filter(team=reproduction.team, user__in=people).values_list(
            "user_id", flat=True
        )
    )
    outsiders = [p for p in people if p.pk not in member_ids]
    if outsiders:
        raise ValidationError("Only members of the team can be assigned.")
    reproduction.assignees.set(people)
    Reproduction.objects.filter(pk=reproduction.pk).update(updated_at=timezone.now())
    names = ", ".join(sorted(p.get_username() for p in people)) or "nobody"
    _event(reproduction, membership.user, EventKind.ASSIGNED, note=names)
    return reproduction


@transaction.atomic
def reproduction_plan_set(
    *,
    reproduction: Reproduction,
    membership: Membership,
    due_date: date | None,
    budget_gpu_hours: Decimal | None,
) -> Reproduction:
    """Change the due date and compute budget: the proposer, an assignee or a curator."""
    if not (can_manage(reproduction, membership) or can_assign(reproduction, membership)):
        raise PermissionDenied("Only the proposer, an assignee or a curator changes the plan.")
    reproduction.due_date = due_date
    reproduction.compute_budget_gpu_hours = budget_gpu_hours
    reproduction.updated_at = timezone.now()
    reproduction.save(update_fields=["due_date", "compute_budget_gpu_hours", "updated_at"])
    _event(
        reproduction,
        membership.user,
        EventKind.PLAN,
        note=f"due {due_date or '-'}, budget {budget_gpu_hours or '-'} GPU-h",
    )
    return reproduction


@transaction.atomic
def reproduction_transition(
    *,
    reproduction: Reproduction,
    membership: Membership,
    to_status: str,
    reason: str = "",
) -> Reproduction:
    """Move a reproduction to `to_status`, checking who may and where it may go.

    Finishing takes the outcome the claims give. Choosing another outcome (or finishing with
    no verdict yet) is an override: an assignee only, with a reason.
    """
    reproduction = Reproduction.objects.select_for_update().get(pk=reproduction.pk)
    _check_team(reproduction, membership)
    if not can_manage(reproduction, membership):
        raise PermissionDenied("Only assignees and curators change a reproduction's status.")
    from_status = reproduction.status
    if to_status not in TRANSITIONS.get(from_status, set()):
        raise ValidationError(
            f"A reproduction cannot go from {Status(from_status).label} "
            f"to {Status(to_status).label if to_status in Status.values else to_status}."
        )
    reason = reason.strip()
    now = timezone.now()
    update: dict[str, Any] = {"status": to_status, "updated_at": now}
    if to_status == Status.ABANDONED:
        if not reason:
            raise ValidationError("Say why the reproduction is abandoned.")
        update["abandon_reason"] = reason
        update["finished_at"] = now
    elif to_status in FINISHED_STATUSES:
        computed = reproduction_outcome(reproduction)
        if to_status != computed:
            if not is_assignee(reproduction, membership.user):
                raise PermissionDenied(
                    "Only an assignee can set an outcome other than the claims' verdicts."
                )
            if not reason:
                raise ValidationError(
                    "The claims give "
                    + (Status(computed).label if computed else "no verdict yet")
                    + ": give a reason to record a different outcome."
                )
            update["outcome_override_reason"] = reason
        else:
            update["outcome_override_reason"] = ""
        update["finished_at"] = now
    elif to_status == Status.ACCEPTED:
        update["accepted_at"] = now
    elif to_status == Status.IN_PROGRESS:
        update["started_at"] = reproduction.started_at or now
        update["finished_at"] = None
    elif to_status == Status.PROPOSED:
        update["abandon_reason"] = ""
        update["finished_at"] = None
    for name, value in update.items():
        setattr(reproduction, name, value)
    reproduction.save(update_fields=list(update))
    _event(
        reproduction,
        membership.user,
        EventKind.STATUS,
        from_status=from_status,
        to_status=to_status,
        note=reason,
    )
    return reproduction


@transaction.atomic
def claim_create(
    *,
    membership: Membership,
    paper: Paper,
    metric: str,
    dataset: str,
    claimed_value: float,
    setting: str = "",
    higher_is_better: bool = True,
    tolerance: float = 0.0,
    location: str = "",
    location_ref: str = "",
    quote: str = "",
    paper_version: int | None = None,
    **protocol: Any,
) -> Claim:
    """Record a claim, where it stands in the paper, the version it was read from (the
    paper's current one unless said) and the protocol the paper reports."""
    if tolerance < 0:
        raise ValidationError("The tolerance cannot be negative.")
    return Claim.objects.create(
        team=membership.team,
        paper=paper,
        metric=metric.strip(),
        dataset=dataset.strip(),
        setting=setting.strip(),
        claimed_value=claimed_value,
        higher_is_better=higher_is_better,
        tolerance=tolerance,
        location=location,
        location_ref=location_ref.strip(),
        quote=quote.strip(),
        paper_version=paper_version or paper.version,
        created_by=membership.user,
        **_protocol_values(protocol),
    )


def _protocol_values(values: dict[str, Any]) -> dict[str, Any]:
    """Only the protocol's own fields, text stripped and a blank shots count as unknown."""
    out: dict[str, Any] = {}
    for name in PROTOCOL_NAMES:
        if name not in values:
            continue
        value = values[name]
        if name == "shots":
            out[name] = None if value in (None, "") else int(value)
        else:
            out[name] = (value or "").strip()
    unknown = set(values) - set(PROTOCOL_NAMES)
    if unknown:
        raise TypeError(f"not protocol fields: {sorted(unknown)}")
    return out


@transaction.atomic
def result_log(
    *,
    reproduction: Reproduction,
    membership: Membership,
    claim: Claim,
    reproduced_value: float,
    seeds: list[int] | None = None,
    spread: float | None = None,
    compute_gpu_hours: Decimal = Decimal(0),
    run_url: str = "",
    note: str = "",
    dataset: str = "",
    **protocol: Any,
) -> ResultLog:
    """Log a result against one of the paper's claims and add its compute to the spent total.

    On a finished reproduction whose outcome was not overridden, the outcome follows the new
    verdicts at once, with an event saying so.
    """
    _check_team(reproduction, membership)
    if not can_manage(reproduction, membership):
        raise PermissionDenied("Only assignees and curators log results.")
    if claim.team_id != reproduction.team_id or claim.paper_id != reproduction.paper_id:
        raise ValidationError("That claim is not one of this paper's claims.")
    if compute_gpu_hours < 0:
        raise ValidationError("Compute cannot be negative.")
    # The row lock makes the check and the addition one step, so two results logged at once
    # cannot together push the total past what its column holds (the write would fail).
    spent = (
        Reproduction.objects.select_for_update()
        .values_list("compute_spent_gpu_hours", flat=True)
        .get(pk=reproduction.pk)
    )
    if spent + compute_gpu_hours > GPU_HOURS_MAX:
        raise ValidationError(
            {
                "compute_gpu_hours": f"With {spent:,} GPU-hours already spent, this would take "
                f"the total past the {GPU_HOURS_MAX:,} GPU-hours a reproduction can record."
            }
        )
    result = ResultLog.objects.create(
        reproduction=reproduction,
        claim=claim,
        reproduced_value=reproduced_value,
        seeds=list(seeds or []),
        spread=spread,
        compute_gpu_hours=compute_gpu_hours,
        run_url=run_url,
        note=note,
        logged_by=membership.user,
        # The version the result was measured against: the paper's newest when logged.
        dataset=dataset.strip(),
        paper_version=Paper.objects.values_list("version", flat=True).get(pk=claim.paper_id),
        **_protocol_values(protocol),
    )
    Reproduction.objects.filter(pk=reproduction.pk).update(
        compute_spent_gpu_hours=F("compute_spent_gpu_hours") + compute_gpu_hours,
        updated_at=timezone.now(),
    )
    reproduction.refresh_from_db()
    _event(
        reproduction,
        membership.user,
        EventKind.RESULT,
        note=f"{claim.metric} on {claim.dataset}: {reproduced_value:g}",
    )
    if reproduction.status in FINISHED_STATUSES and not reproduction.outcome_override_reason:
        computed = reproduction_outcome(reproduction)
        if computed and computed != reproduction.status:
            from_status = reproduction.status
            Reproduction.objects.filter(pk=reproduction.pk).update(status=computed)
            reproduction.status = computed
            _event(
                reproduction,
                membership.user,
                EventKind.STATUS,
                from_status=from_status,
                to_status=computed,
                note="outcome follows the claims' verdicts",
            )
    return result


def llm_config() -> LLMConfig | None:
    """The LLM endpoint that drafts claims, or None when none is configured (the default)."""
    if not settings.LLM_BASE_URL or not settings.LLM_MODEL:
        return None
    return LLMConfig(
        base_url=settings.LLM_BASE_URL,
        model=settings.LLM_MODEL,
        api_key=settings.LLM_API_KEY,
        timeout=settings.LLM_TIMEOUT_SECONDS,
    )


def claim_drafts_create(paper_ids: Sequence[int]) -> int:
    """Draft claims for those of these papers that have no drafts yet; returns how many
    drafts were stored. Safe to run twice: a paper's drafts are unique by position. A paper
    whose drafting fails is logged and skipped, never blocking the others."""
    config = llm_config()
    papers = (
        Paper.objects.filter(pk__in=list(paper_ids), merged_into__isnull=True)
        .exclude(pk__in=ClaimDraft.objects.values("paper_id"))
        .order_by("pk")
        .values_list("pk", "title", "abstract", "comment")
    )
    stored = 0
    for pk, title, abstract, comment in papers:
        try:
            result = draft_claims(title, abstract, comment, llm=config)
        except Exception:
            log.exception("drafting claims for paper %s failed", pk)
            continue
        if result.error:
            log.warning("claims for paper %s drafted by the rules: %s", pk, result.error)
        drafts = [
            ClaimDraft(
                paper_id=pk,
                position=position,
                value=claim.value,
                unit=claim.unit,
                metric=claim.metric,
                dataset=claim.dataset,
                kind=claim.kind,
                higher_is_better=claim.direction != "lower",
                quote=claim.quote,
                backend=result.backend,
            )
            for position, claim in enumerate(result.claims)
        ]
        ClaimDraft.objects.bulk_create(drafts, ignore_conflicts=True)
        stored += len(drafts)
    return stored


def _check_draft_open(draft: ClaimDraft) -> None:
    if draft.paper.merged_into_id:
        raise ValidationError("This paper was merged into another; its drafts are closed.")


@transaction.atomic
def claim_draft_accept(
    *,
    membership: Membership,
    draft: ClaimDraft,
    metric: str,
    dataset: str,
    claimed_value: float,
    higher_is_better: bool,
    tolerance: float = 0.0,
    setting: str = "",
    **details: Any,
) -> Claim:
    """The draft, as drafted or as edited, becomes one of the team's claims. Accepting it
    twice (a double click, two members at once) makes one claim: the decision is unique.

    The claim keeps the draft's quote and where it was read (the abstract, when the quote
    is in it) unless the person said otherwise; `details` are claim_create's provenance and
    protocol fields."""
    _check_draft_open(draft)
    if not metric.strip():
        raise ValidationError("Name the metric before accepting the claim.")
    try:
        with transaction.atomic():
            decision = ClaimDraftDecision.objects.create(
                team=membership.team,
                draft=draft,
                decision=DraftDecision.ACCEPTED,
                decided_by=membership.user,
                decided_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise ValidationError("The team has already decided on this drafted claim.") from exc
    claim = claim_create(
        membership=membership,
        paper=draft.paper,
        metric=metric,
        dataset=dataset,
        claimed_value=claimed_value,
        setting=setting,
        higher_is_better=higher_is_better,
        tolerance=tolerance,
        **{
            **details,
            "quote": details.get("quote") or draft.quote,
            "location": details.get("location")
            or ("abstract" if draft.quote and draft.quote in draft.paper.abstract else ""),
        },
    )
    ClaimDraftDecision.objects.filter(pk=decision.pk).update(claim=claim)
    return claim


def claim_draft_reject(*, membership: Membership, draft: ClaimDraft) -> bool:
    """Hide the draft from the team; False when the team had already decided on it."""
    _check_draft_open(draft)
    _, created = ClaimDraftDecision.objects.get_or_create(
        team=membership.team,
        draft=draft,
        defaults={
            "decision": DraftDecision.REJECTED,
            "decided_by": membership.user,
            "decided_at": timezone.now(),
        },
    )
    return created


def _version_abstracts(paper_id: int) -> dict[int, str]:
    return dict(PaperVersion.objects.filter(paper_id=paper_id).values_list("version", "abstract"))


def claims_recheck_flag(paper_ids: Sequence[int]) -> int:
    """Flag every claim read from an older version of these papers "re-check against vN",
    with what the abstract changed, and tell the assignees of the papers' reproductions
    (an event on the reproduction, and an email to those who have an address).

    Safe twice: a claim already flagged for this version (or read from it) is left alone,
    so a redelivered task notifies nobody again. One paper's failure never blocks others.
    Returns how many claims were flagged."""
    flagged_total = 0
    for paper in Paper.objects.filter(pk__in=list(paper_ids)).only("pk", "version", "title"):
        try:
            flagged_total += _paper_claims_recheck_flag(paper)
        except Exception:
            log.exception("flagging the claims of paper %s for a re-check failed", paper.pk)
    return flagged_total


@transaction.atomic
def _paper_claims_recheck_flag(paper: Paper) -> int:
    version = paper.version
    stale = (
        Claim.objects.filter(paper=paper)
        .filter(Q(paper_version__isnull=True) | Q(paper_version__lt=version))
        .filter(Q(recheck_version__isnull=True) | Q(recheck_version__lt=version))
    )
    abstracts = _version_abstracts(paper.pk)
    per_team: dict[int, int] = {}
    for claim in stale.only("pk", "team_id", "paper_version"):
        read_from = claim.paper_version or max((v for v in abstracts if v < version), default=0)
        diff = abstract_diff(abstracts.get(read_from, ""), abstracts.get(version, ""))
        # Conditional, so two workers flagging the same claim flag (and notify) once.
        if (
            Claim.objects.filter(pk=claim.pk)
            .filter(Q(recheck_version__isnull=True) | Q(recheck_version__lt=version))
            .update(recheck_version=version, recheck_diff=diff)
        ):
            per_team[claim.team_id] = per_team.get(claim.team_id, 0) + 1
    for reproduction in (
        Reproduction.objects.filter(paper=paper, team_id__in=list(per_team))
        .prefetch_related("assignees")
        .order_by("pk")
    ):
        count = per_team[reproduction.team_id]
        note = f"v{version} of the paper arrived: {count} claim(s) to re-check against v{version}"
        _event(reproduction, None, EventKind.RECHECK, note=note)
        recipients = [u.email for u in reproduction.assignees.all() if u.email]
        if recipients:
            transaction.on_commit(partial(_recheck_mail, reproduction, recipients, note))
    return sum(per_team.values())


def _recheck_mail(reproduction: Reproduction, recipients: list[str], note: str) -> None:
    url = settings.SITE_URL.rstrip("/") + reverse("reproductions:detail", args=[reproduction.pk])
    try:
        send_mail(
            subject=f"Re-check claims: {reproduction.paper.title[:150]}",
            message=f"{note}.\n\nThe claims and what the abstract changed: {url}\n",
            from_email=None,
            recipient_list=recipients,
        )
    except (smtplib.SMTPException, OSError):
        # The flag is on the reproduction's page whatever the mail server does.
        log.warning("re-check notice for reproduction %s not sent", reproduction.pk)


@transaction.atomic
def claim_recheck_done(*, membership: Membership, claim: Claim) -> Claim:
    """Someone checked the claim against the newer version: it now refers to that one."""
    if claim.team_id != membership.team_id:
        raise PermissionDenied("This claim belongs to another team.")
    if claim.recheck_version is None:
        return claim
    Claim.objects.filter(pk=claim.pk).update(
        paper_version=claim.recheck_version, recheck_version=None, recheck_diff=""
    )
    claim.refresh_from_db()
    return claim
