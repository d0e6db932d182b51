"""Reproductions, the claims they test, the results logged against them, and their history."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from django.conf import settings
from django.db import models
from django.utils import timezone

from tracker.papers.models import Paper
from tracker.teams.models import Team, TeamScopedQuerySet, UserLike


class Status(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACCEPTED = "accepted", "Accepted"
    IN_PROGRESS = "in_progress", "In progress"
    REPRODUCED = "reproduced", "Reproduced"
    PARTLY_REPRODUCED = "partly_reproduced", "Partly reproduced"
    NOT_REPRODUCED = "not_reproduced", "Not reproduced"
    ABANDONED = "abandoned", "Abandoned"


OPEN_STATUSES = (Status.PROPOSED, Status.ACCEPTED, Status.IN_PROGRESS)
FINISHED_STATUSES = (Status.REPRODUCED, Status.PARTLY_REPRODUCED, Status.NOT_REPRODUCED)

# Sizes the columns, the portal's forms and the API's schemas share, so that what a form or
# the API accepts always fits the database.
NOTE_MAX_LENGTH = 5000
REASON_MAX_LENGTH = 2000
RUN_URL_MAX_LENGTH = 1000
GPU_HOURS_MAX_DIGITS = 10
GPU_HOURS_DECIMAL_PLACES = 2
# The largest amount a numeric(10, 2) column holds: 99,999,999.99.
GPU_HOURS_MAX = Decimal(10) ** (GPU_HOURS_MAX_DIGITS - GPU_HOURS_DECIMAL_PLACES) - Decimal(
    1
).scaleb(-GPU_HOURS_DECIMAL_PLACES)


class ReproductionQuerySet(TeamScopedQuerySet):
    def open(self) -> Self:
        return self.filter(status__in=OPEN_STATUSES)

    def finished(self) -> Self:
        return self.filter(status__in=FINISHED_STATUSES)


def spent_past_budget(spent: Decimal | None, budget: Decimal | None) -> bool:
    """More GPU-hours spent than budgeted; never without a budget."""
    if not budget:
        return False
    return (spent or 0) > budget


class Reproduction(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="reproductions")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="reproductions")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="assigned_reproductions"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PROPOSED, db_index=True
    )
    outcome_override_reason = models.TextField(
        blank=True, help_text="Why the outcome differs from what the claims' verdicts give."
    )
    abandon_reason = models.TextField(blank=True)
    due_date = models.DateField(null=True, blank=True)
    compute_budget_gpu_hours = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    compute_spent_gpu_hours = models.DecimalField(
        max_digits=GPU_HOURS_MAX_DIGITS, decimal_places=GPU_HOURS_DECIMAL_PLACES, default=0
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ReproductionQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="reproduction_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(compute_spent_gpu_hours__gte=0),
                name="reproduction_spent_nonnegative",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=Status.ABANDONED) | ~models.Q(abandon_reason=""),
                name="reproduction_abandon_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Reproduction of {self.paper} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def over_budget(self) -> bool:
        return spent_past_budget(self.compute_spent_gpu_hours, self.compute_budget_gpu_hours)


class EventKind(models.TextChoices):
    """What happened, as the history reads it after the actor's name."""

    PROPOSED = "proposed", "proposed"
    ASSIGNED = "assigned", "assigned"
    PLAN = "plan", "changed the plan"
    RESULT = "result", "logged a result"
    STATUS = "status", "changed the status"
    RECHECK = "recheck", "flagged claims to re-check"


class ReproductionEvent(models.Model):
    """Every status change, assignment and override: who, when, from what to what."""

    reproduction = models.ForeignKey(Reproduction, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32, default="status", choices=EventKind.choices)
    from_status = models.CharField(max_length=20, blank=True, choices=Status.choices)
    to_status = models.CharField(max_length=20, blank=True, choices=Status.choices)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.reproduction_id}: {self.from_status} -> {self.to_status}"


class Protocol(models.Model):
    """How a number was measured. A claim records the protocol the paper reports; a result
    the one it ran with; comparing them says whether a miss can be called a miss (LLM
    results in particular move with shots, decoding and harness)."""

    split = models.CharField(max_length=60, blank=True, help_text="e.g. test, validation")
    metric_definition = models.CharField(
        max_length=200, blank=True, help_text="e.g. exact match, pass@1, macro-F1"
    )
    shots = models.PositiveSmallIntegerField(null=True, blank=True)
    decoding = models.CharField(max_length=120, blank=True, help_text="e.g. greedy, T=0.7")
    harness = models.CharField(max_length=120, blank=True, help_text="e.g. lm-eval-harness")
    harness_version = models.CharField(max_length=60, blank=True)
    model_checkpoint = models.CharField(max_length=200, blank=True)
    compute = models.CharField(max_length=120, blank=True, help_text="e.g. 8xA100, bf16")

    class Meta:
        abstract = True


