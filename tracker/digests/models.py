"""Who gets the weekly digest when, and which digests went out."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class DigestPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_preference"
    )
    enabled = models.BooleanField(default=True)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    hour = models.PositiveSmallIntegerField(default=8)
    timezone = models.CharField(max_length=64, default="UTC")
    # Stored so the beat tick finds due members with one indexed query.
    next_send_at = models.DateTimeField(null=True, blank=True, db_index=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hour__gte=0, hour__lte=23), name="digestpref_hour_0_23"
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="digestpref_weekday_0_6"
            ),
        ]

    def __str__(self) -> str:
        return f"Digest for {self.user}"


class SendStatus(models.TextChoices):
    # Recorded with the beat's claim, before the task message exists: a message lost with
    # the broker leaves this row behind, and the next beat tick queues it again.
    QUEUED = "queued", "Queued"
    CLAIMED = "claimed", "Claimed"
    SENT = "sent", "Sent"
    EMPTY = "empty", "Nothing to send"
    FAILED = "failed", "Failed"


class DigestSend(models.Model):
    """One member's digest for one week: the unique pair is what makes a send happen once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_sends"
    )
    week = models.DateField(help_text="Monday of the ISO week the digest covers.")
    status = models.CharField(max_length=16, choices=SendStatus.choices, default=SendStatus.CLAIMED)
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week"]
        constraints = [
            models.UniqueConstraint(fields=["user", "week"], name="digestsend_once_per_week"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.week} ({self.status})"
