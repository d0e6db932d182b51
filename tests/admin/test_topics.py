"""Curators rename and lock topics, merge them, and ask for a new clustering run."""

from __future__ import annotations

from unittest import mock

from django.contrib.admin.models import LogEntry
from django.test import Client

from tests.conftest import Cast
from tests.factories import PaperFactory
from tracker.topics.models import ClusteringRun, PaperTopic, Topic, TopicFollow


def test_renaming_in_the_list_locks_the_label(curator: Client, db: None) -> None:
    topic = Topic.objects.create(label="cluster 7", size=3)
    response = curator.post(
        "/admin/topics/topic/",
        {
            "form-TOTAL_FORMS": 1,
            "form-INITIAL_FORMS": 1,
            "form-0-id": topic.pk,
            "form-0-label": "Speculative decoding",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    topic.refresh_from_db()
    assert (topic.label, topic.label_locked) == ("Speculative decoding", True)


def test_merging_topics_moves_papers_and_followers(cast: Cast, curator: Client) -> None:
    big = Topic.objects.create(label="RLHF", size=2)
    small = Topic.objects.create(label="reward models", size=1)
    for topic in (big, big, small):
        PaperTopic.objects.create(paper=PaperFactory(), topic=topic)
    TopicFollow.objects.create(user=cast.ben, topic=small)

    page = curator.post(
        "/admin/topics/topic/", {"action": "merge_topics", "_selected_action": [big.pk, small.pk]}
    )
    assert page.status_code == 200 and b"Merge topics" in page.content
    curator.post(
        "/admin/topics/topic/",
        {"action": "merge_topics", "_selected_action": [big.pk, small.pk], "survivor": big.pk},
    )
    big.refresh_from_db()
    small.refresh_from_db()
    assert big.size == 3 and PaperTopic.objects.filter(topic=big).count() == 3
    assert (small.merged_into, small.active, small.size) == (big, False, 0)
    assert TopicFollow.objects.filter(user=cast.ben, topic=big).exists()
    assert LogEntry.objects.filter(user=cast.ada, object_id=str(small.pk)).exists()


def test_rerun_clustering_queues_the_task_after_commit(
    cast: Cast,
    curator: Client,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    ClusteringRun.objects.create(
        model_name="m", metrics={"silhouette": 0.4123, "noise_fraction": 0.1}, paper_count=9
    )
    listing = curator.get("/admin/topics/clusteringrun/")
    assert b"silhouette=0.412" in listing.content and b"Re-run clustering" in listing.content
    run = ClusteringRun.objects.get()
    detail = curator.get(f"/admin/topics/clusteringrun/{run.pk}/change/")
    assert b"<th>noise_fraction</th>" in detail.content

    with (
        mock.patch("workers.tasks.cluster_papers_task.delay") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = curator.post("/admin/topics/topic/recluster/")
        assert response.status_code == 302
    send.assert_called_once_with()
    assert LogEntry.objects.filter(user=cast.ada, object_repr="Re-run clustering").exists()
