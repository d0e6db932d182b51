"""Clustering runs, topics that keep their identity across runs, membership and follows."""

from __future__ import annotations

from typing import Self

import numpy as np
from django.conf import settings
from django.db import models
from django.utils import timezone

from tracker.papers.models import Paper, RunStatus


class ClusteringRun(models.Model):
    model_name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    paper_count = models.PositiveIntegerField(default=0)
    topic_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Clustering {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class TopicQuerySet(models.QuerySet["Topic"]):
    def active(self) -> Self:
        return self.filter(active=True, merged_into__isnull=True)


class Topic(models.Model):
    label = models.CharField(max_length=200)
    label_locked = models.BooleanField(
        default=False, help_text="A curator's label: re-clustering keeps it."
    )
    keywords = models.JSONField(default=list, blank=True)
    size = models.PositiveIntegerField(default=0)
    centroid = models.BinaryField(null=True, blank=True, help_text="float32, L2-normalised.")
    active = models.BooleanField(default=True, db_index=True)
    created_run = models.ForeignKey(
        ClusteringRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_run = models.ForeignKey(
        ClusteringRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="topics"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_topics"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Position on the topics map, in [0, 1]; set by each clustering run.
    map_x = models.FloatField(null=True, blank=True)
    map_y = models.FloatField(null=True, blank=True)

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["-size", "label"]

    def __str__(self) -> str:
        return self.label

    def centroid_array(self) -> np.ndarray | None:
        if self.centroid is None:
            return None
        return np.frombuffer(bytes(self.centroid), dtype="<f4")


class PaperTopic(models.Model):
    """A paper's topic: one per paper, set by a run or, between runs, by nearest centroid."""

    paper = models.OneToOneField(Paper, on_delete=models.CASCADE, related_name="paper_topic")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="paper_topics")
    run = models.ForeignKey(ClusteringRun, null=True, blank=True, on_delete=models.SET_NULL)
    similarity = models.FloatField(default=0.0)
    assigned_at = models.DateTimeField(default=timezone.now)
    # Position on the topics map, in [0, 1].
    map_x = models.FloatField(null=True, blank=True)
    map_y = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["topic", "paper"], name="papertopic_topic_paper"),
            # A topic's most central papers first (the map's hover title, a topic's best
            # papers): the walk stops at the first paper shown, where without it every
            # paper of every topic was read and sorted (22 s for the map at a million).
            models.Index(fields=["topic", "-similarity", "paper"], name="papertopic_central"),
        ]

    def __str__(self) -> str:
        return f"{self.paper_id} in {self.topic_id}"


class TopicFollow(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="topic_follows"
    )
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="follows")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "topic"], name="topicfollow_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.topic}"
