"""What goes into a member's digest: the right papers, ordered, and only their teams' rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.digests.conftest import NOW, build_week
from tests.factories import (
    ClaimFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    ResultLogFactory,
)
from tracker.digests.emails import digest_render, digest_subject
from tracker.digests.selectors import digest_for, digest_week
from tracker.reproductions.models import Status
from tracker.topics.models import PaperTopic, TopicFollow

pytestmark = pytest.mark.django_db


def test_top_rated_papers_of_the_week_carry_the_teams_own_score(cast) -> None:
    w = build_week(cast)
    vision = digest_for(cast.ada, NOW).teams[0]
    assert [(r.paper, r.score, r.raters, r.comments) for r in vision.top_rated] == [
        (w.papers["ring"], 5.0, 1, 1),
        (w.papers["clip"], 4.0, 1, 0),
    ]


def test_top_rated_leaves_out_papers_the_team_rated_below_the_floor(cast) -> None:
    w = build_week(cast)
    listed = [r.paper for r in digest_for(cast.ada, NOW).teams[0].top_rated]
    # "qwen" was rated 3 this week: seen, judged, and not a pick.
    assert w.papers["qwen"] not in listed
    assert all(r.score >= 3.5 for r in digest_for(cast.carol, NOW).teams[0].top_rated)


def test_member_of_one_team_never_sees_another_teams_ratings_or_reproductions(cast) -> None:
    w = build_week(cast)
    ada = digest_for(cast.ada, NOW)
    carol = digest_for(cast.carol, NOW)
    assert [t.team for t in ada.teams] == [cast.vision]
    assert [t.team for t in carol.teams] == [cast.language]

    ada_html = digest_render(ada, "UTC").html + digest_render(ada, "UTC").text
    for secret in ("Language team private", "Language team finished secret", "Tree drafts"):
        assert secret not in ada_html
    # Language rated "ring" 1; Vision's digest shows Vision's 5 only.
    assert ada.teams[0].top_rated[0].score == 5.0
    assert "1 comment" in ada_html and "3 comments" not in ada_html

    carol_text = digest_render(carol, "UTC").text
    for secret in ("LoRA without regret", "A 7B model that beats", "FlashAttention-4"):
        assert secret not in carol_text
    # Language rated "ring" 1: below the floor, so only "eagle" is its pick.
    assert [r.paper for r in carol.teams[0].top_rated] == [w.papers["eagle"]]
    # Comments are counted per team: Vision's one on "ring".
    assert ada.teams[0].top_rated[0].comments == 1


def test_unrated_papers_in_followed_topics_ranked_by_team_score(cast) -> None:
    w = build_week(cast)
    digest = digest_for(cast.ada, NOW)
    papers = [item.paper for item in digest.followed]
    # ada rated none of these; ring (Vision 5) and clip (Vision 4) lead, unrated ones follow.
    assert papers[:2] == [w.papers["ring"], w.papers["clip"]]
    assert set(papers) == {w.papers[k] for k in ("ring", "clip", "yarn", "needle", "memo")}
    assert (digest.followed_new_count, digest.followed_topic_count) == (5, 2)

    RatingFactory(team=cast.vision, user=cast.ada, paper=w.papers["needle"], value=2)
    assert w.papers["needle"] not in [i.paper for i in digest_for(cast.ada, NOW).followed]


def test_own_assignments_overdue_first_with_due_dates(cast) -> None:
    w = build_week(cast)
    assignments = digest_for(cast.ada, NOW).teams[0].assignments
    assert [a.reproduction for a in assignments] == [w.repros["overdue"], w.repros["soon"]]
    assert assignments[0].overdue and assignments[0].days_overdue == 3
    assert not assignments[1].overdue and assignments[1].days_left == 4
    assert digest_for(cast.ben, NOW).teams[0].assignments == []


def test_finished_reproductions_failed_first_and_failed_claims_first(cast) -> None:
    w = build_week(cast)
    finished = digest_for(cast.ben, NOW).teams[0].finished
    assert [f.reproduction for f in finished] == [w.repros["bad"], w.repros["good"]]
    claims = finished[0].claims
    assert [(c.claim.dataset, c.failed) for c in claims] == [("MMLU", True), ("GSM8K", False)]
    assert claims[0].reproduced_value == pytest.approx(78.3)


def test_papers_the_member_rated_that_got_a_new_version(cast) -> None:
    w = build_week(cast)
    assert digest_for(cast.ada, NOW).teams[0].new_versions == [w.papers["revised"]]
    assert digest_for(cast.ben, NOW).teams[0].new_versions == []


def test_new_and_fastest_growing_topics_and_pinned_papers(cast) -> None:
    w = build_week(cast)
    corpus = digest_week(NOW)
    assert [(t.label, t.this_week) for t in corpus.new_topics] == [
        ("Vision-language pretraining", 1)
    ]
    assert [(t.label, t.last_week, t.this_week) for t in corpus.growing_topics] == [
        ("Long-context attention", 1, 4),
        ("Speculative decoding", 0, 2),
    ]
    assert corpus.pinned == [w.papers["pinned"]]


def test_subject_says_what_is_inside(cast) -> None:
    build_week(cast)
    assert digest_subject(digest_for(cast.ada, NOW)) == (
        "5 new papers in 2 topics, 1 assignment overdue, 2 reproductions finished"
    )
    assert digest_subject(digest_for(cast.carol, NOW)) == (
        "1 new paper in 1 topic, 1 reproduction finished, 1 top-rated paper"
    )


def test_a_quiet_week_is_empty(cast) -> None:
    old = PaperFactory(published_at=NOW - timedelta(days=30))
    RatingFactory(team=cast.vision, user=cast.ben, paper=old, updated_at=NOW - timedelta(days=20))
    assert digest_for(cast.ben, NOW).is_empty


def test_someone_in_no_team_gets_an_empty_digest(cast) -> None:
    from tests.factories import UserFactory

    build_week(cast)
    assert digest_for(UserFactory(username="loner"), NOW).is_empty


def _more_rows(cast, n: int) -> None:  # type: ignore[no-untyped-def]
    topic = PaperTopic.objects.select_related("topic").first().topic  # type: ignore[union-attr]
    for i in range(n):
        paper = PaperFactory(published_at=NOW - timedelta(hours=i + 1))
        PaperTopic.objects.create(paper=paper, topic=topic, similarity=0.5)
        RatingFactory(
            team=cast.vision,
            user=cast.ben,
            paper=paper,
            value=1 + i % 5,
            updated_at=NOW - timedelta(hours=1),
        )
        repro = ReproductionFactory(
            team=cast.vision,
            proposed_by=cast.ben,
            paper=paper,
            status=Status.NOT_REPRODUCED,
            finished_at=NOW - timedelta(hours=1),
        )
        claim = ClaimFactory(team=cast.vision, paper=paper)
        ResultLogFactory(reproduction=repro, claim=claim, reproduced_value=60.0)
        assigned = ReproductionFactory(
            team=cast.vision, paper=paper, status=Status.ACCEPTED, proposed_by=cast.ben
        )
        assigned.assignees.add(cast.ada)
        RatingFactory(
            team=cast.vision, user=cast.ada, paper=paper, updated_at=NOW - timedelta(days=9)
        )
    TopicFollow.objects.get_or_create(user=cast.ada, topic=topic)


def test_digest_query_count_does_not_grow_with_rows(
    cast, django_assert_num_queries, django_assert_max_num_queries
) -> None:
    build_week(cast)
    # The member's own part: six, three for the code watch's events, one for follows' alerts.
    with django_assert_num_queries(3 + 5 + 6 + 3 + 1):
        small = digest_for(cast.ada, NOW)
    _more_rows(cast, 25)
    with django_assert_num_queries(3):
        shared = digest_week(NOW)
    with django_assert_num_queries(5 + 6 + 3 + 1):
        big = digest_for(cast.ada, NOW, shared=shared)
    # ben's team part is already read: only his own ten, fewer as he follows no topic.
    with django_assert_max_num_queries(10):
        digest_for(cast.ben, NOW, shared=shared)
    assert big.assignment_count > small.assignment_count + 20
    assert big.finished_count > small.finished_count + 20
    assert big.top_rated_count > small.top_rated_count


def test_code_and_weights_released_this_week_for_papers_rated_or_reproduced(cast) -> None:
    from tracker.papers.models import CodeEvent, CodeLink

    rated = PaperFactory(title="Rated paper")
    reproduced = PaperFactory(title="Reproduced paper")
    elsewhere = PaperFactory(title="Nobody's paper")
    RatingFactory(team=cast.vision, user=cast.ben, paper=rated)
    ReproductionFactory(team=cast.vision, paper=reproduced, proposed_by=cast.ada)
    for paper, kind in (
        (rated, "code_released"),
        (reproduced, "weights_released"),
        (reproduced, "code_promised"),  # a promise is not news for the digest
        (elsewhere, "code_released"),
    ):
        link = CodeLink.objects.create(
            paper=paper, url=f"https://github.com/a/{kind}", kind="github"
        )
        CodeEvent.objects.create(paper=paper, link=link, kind=kind, at=NOW - timedelta(days=1))
    digest = digest_for(cast.ben, NOW)
    events = digest.teams[0].code_events
    assert [(e.paper.title, e.kind) for e in events] == [
        ("Rated paper", "code_released"),
        ("Reproduced paper", "weights_released"),
    ]
    text = digest_render(digest, "UTC").text
    assert "CODE AND WEIGHTS RELEASED" in text and "Code released: Rated paper" in text
    assert "Nobody's paper" not in text
