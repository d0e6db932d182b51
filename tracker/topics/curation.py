"""A curator's writes on topics: labels that survive re-clustering, merges, a new run."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count

from tracker.topics.models import PaperTopic, Topic, TopicFollow
from tracker.topics.selectors import topics_changed


def topic_label_set(topic: Topic, label: str, *, locked: bool = True) -> Topic:
    """A curator's label; locked, re-clustering keeps it."""
    topic.label = label
    topic.label_locked = locked
    topic.save(update_fields=["label", "label_locked"])
    return topic


@transaction.atomic
def topic_merge(survivor: Topic, others: Iterable[Topic]) -> Topic:
    """Fold topics into `survivor`: their papers and followers move, they go inactive."""
    other_ids = [t.pk for t in others if t.pk != survivor.pk]
    # Locked in id order so a clustering run writing the same rows waits instead of
    # interleaving.
    list(Topic.objects.select_for_update().filter(pk__in=[survivor.pk, *other_ids]).order_by("pk"))
    PaperTopic.objects.filter(topic_id__in=other_ids).update(topic=survivor)
    # Whoever followed a merged topic keeps seeing its papers under the survivor.
    followers = TopicFollow.objects.filter(topic_id__in=other_ids).values_list("user_id", flat=True)
    TopicFollow.objects.bulk_create(
        [TopicFollow(user_id=user_id, topic=survivor) for user_id in set(followers)],
        ignore_conflicts=True,
    )
    Topic.objects.filter(pk__in=other_ids).update(merged_into=survivor, active=False, size=0)
    survivor.size = PaperTopic.objects.filter(topic=survivor).aggregate(n=Count("pk"))["n"]
    survivor.save(update_fields=["size"])
    transaction.on_commit(topics_changed)
    return survivor


def clustering_enqueue() -> None:
    """Ask the ml worker for a clustering run once the current transaction commits."""
    from workers.tasks import cluster_papers_task  # task object only, to enqueue

    # Celery's Django task class has delay_on_commit; the celery-types stubs do not know it.
    cluster_papers_task.delay_on_commit()  # type: ignore[attr-defined]
