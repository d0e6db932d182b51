"""A merge keeps everything people said and did about both records, and undo restores both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import Cast, client_for
from tests.factories import (
    ClaimFactory,
    CommentFactory,
    LabReportFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    ResultLogFactory,
    SourceFactory,
)
from tracker.papers.duplicates import duplicate_candidate_propose
from tracker.papers.merge import HANDLED_RELATIONS, MergeError, paper_merge, paper_merge_undo
from tracker.papers.models import (
    CandidateStatus,
    Paper,
    PaperSource,
    PaperVersion,
)
from tracker.reproductions.models import Claim, Reproduction, ResultLog
from tracker.teams.models import Role
from tracker.teams.services import membership_set_role
from tracker.triage.models import Comment, Rating, RatingHistory, Skip


def world(*papers: Paper) -> dict[str, Any]:
    """Every row hanging off these papers, with the fields a merge could touch."""
    ids = [p.pk for p in papers]
    return {
        "papers": sorted(
            Paper.objects.filter(pk__in=ids).values_list("pk", "merged_into", "lab", "code_urls")
        ),
        "sources": sorted(PaperSource.objects.filter(paper__in=ids).values_list("pk", "paper")),
        "versions": sorted(
            PaperVersion.objects.filter(paper__in=ids).values_list("pk", "paper", "version")
        ),
        "ratings": sorted(
            Rating.objects.filter(paper__in=ids).values_list(
                "pk", "paper", "team", "user", "value", "note", "created_at", "updated_at"
            )
        ),
        "history": sorted(
            RatingHistory.objects.filter(paper__in=ids).values_list("pk", "paper", "value")
        ),
        "comments": sorted(Comment.objects.filter(paper__in=ids).values_list("pk", "paper")),
        "skips": sorted(Skip.objects.filter(paper__in=ids).values_list("pk", "paper")),
        "reproductions": sorted(
            Reproduction.objects.filter(paper__in=ids).values_list("pk", "paper")
        ),
        "claims": sorted(Claim.objects.filter(paper__in=ids).values_list("pk", "paper")),
        "results": sorted(
            ResultLog.objects.filter(claim__paper__in=ids).values_list(
                "pk", "claim", "reproduction"
            )
        ),
    }


@pytest.fixture
def pair(cast: Cast) -> tuple[Paper, Paper]:
    now = timezone.now()
    paper = PaperFactory(title="Qwen3 technical report", code_urls=[])
    post = LabReportFactory(title="Qwen3: think deeper, act faster", lab="Qwen")
    arxiv, blog = (
        SourceFactory(name="arxiv cs.CL"),
        SourceFactory(name="Qwen blog", kind="feed", url="https://qwenlm.github.io/feed.xml"),
    )
    PaperSource.objects.create(paper=paper, source=arxiv, url=paper.canonical_url)
    PaperSource.objects.create(paper=post, source=blog, url=post.canonical_url)
    for version in (1, 2):
        PaperVersion.objects.create(paper=paper, version=version, title=paper.title)
    PaperVersion.objects.create(paper=post, version=1, title=post.title)

    # ben rated both: the post later, so the post's rating is the newer one.
    RatingFactory(
        team=cast.vision, user=cast.ben, paper=paper, value=3, updated_at=now - timedelta(days=2)
    )
    RatingFactory(
        team=cast.vision, user=cast.ben, paper=post, value=5, updated_at=now - timedelta(days=1)
    )
    RatingFactory(team=cast.language, user=cast.carol, paper=post, value=4)
    CommentFactory(team=cast.vision, user=cast.ben, paper=paper, body="on the paper")
    CommentFactory(team=cast.language, user=cast.carol, paper=post, body="on the post")
    Skip.objects.create(team=cast.vision, user=cast.ada, paper=post)
    repro = ReproductionFactory(team=cast.language, paper=post, proposed_by=cast.carol)
    claim = ClaimFactory(team=cast.language, paper=post)
    ResultLogFactory(reproduction=repro, claim=claim, reproduced_value=70.1)
    return paper, post


def test_every_relation_to_paper_has_a_merge_decision() -> None:
    names = {rel.name for rel in Paper._meta.related_objects}
    names -= {"+"}
    assert {n for n in names if not n.endswith("+")} <= set(HANDLED_RELATIONS)


def test_merge_moves_everything_to_the_survivor_and_undo_restores_both(
    cast: Cast, pair: tuple[Paper, Paper]
) -> None:
    paper, post = pair
    before = world(paper, post)
    candidate = duplicate_candidate_propose(paper, post, reason="title")
    assert candidate is not None

    merge = paper_merge(paper, post, cast.ada, candidate=candidate)

    post.refresh_from_db()
    paper.refresh_from_db()
    assert post.merged_into == paper
    assert list(Paper.objects.visible()) == [paper]
    assert paper.lab == "Qwen"  # a blank filled from the lab post
    assert set(PaperSource.objects.filter(paper=paper).values_list("source__name", flat=True)) == {
        "arxiv cs.CL",
        "Qwen blog",
    }
    # The post's v1 clashes with the paper's own v1: kept on the merged record, recorded.
    assert list(PaperVersion.objects.filter(paper=paper).values_list("version", flat=True)) == [
        1,
        2,
    ]
    assert merge.moved["kept"]["PaperVersion"] == [
        PaperVersion.objects.get(paper=post, version=1).pk
    ]
    ratings = {(r.team_id, r.user_id): r.value for r in Rating.objects.filter(paper=paper)}
    assert ratings == {(cast.vision.pk, cast.ben.pk): 5, (cast.language.pk, cast.carol.pk): 4}
    assert not Rating.objects.filter(paper=post).exists()
    history = RatingHistory.objects.get(paper=paper)
    assert (history.user, history.value, history.reason) == (cast.ben, 3, "merge")
    assert Comment.objects.filter(paper=paper).count() == 2
    assert Skip.objects.filter(paper=paper).count() == 1
    assert Reproduction.objects.get().paper == paper
    assert Claim.objects.get().paper == paper
    assert ResultLog.objects.get().claim.paper == paper
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by) == (CandidateStatus.ACCEPTED, cast.ada)
    assert merge.merged_by == cast.ada
    assert merge.moved["displaced_ratings"][0]["value"] == 3

    paper_merge_undo(merge, cast.ada)

    assert world(paper, post) == before
    merge.refresh_from_db()
    assert merge.undone_at is not None and merge.undone_by == cast.ada
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.OPEN and candidate.decided_by is None
    assert set(Paper.objects.visible()) == {paper, post}
    with pytest.raises(MergeError):
        paper_merge_undo(merge, cast.ada)


def test_survivor_rating_wins_when_it_is_newer(cast: Cast) -> None:
    now = timezone.now()
    paper, post = PaperFactory(), LabReportFactory()
    RatingFactory(team=cast.vision, user=cast.ben, paper=paper, value=2, updated_at=now)
    old = RatingFactory(
        team=cast.vision, user=cast.ben, paper=post, value=5, updated_at=now - timedelta(days=3)
    )
    before = world(paper, post)

    merge = paper_merge(paper, post, cast.ada)

    assert Rating.objects.get(paper=paper).value == 2
    assert not Rating.objects.filter(pk=old.pk).exists()
    assert RatingHistory.objects.get(paper=paper, reason="merge").value == 5
    paper_merge_undo(merge, None)
    assert world(paper, post) == before


def test_a_chain_of_merges_points_at_the_last_survivor(cast: Cast) -> None:
    first, second, third = PaperFactory(), PaperFactory(), LabReportFactory()
    paper_merge(second, third, cast.ada)
    paper_merge(first, second, cast.ada)
    third.refresh_from_db()
    assert third.merged_into == first
    with pytest.raises(MergeError):
        paper_merge(second, first, cast.ada)
    with pytest.raises(MergeError):
        paper_merge(first, first, cast.ada)


def test_merges_are_undone_newest_first(cast: Cast) -> None:
    now = timezone.now()
    survivor, first, second = PaperFactory(), LabReportFactory(), LabReportFactory()
    RatingFactory(team=cast.vision, user=cast.ben, paper=first, value=2, updated_at=now)
    RatingFactory(
        team=cast.vision, user=cast.ben, paper=second, value=5, updated_at=now + timedelta(1)
    )
    before = world(survivor, first, second)
    earlier = paper_merge(survivor, first, cast.ada)
    later = paper_merge(survivor, second, cast.ada)

    with pytest.raises(MergeError, match="later merge"):
        paper_merge_undo(earlier, cast.ada)
    paper_merge_undo(later, cast.ada)
    paper_merge_undo(earlier, cast.ada)
    assert world(survivor, first, second) == before


def test_merge_page_shows_curators_counts_not_other_teams_ratings(
    cast: Cast, pair: tuple[Paper, Paper]
) -> None:
    paper, post = pair
    merge = paper_merge(paper, post, cast.ada)
    membership_set_role(team=cast.vision, user=cast.ada, role=Role.CURATOR)
    page = client_for(cast.ada).get(f"/admin/papers/papermerge/{merge.pk}/change/")
    assert page.status_code == 200
    assert b"Ratings displaced into history: 1" in page.content
    assert b"displaced_ratings" not in page.content
