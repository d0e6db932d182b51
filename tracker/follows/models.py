"""Follows, the alerts they raise, and the webhooks alerts are delivered to.

A follow belongs to a member of a team, or to the team's channel (no member): the channel's
alerts go to every member's notification list and to the team's channel webhooks. Each
(follow, paper) raises one alert, and each (follow, code event) one more; each alert is
delivered once to each webhook of its owner. Unique constraints make that hold when two
workers match the same paper at once.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from pipeline import follows as rules
from tracker.papers.models import CodeEvent, Paper, Source
from tracker.teams.models import Team, TeamScopedQuerySet
from tracker.topics.models import Topic


class FollowKind(models.TextChoices):
    AUTHOR = rules.AUTHOR, "Author"
    LAB = rules.LAB, "Lab"
    SOURCE = rules.SOURCE, "Source"
    KEYWORD = rules.KEYWORD, "Keyword"
    SEARCH = rules.SEARCH, "Saved search"
    TOPIC = rules.TOPIC, "Topic"
    PAPER = rules.PAPER, "More like this paper"


class Follow(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="follows",
        help_text="Empty: the team channel's follow.",
    )
    kind = models.CharField(max_length=12, choices=FollowKind.choices)
    value = models.CharField(max_length=300, help_text="Normalised name, words or id.")
    label = models.CharField(max_length=300, help_text="As shown to people.")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.CASCADE)
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.CASCADE)
    paper = models.ForeignKey(
        Paper, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user", "kind", "value"],
                condition=Q(user__isnull=False),
                name="follow_unique_member",
            ),
            models.UniqueConstraint(
                fields=["team", "kind", "value"],
                condition=Q(user__isnull=True),
                name="follow_unique_channel",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=FollowKind.values), name="follow_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.label}"

    @property
    def is_channel(self) -> bool:
        return self.user_id is None

    @property
    def reason(self) -> str:
        """Why a match is shown: "you follow Yann LeCun", "the team follows cs.CL"."""
        who = "the team follows" if self.is_channel else "you follow"
        if self.kind == FollowKind.PAPER:
            return f"more like “{self.label}”, which {who}"
        if self.kind == FollowKind.SEARCH:
            return f"{who} the search “{self.label}”"
        if self.kind == FollowKind.KEYWORD:
            return f"{who} “{self.label}”"
        return f"{who} {self.label}"


class Alert(models.Model):
    """A follow's new match: a paper, or a code event of a paper. What the notification
    list shows and what webhooks deliver."""

    follow = models.ForeignKey(Follow, on_delete=models.CASCADE, related_name="alerts")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="+")
    code_event = models.ForeignKey(
        CodeEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(max_length=400)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["follow", "paper"],
                condition=Q(code_event__isnull=True),
                name="alert_unique_follow_paper",
            ),
            models.UniqueConstraint(
                fields=["follow", "code_event"],
                condition=Q(code_event__isnull=False),
                name="alert_unique_follow_code_event",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason}: {self.paper_id}"


class AlertsSeen(models.Model):
    """When a member last opened the team's notification list: newer alerts are unread."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="alertsseen_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} saw {self.team}'s alerts at {self.seen_at:%Y-%m-%d %H:%M}"


def new_secret() -> str:
    return secrets.token_hex(32)


class Webhook(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhooks")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhooks",
        help_text="Empty: the team channel's webhook.",
    )
    url = models.URLField(max_length=1000)
    secret = models.CharField(max_length=64, default=new_secret)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # A claim older than this is a worker that died mid-send: the row may be claimed again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["alert", "webhook"], name="delivery_unique"),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alert} -> {self.webhook} ({self.status})"