class ClaimLocation(models.TextChoices):
    ABSTRACT = "abstract", "abstract"
    TABLE = "table", "table"
    FIGURE = "figure", "figure"
    SECTION = "section", "section/page"


class Claim(Protocol):
    """A number the paper claims, recorded by a team so it can be tested."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="claims")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="claims")
    metric = models.CharField(max_length=120)
    dataset = models.CharField(max_length=200)
    setting = models.CharField(max_length=300, blank=True)
    claimed_value = models.FloatField()
    higher_is_better = models.BooleanField(default=True)
    tolerance = models.FloatField(
        default=0.0, help_text="How far below the claim (absolute) still counts as reproduced."
    )
    location = models.CharField(
        max_length=10, choices=ClaimLocation.choices, blank=True, help_text="Where it stands."
    )
    location_ref = models.CharField(
        max_length=100, blank=True, help_text="e.g. Table 2, Figure 3, section 4.1 p. 6"
    )
    quote = models.TextField(blank=True, help_text="The paper's words the claim is read from.")
    paper_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The paper's version the claim was read from."
    )
    # Set when a newer version of the paper arrived after the claim was read; cleared when
    # someone has checked the claim against it.
    recheck_version = models.PositiveIntegerField(null=True, blank=True)
    recheck_diff = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["paper", "metric", "dataset"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tolerance__gte=0), name="claim_tolerance_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} on {self.dataset}: {self.claimed_value}"


class ResultLogQuerySet(models.QuerySet["ResultLog"]):
    def for_user(self, user: UserLike) -> Self:
        return self.filter(reproduction__in=Reproduction.objects.for_user(user))


class ResultLog(Protocol):
    reproduction = models.ForeignKey(Reproduction, on_delete=models.CASCADE, related_name="results")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="results")
    reproduced_value = models.FloatField()
    seeds = models.JSONField(default=list, blank=True, help_text="Seeds used, e.g. [0, 1, 2].")
    spread = models.FloatField(null=True, blank=True, help_text="Std. dev. over seeds.")
    dataset = models.CharField(
        max_length=200, blank=True, help_text="When it differs from the claim's, or to confirm it."
    )
    paper_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The paper's version when the result was logged."
    )
    compute_gpu_hours = models.DecimalField(
        max_digits=GPU_HOURS_MAX_DIGITS, decimal_places=GPU_HOURS_DECIMAL_PLACES, default=0
    )
    run_url = models.URLField(max_length=RUN_URL_MAX_LENGTH, blank=True)
    note = models.TextField(blank=True)
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ResultLogQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(compute_gpu_hours__gte=0), name="resultlog_compute_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim}: {self.reproduced_value}"


class DraftKind(models.TextChoices):
    ABSOLUTE = "absolute", "score"
    IMPROVEMENT = "improvement", "improvement"
    RATIO = "ratio", "ratio"


class ClaimDraft(models.Model):
    """A claim drafted from a paper's own text, waiting for a person in each team to accept
    (it becomes that team's Claim), edit then accept, or reject. Drafts belong to the paper,
    like its abstract; what each team decided is a ClaimDraftDecision."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="claim_drafts")
    position = models.PositiveSmallIntegerField(help_text="Order within the paper's drafts.")
    value = models.FloatField()
    unit = models.CharField(max_length=20, blank=True)
    metric = models.CharField(max_length=120, blank=True)
    dataset = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=12, choices=DraftKind.choices, default=DraftKind.ABSOLUTE)
    higher_is_better = models.BooleanField(default=True)
    quote = models.TextField(help_text="The sentence of the paper's text the claim is read from.")
    backend = models.CharField(max_length=10, default="rules", help_text="rules or llm")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["paper", "position"]
        constraints = [
            # Drafting a paper twice (a redelivered task) adds nothing the second time.
            models.UniqueConstraint(
                fields=["paper", "position"], name="claimdraft_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"draft: {self.metric or 'value'} {self.value:g}{self.unit}"


class DraftDecision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class ClaimDraftDecision(models.Model):
    """One team's answer to one draft; the unique pair makes a double click accept once."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="claim_draft_decisions")
    draft = models.ForeignKey(ClaimDraft, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=10, choices=DraftDecision.choices)
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "draft"], name="claimdraftdecision_once"),
        ]

    def __str__(self) -> str:
        return f"{self.team_id}: {self.decision} draft {self.draft_id}"
