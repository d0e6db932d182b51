"""A team's ratings, skips and comments on papers; every row belongs to one team."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tracker.papers.models import Paper
from tracker.teams.models import Team, TeamScopedQuerySet


class Rating(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="ratings")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings"
    )
    value = models.PositiveSmallIntegerField(help_text="Value of the paper for the team, 1 to 5.")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["team", "paper"], name="rating_team_paper"),
            # The inbox's "not rated by me" reads one member's rated papers: with the paper
            # in the index that is an index-only scan, not a heap visit per rating.
            models.Index(fields=["user", "team", "paper"], name="rating_member_paper"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["team", "paper", "user"], name="rating_one_per_member"),
            models.CheckConstraint(
                condition=models.Q(value__gte=1, value__lte=5), name="rating_value_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} rates {self.paper_id}: {self.value}"


class RatingHistory(models.Model):
    """Earlier values of a rating: changed by its author, or displaced by a paper merge."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    value = models.PositiveSmallIntegerField()
    note = models.TextField(blank=True)
    rated_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=32, default="changed")

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name_plural = "rating history"

    def __str__(self) -> str:
        return f"{self.user} rated {self.paper_id}: {self.value} ({self.reason})"


class Skip(models.Model):
    """A member passed over a paper in the inbox without rating it, or said outright that
    it does not interest them (a stronger negative for their ranking)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="skips")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    not_interested = models.BooleanField(default=False)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        # Same read as the ratings' rating_member_paper: one member's skipped papers.
        indexes = [models.Index(fields=["user", "team", "paper"], name="skip_member_paper")]
        constraints = [
            models.UniqueConstraint(fields=["team", "paper", "user"], name="skip_one_per_member"),
        ]

    def __str__(self) -> str:
        return f"{self.user} skipped {self.paper_id}"


class Comment(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="comments")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} on {self.paper_id}"


class Assignment(models.Model):
    """A paper in one member's share of the team's reading: the team's k readers of it."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    # How well the paper matched the member when it was given to them (0 to 1, their
    # ranking's percentile of it among the papers shared out together).
    affinity = models.FloatField(default=0.0)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["user", "team", "paper"], name="assignment_member_paper"),
            models.Index(fields=["team", "paper"], name="assignment_team_paper"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "paper", "user"], name="assignment_one_per_member"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.paper_id} to {self.user}"
