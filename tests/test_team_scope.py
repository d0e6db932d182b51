"""A member of one team never reads another team's rows through the scoped querysets."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from tests.factories import (
    ClaimFactory,
    CommentFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    ResultLogFactory,
)
from tracker.reproductions.models import Claim, Reproduction, ResultLog
from tracker.triage.models import Comment, Rating


def test_member_cannot_read_another_teams_ratings(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    mine = RatingFactory(team=cast.vision, user=cast.ben, paper=paper, value=5)
    theirs = RatingFactory(team=cast.language, user=cast.carol, paper=paper, value=1)

    assert list(Rating.objects.for_user(cast.ada)) == [mine]
    assert list(Rating.objects.for_user(cast.carol)) == [theirs]
    assert not Rating.objects.for_user(AnonymousUser()).exists()


def test_every_team_owned_model_is_scoped(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    CommentFactory(team=cast.language, user=cast.carol, paper=paper)
    repro = ReproductionFactory(team=cast.language, paper=paper)
    claim = ClaimFactory(team=cast.language, paper=paper)
    ResultLogFactory(reproduction=repro, claim=claim)

    for queryset in (Comment.objects, Reproduction.objects, Claim.objects, ResultLog.objects):
        assert not queryset.for_user(cast.ben).exists()
        assert queryset.for_user(cast.carol).count() == 1


def test_member_of_two_teams_sees_both_once(cast) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import MembershipFactory

    MembershipFactory(team=cast.language, user=cast.ada)
    RatingFactory(team=cast.vision, user=cast.ben)
    RatingFactory(team=cast.language, user=cast.carol)
    assert Rating.objects.for_user(cast.ada).count() == 2
