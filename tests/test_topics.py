"""Topics: labelled clusters of real papers that keep their identity, trends, pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pipeline import clustering as clusterer
from tests.conftest import client_for
from tests.embedding_helpers import load_embedded, require_corpus
from tests.factories import PaperFactory, RatingFactory, ReproductionFactory
from tracker.papers.embeddings import embed_papers
from tracker.papers.models import RunStatus
from tracker.reproductions.models import Status
from tracker.topics.models import ClusteringRun, PaperTopic, Topic
from tracker.topics.selectors import (
    current_week,
    map_points,
    sparkline_points,
    topic_weekly_counts,
    topics_fastest_growing,
    week_start,
)
from tracker.topics.services import clustering_run_create
from workers.tasks import cluster_papers_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def clustered() -> ClusteringRun:
    require_corpus()
    load_embedded()
    run = clustering_run_create(k=12)
    assert run is not None
    return run


def test_run_stores_topics_with_labels_sizes_and_membership(clustered: ClusteringRun) -> None:
    assert clustered.status == RunStatus.SUCCEEDED
    assert clustered.topic_count == 12 == Topic.objects.active().count()
    assert clustered.duration_seconds is not None and clustered.duration_seconds > 0
    assert clustered.params["k"] == 12
    assert clustered.metrics["without_topic"] <= 0.05
    assert PaperTopic.objects.count() == clustered.paper_count
    assert sum(Topic.objects.values_list("size", flat=True)) == clustered.paper_count
    labels = list(Topic.objects.values_list("label", flat=True))
    assert all(label and label != "unlabelled" for label in labels)
    assert len(set(labels)) == len(labels)
    # The corpus is cs.CV / cs.CL: some topic should name images or video, some language.
    text = " ".join(labels + [w for t in Topic.objects.all() for w in t.keywords]).lower()
    vision = ("image", "video", "visual", "3d", "segmentation", "detection", "diffusion")
    language = ("language", "llm", "text", "reasoning", "translation", "retrieval", "agents")
    assert any(w in text for w in vision)
    assert any(w in text for w in language)
    assert PaperTopic.objects.filter(map_x__isnull=True).count() == 0


def test_topics_keep_identity_and_locked_labels_when_papers_are_added(
    clustered: ClusteringRun,
) -> None:
    before = dict(PaperTopic.objects.values_list("paper_id", "topic_id"))
    topic = Topic.objects.active().first()
    topic.label = "Curated name"
    topic.label_locked = True
    topic.save()
    # About 10% more papers, none of them in the first sample.
    load_embedded(step=150, offset=7)
    rerun = cluster_papers_task()
    run = ClusteringRun.objects.get(pk=rerun)
    after = dict(PaperTopic.objects.values_list("paper_id", "topic_id"))
    kept = sum(after.get(pk) == topic_id for pk, topic_id in before.items())
    assert kept / len(before) >= 0.9
    assert run.metrics["papers_kept_topic"] >= 0.9
    topic.refresh_from_db()
    assert topic.label == "Curated name" and topic.active


def test_paper_embedded_between_runs_joins_its_nearest_topic(clustered: ClusteringRun) -> None:
    member = PaperTopic.objects.select_related("paper", "topic").order_by("-similarity").first()
    twin = PaperFactory(title=member.paper.title, abstract=member.paper.abstract)
    embed_papers([twin.pk], owner="test")
    joined = PaperTopic.objects.get(paper=twin)
    assert joined.topic_id == member.topic_id
    assert joined.run is None and joined.map_x is not None
    assert Topic.objects.get(pk=member.topic_id).size == member.topic.size + 1


def test_too_few_papers_make_no_run() -> None:
    assert clustering_run_create() is None
    assert not ClusteringRun.objects.exists()


def test_match_pairs_topics_by_membership() -> None:
    centroids = np.eye(3, dtype=np.float32)
    new_labels = np.array([0, 0, 1, 1, 2, 2])
    old_labels = np.array([2, 2, 0, 0, 1, 1])
    pairs = clusterer.match(centroids, new_labels, centroids[[1, 2, 0]], old_labels)
    assert pairs == {0: 2, 1: 0, 2: 1}


def test_label_prefers_bigrams_and_never_repeats_a_word() -> None:
    label = clusterer.label_from_terms(["hallucination", "vision language", "language", "lvlms"])
    assert label == "vision language / hallucination / lvlms"


def test_weekly_counts_and_fastest_growing_topic() -> None:
    now = timezone.now()
    this_week = week_start(now)
    steady = Topic.objects.create(label="steady")
    rising = Topic.objects.create(label="rising")
    for weeks_ago in range(5):
        paper = PaperFactory(
            published_at=this_week + timedelta(days=1) - timedelta(weeks=weeks_ago)
        )
        PaperTopic.objects.create(paper=paper, topic=steady)
    for _ in range(4):
        PaperTopic.objects.create(
            paper=PaperFactory(published_at=this_week + timedelta(hours=2)), topic=rising
        )
    counts = topic_weekly_counts([steady.pk, rising.pk], weeks=6, until=this_week)
    assert counts[steady.pk] == [0, 1, 1, 1, 1, 1]
    assert counts[rising.pk] == [0, 0, 0, 0, 0, 4]
    assert [t.topic for t in topics_fastest_growing()][:1] == [rising]
    assert sparkline_points([0, 2]).startswith("0.0,26.0 120.0,2.0")


def test_an_old_corpus_counts_its_weeks_up_to_its_newest_paper_with_a_topic(
    time_machine,  # type: ignore[no-untyped-def]
) -> None:
    time_machine.move_to("2026-03-04 12:00Z", tick=False)
    topic = Topic.objects.create(label="old corpus")
    for day in (3, 10, 40):  # 2021-06-03 is a Thursday; its week starts on Monday the 1st
        paper = PaperFactory(published_at=datetime(2021, 6, 1, tzinfo=UTC) + timedelta(days=day))
        PaperTopic.objects.create(paper=paper, topic=topic)
    # Newer papers without a topic, or without a date, do not move the week.
    PaperFactory(published_at=datetime(2025, 1, 8, tzinfo=UTC))
    PaperTopic.objects.create(paper=PaperFactory(published_at=None), topic=topic)
    assert current_week() == week_start(datetime(2021, 7, 11, tzinfo=UTC))
    # A topic paper this week: the week is today's.
    PaperTopic.objects.create(
        paper=PaperFactory(published_at=datetime(2026, 3, 3, tzinfo=UTC)), topic=topic
    )
    assert current_week() == week_start(timezone.now())


def test_map_leaves_off_a_half_written_position_and_keeps_the_rest() -> None:
    topic = Topic.objects.create(label="maps")
    whole = PaperTopic.objects.create(paper=PaperFactory(), topic=topic, map_x=0.25, map_y=0.75)
    PaperTopic.objects.create(paper=PaperFactory(), topic=topic, map_x=0.5, map_y=None)
    points = map_points()
    assert [(p["id"], p["x"], p["y"]) for p in points] == [(whole.paper_id, 0.25, 0.75)]


def test_topic_pages_need_login_and_escape_titles(cast, clustered: ClusteringRun) -> None:  # type: ignore[no-untyped-def]
    topic = Topic.objects.active().first()
    paper = PaperFactory(title="<script>alert(1)</script> evil", published_at=timezone.now())
    PaperTopic.objects.create(paper=paper, topic=topic, map_x=0.5, map_y=0.5)
    topic.label = "<b>bold</b>"
    topic.save()
    urls = [
        reverse("topics:index"),
        reverse("topics:detail", args=[topic.pk]),
        reverse("topics:map"),
        reverse("topics:map_data"),
    ]
    anonymous = Client()
    for url in urls:
        assert anonymous.get(url).status_code == 302
    client = client_for(cast.ada)
    index = client.get(urls[0]).content.decode()
    assert '<svg class="sparkline"' in index and "<b>bold</b>" not in index
    assert "&lt;b&gt;bold&lt;/b&gt;" in index
    detail = client.get(urls[1]).content.decode()
    assert "<script>alert(1)</script>" not in detail
    page = client.get(urls[2]).content.decode()
    assert "topic_map.js" in page and "<script>" not in page.replace("<script src=", "")
    data = client.get(urls[3]).json()
    assert len(data["papers"]) == clustered.paper_count + 1
    assert {"id", "x", "y", "t", "title"} <= set(data["papers"][0])


def test_a_topic_page_shows_what_the_team_made_of_each_paper(cast) -> None:  # type: ignore[no-untyped-def]
    topic = Topic.objects.create(label="Agents")
    rated, other = PaperFactory(title="Rated agent paper"), PaperFactory(title="Untouched")
    for paper in (rated, other):
        PaperTopic.objects.create(paper=paper, topic=topic)
    RatingFactory(team=cast.vision, paper=rated, user=cast.ada, value=5)
    RatingFactory(team=cast.vision, paper=rated, user=cast.ben, value=2)
    ours = ReproductionFactory(team=cast.vision, paper=rated, status=Status.ACCEPTED)
    RatingFactory(team=cast.language, paper=rated, user=cast.carol, value=1)
    url = reverse("topics:detail", args=[topic.pk])

    rows = client_for(cast.ben).get(url).content.decode().split("<li>")
    row = next(r for r in rows if "Rated agent paper" in r)
    assert "team 3.5 (2)</span>" in row and "you 2" in row
    assert f'href="/reproductions/{ours.pk}/"' in row and ">Accepted</a>" in row
    untouched = next(r for r in rows if "Untouched" in r)
    assert "team" not in untouched and "badge" not in untouched
    # Another team's member sees their own marks only.
    theirs = client_for(cast.carol).get(url).content.decode()
    assert "team 1.0 (1)</span>" in theirs and "you 1" in theirs
    assert "Accepted" not in theirs and "team 3.5" not in theirs


def _embedded_papers(count: int, rng: np.random.Generator) -> list[int]:
    from tracker.papers.embeddings import embeddings_store, stored_model_name

    ids = [PaperFactory().pk for _ in range(count)]
    vectors = rng.normal(size=(count, 8)).astype(np.float32)
    embeddings_store(stored_model_name(), ids, vectors)
    return ids


def test_topics_come_on_their_own_after_embedding_and_again_after_a_fifth_more(
    time_machine,  # type: ignore[no-untyped-def]
) -> None:
    from tracker.papers.embeddings import search_model_forget
    from workers.tasks import cluster_papers_if_due_task

    rng = np.random.default_rng(0)
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    _embedded_papers(30, rng)
    # A paper still waiting for its vector holds the first run back: one run, not one a chunk.
    waiting = PaperFactory()
    search_model_forget()
    assert cluster_papers_if_due_task() is None
    waiting.delete()
    search_model_forget()
    first = cluster_papers_if_due_task()
    assert first is not None and ClusteringRun.objects.get(pk=first).paper_count == 30
    assert Topic.objects.active().exists()

    time_machine.move_to("2026-03-02 10:00Z", tick=False)
    assert cluster_papers_if_due_task() is None  # nothing new
    _embedded_papers(5, rng)  # 5 of 35: under a fifth
    assert cluster_papers_if_due_task() is None
    _embedded_papers(3, rng)  # 8 of 38: over a fifth
    second = cluster_papers_if_due_task()
    assert second is not None and ClusteringRun.objects.get(pk=second).paper_count == 38


def test_a_large_corpus_streams_its_vectors_in_batches_and_keeps_topic_identity(
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """Past CLUSTER_IN_MEMORY_PAPERS a run reads the vectors a batch per query, pass after
    pass, never all in one; a second run from its centroids keeps the topics."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    require_corpus()
    settings.CLUSTER_IN_MEMORY_PAPERS = 0
    settings.CLUSTER_BATCH = 64
    papers = len(load_embedded())
    with CaptureQueriesContext(connection) as captured:
        run = clustering_run_create(k=12)
    assert run is not None and run.status == RunStatus.SUCCEEDED
    assert run.params["algorithm"] == "spherical-kmeans, streamed" and run.params["batch"] == 64
    assert run.paper_count == papers == PaperTopic.objects.count()
    assert run.topic_count == 12 == Topic.objects.active().count()
    assert run.metrics["mean_similarity"] > 0.3
    assert all(label != "unlabelled" for label in Topic.objects.values_list("label", flat=True))
    reads = [q["sql"] for q in captured if '"vector"' in q["sql"] and "_embedding" in q["sql"]]
    assert reads and all("LIMIT 64" in sql for sql in reads)
    # The seed pass reads every batch (the corpus is smaller than the seed rows), then at
    # least one Lloyd step and the pass that assigns.
    assert len(reads) >= 3 * (papers // 64)

    before = dict(PaperTopic.objects.values_list("paper_id", "topic_id"))
    load_embedded(step=150, offset=7)
    rerun = cluster_papers_task()
    second = ClusteringRun.objects.get(pk=rerun)
    assert second.params["algorithm"] == "spherical-kmeans, streamed"
    after = dict(PaperTopic.objects.values_list("paper_id", "topic_id"))
    kept = sum(after.get(pk) == topic_id for pk, topic_id in before.items())
    assert kept / len(before) >= 0.9
    assert second.metrics["papers_kept_topic"] >= 0.9
    assert second.metrics["topics_kept"] == 12


@pytest.mark.parametrize("papers", [40, 160])
def test_the_map_sends_an_even_sample_with_a_fixed_number_of_queries(
    cast,  # type: ignore[no-untyped-def]
    papers: int,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    from tests.portal.helpers import session_queries
    from tracker.topics import selectors

    monkeypatch.setattr(selectors, "MAP_POINTS", 25)
    topics = [Topic.objects.create(label=f"t{i}", size=papers // 2) for i in range(2)]
    made = PaperFactory.create_batch(papers)
    PaperTopic.objects.bulk_create(
        [
            PaperTopic(paper=p, topic=topics[n % 2], map_x=n / papers, map_y=0.5)
            for n, p in enumerate(made)
        ]
    )
    hidden = made[2]
    hidden.hidden = True
    hidden.save()
    client = client_for(cast.ben)
    # (session), user, topics with their central papers, the newest paper-topic row, the
    # topics' total size, the sampled papers, the followed topics
    with django_assert_num_queries(session_queries() + 6):
        data = client.get(reverse("topics:map_data")).json()
    # Again: the sample is kept, its two queries are not made.
    with django_assert_num_queries(session_queries() + 4):
        assert client.get(reverse("topics:map_data")).json() == data
    points = data["papers"]
    assert 0 < len(points) <= 25
    ids = [p["id"] for p in points]
    assert hidden.pk not in ids and ids == sorted(ids)
    if papers > 25:
        # Even: from both ends of the corpus, not its first 25 papers.
        assert max(ids) >= made[papers * 3 // 4].pk
    assert len(data["topics"]) == 2


WEEK = datetime(2026, 3, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize("topics", [2, 12])
def test_the_topics_page_query_count_is_fixed(cast, topics: int, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    from tests.portal.helpers import session_queries

    for i in range(topics):
        topic = Topic.objects.create(label=f"topic {i}", size=3)
        for paper in PaperFactory.create_batch(3, published_at=WEEK):
            PaperTopic.objects.create(paper=paper, topic=topic)
    client = client_for(cast.ben)
    # (session), user, membership, the topics, the newest week, the newest paper-topic row,
    # the weekly counts, the run
    with django_assert_num_queries(session_queries() + 7):
        response = client.get(reverse("topics:index"))
    assert len(response.context["trends"]) == topics
    # Again: the counts are kept.
    with django_assert_num_queries(session_queries() + 6):
        again = client.get(reverse("topics:index"))
    assert [t.weekly for t in again.context["trends"]] == [
        t.weekly for t in response.context["trends"]
    ]


def test_kept_counts_and_map_follow_a_paper_joining_and_a_merge_at_once(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    """What the topics pages keep is keyed on the newest paper-topic row and the curators'
    last change, so neither a new paper in a topic nor a merge waits out the cache."""
    from tracker.topics.curation import topic_merge

    until = week_start(WEEK)
    one, two = (Topic.objects.create(label=label) for label in ("one", "two"))
    for topic in (one, two):
        PaperTopic.objects.create(
            paper=PaperFactory(published_at=WEEK), topic=topic, map_x=0.1, map_y=0.2
        )
    assert topic_weekly_counts([one.pk, two.pk], weeks=1, until=until) == {one.pk: [1], two.pk: [1]}
    assert sorted(p["t"] for p in map_points()) == [one.pk, two.pk]

    PaperTopic.objects.create(
        paper=PaperFactory(published_at=WEEK), topic=one, map_x=0.3, map_y=0.4
    )
    assert topic_weekly_counts([one.pk, two.pk], weeks=1, until=until) == {one.pk: [2], two.pk: [1]}
    assert len(map_points()) == 3

    with django_capture_on_commit_callbacks(execute=True):
        topic_merge(one, [two])
    assert topic_weekly_counts([one.pk, two.pk], weeks=1, until=until) == {one.pk: [3], two.pk: [0]}
    assert {p["t"] for p in map_points()} == {one.pk}
