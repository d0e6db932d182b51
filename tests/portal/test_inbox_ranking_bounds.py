"""The "for you" ranking reads a bounded part of the team's history: every rating of the
papers it ranks, the member's latest ratings and each teammate's latest; and a rating
finds the papers' features kept even when more candidates wait than are ranked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import client_for
from tests.portal.helpers import paper_in, topic
from tests.portal.test_inbox_ranking import _papers
from tracker.papers.models import Paper
from tracker.teams.models import Membership
from tracker.topics.models import PaperTopic
from tracker.triage import ranking
from tracker.triage.models import Rating
from tracker.triage.selectors import inbox_papers
from tracker.triage.services import rating_set, skip_create

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _rate(cast, user, paper: Paper, value: int, days_ago: float) -> None:  # type: ignore[no-untyped-def]
    at = timezone.now() - timedelta(days=days_ago)
    Rating.objects.create(
        team=cast.vision, paper=paper, user=user, value=value, created_at=at, updated_at=at
    )


def _membership(cast, user) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.select_related("team").get(team=cast.vision, user=user)


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "OWN_KEPT", 4)
    monkeypatch.setattr(ranking, "TEAM_KEPT_PER_MEMBER", 2)


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item per member's model fitted."""
    fitted: list[int] = []
    real = ranking.MemberModel

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        fitted.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ranking, "MemberModel", counted)
    return fitted


@time_machine.travel(NOW, tick=False)
def test_ratings_read_are_the_window_s_the_member_s_latest_and_each_teammate_s_latest(
    cast, small_bounds
) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    old, new = papers["robot"], papers["speech"]
    for i, paper in enumerate(old[:6]):
        _rate(cast, cast.ben, paper, 5, days_ago=30 + i)  # ben's oldest six
    for i, paper in enumerate(new[:4]):
        _rate(cast, cast.ben, paper, 4, days_ago=i)  # ben's latest four
    for i, paper in enumerate(old[6:10]):
        _rate(cast, cast.ada, paper, 3, days_ago=i)  # ada's: the first two are her latest
    window = [old[9].pk, new[11].pk]  # ada's oldest rating is of a paper in the window

    read = ranking._ratings(cast.vision, cast.ben.pk, window)

    expected = {(cast.ben.pk, p.pk, 4) for p in new[:4]}
    expected |= {(cast.ada.pk, p.pk, 3) for p in (old[6], old[7], old[9])}
    assert set(read) == expected
    assert len(read) == len(expected)


@time_machine.travel(NOW, tick=False)
def test_a_member_is_ranked_by_their_latest_taste(cast, small_bounds) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    robot, speech = papers["robot"], papers["speech"]
    # Long ago ben liked robots; lately he likes speech and not robots.
    for i, paper in enumerate(robot[:6]):
        _rate(cast, cast.ben, paper, 5, days_ago=60 + i)
    for i, paper in enumerate(speech[:2]):
        _rate(cast, cast.ben, paper, 5, days_ago=i)
    for i, paper in enumerate(robot[6:8]):
        _rate(cast, cast.ben, paper, 1, days_ago=2 + i)
    membership = _membership(cast, cast.ben)

    ranked = ranking.member_ranking(membership, inbox_papers(membership))

    speech_ids = {p.pk for p in speech}
    assert len(ranked) == 14
    assert all(r.paper_id in speech_ids for r in ranked[:10])
    assert not any(r.paper_id in speech_ids for r in ranked[10:])


@time_machine.travel(NOW, tick=False)
def test_a_rating_finds_the_space_kept_when_more_candidates_wait_than_are_ranked(
    cast, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ranking, "RANK_LIMIT", 6)
    monkeypatch.setattr(ranking, "SPACE_MARGIN", 3)
    built: list[int] = []
    real = ranking.PaperSpace

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        space = real(*args, **kwargs)
        built.append(len(space.docs))
        return space

    monkeypatch.setattr(ranking, "PaperSpace", counted)
    papers = _papers()
    membership = _membership(cast, cast.ben)

    first = ranking.member_ranking(membership, inbox_papers(membership))
    for paper in papers["robot"][:3]:
        rating_set(team=cast.vision, paper=paper, user=cast.ben, value=5)
    after = ranking.member_ranking(membership, inbox_papers(membership))

    assert len(first) == len(after) == 6
    # The three rated papers left the window and three more came in; one space served both.
    assert not {p.pk for p in papers["robot"][:3]} & {r.paper_id for r in after}
    assert built == [9]
    # The fourth rating moves the window past the kept papers: the space is extended by
    # the one it misses, its vocabularies kept.
    rating_set(team=cast.vision, paper=papers["speech"][0], user=cast.ben, value=1)
    extended = ranking.member_ranking(membership, inbox_papers(membership))
    assert built == [9]
    assert [len(kept.space.docs) for kept in ranking._spaces.values()] == [10]
    assert len(extended) == 6
    # A paper moved to another topic: its features say so only in a space built again.
    moved_to = topic("Robot hands")
    PaperTopic.objects.create(paper=Paper.objects.get(pk=extended[0].paper_id), topic=moved_to)
    ranking.member_ranking(membership, inbox_papers(membership))
    assert built == [9, 6 + 3 + 4]  # window, margin and the four rated papers


@time_machine.travel(NOW, tick=False)
def test_the_window_s_ratings_read_by_its_query_are_those_read_by_its_ids(cast) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    speech = papers["speech"]
    for paper in speech[:3]:
        _rate(cast, cast.ada, paper, 4, days_ago=1)
    membership = _membership(cast, cast.ben)
    candidates = inbox_papers(membership)
    ids = list(candidates.values_list("pk", flat=True))

    by_query = ranking._ratings(cast.vision, cast.ben.pk, ranking._window_ids(candidates, ids))

    assert by_query == ranking._ratings(cast.vision, cast.ben.pk, ids)
    assert {paper_id for _, paper_id, _ in by_query} == {p.pk for p in speech[:3]}


@time_machine.travel(NOW, tick=False)
def test_a_reload_finds_the_order_kept_and_a_rating_fits_it_again(cast, fits) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    membership = _membership(cast, cast.ben)
    rating_set(team=cast.vision, paper=papers["speech"][0], user=cast.ben, value=5)

    first = ranking.member_ranking(membership, inbox_papers(membership), explain=10)
    again = ranking.member_ranking(membership, inbox_papers(membership), explain=10)
    assert again == first and len(fits) == 1
    # The next page's reasons were worked out ahead with the first.
    ranking.member_ranking(membership, inbox_papers(membership), explain=20)
    assert len(fits) == 1

    rating_set(team=cast.vision, paper=papers["speech"][1], user=cast.ben, value=5)
    after = ranking.member_ranking(membership, inbox_papers(membership), explain=10)
    assert len(fits) == 2
    assert papers["speech"][1].pk not in {r.paper_id for r in after}
    # A teammate's rating changes the team's prior and prediction: the kept prior stands
    # for TEAM_PRIOR_SECONDS, then the order is fitted again.
    rating_set(team=cast.vision, paper=papers["robot"][0], user=cast.ada, value=1)
    ranking.member_ranking(membership, inbox_papers(membership), explain=10)
    assert len(fits) == 2
    later = NOW + timedelta(seconds=ranking.TEAM_PRIOR_SECONDS)
    with time_machine.travel(later, tick=False):
        ranking.member_ranking(membership, inbox_papers(membership), explain=10)
        assert len(fits) == 3
        # The member's own rating changed in the same instant shows at once.
        rating_set(team=cast.vision, paper=papers["speech"][0], user=cast.ben, value=1)
        ranking.member_ranking(membership, inbox_papers(membership), explain=10)
        assert len(fits) == 4
        ranking.member_ranking(membership, inbox_papers(membership), explain=10)
        assert len(fits) == 4


@time_machine.travel(NOW, tick=False)
def test_a_kept_order_explains_the_first_papers_and_predicts_what_the_team_would_rate(
    cast, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ranking, "EXPLAIN_AHEAD", 3)
    papers = _papers()
    for paper in papers["speech"][:4]:
        _rate(cast, cast.ada, paper, 5, days_ago=1)
    membership = _membership(cast, cast.ben)
    explain = 2

    ranked = ranking.member_ranking(membership, inbox_papers(membership), explain=explain)

    shown = ranked[: explain + 3]
    assert len(ranked) == 24
    assert all(r.team_prediction is not None for r in shown)
    assert all(r.team_prediction is None for r in ranked[len(shown) :])
    everything = ranking.member_ranking(membership, inbox_papers(membership))
    predicted = {r.paper_id: r.team_prediction for r in everything}
    assert all(r.team_prediction == pytest.approx(predicted[r.paper_id]) for r in shown)


@time_machine.travel(NOW, tick=False)
def test_the_inbox_s_filters_cut_one_fitted_order(cast, fits, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    for paper in papers["speech"][:3]:
        Paper.objects.filter(pk=paper.pk).update(
            code_urls=["https://github.com/a/b"], primary_category="cs.SD"
        )
    rating_set(team=cast.vision, paper=papers["speech"][4], user=cast.ben, value=5)
    rating_set(team=cast.vision, paper=papers["robot"][4], user=cast.ben, value=1)
    client = client_for(cast.ben)

    everything = client.get("/inbox/").context["inbox"]
    with_code = client.get("/inbox/?has_code=1").context["inbox"]
    category = client.get("/inbox/?category=cs.SD").context["inbox"]

    assert len(fits) == 1
    # A reload finds the filtered order kept, without reading which papers they select.
    read: list[int] = []
    monkeypatch.setattr(ranking, "_ranked", lambda *args: read.append(1) or [])
    assert client.get("/inbox/?has_code=1").context["inbox"].shown == with_code.shown
    assert read == []
    assert everything.shown == 22
    # The filtered pages list the papers they keep, ranked by the one fitted model in the
    # order they have among all the window's papers, each with what the team would rate it.
    (fitted,) = ranking._models.values()
    coded = {p.pk for p in papers["speech"][:3]}
    expected = [r.key for r in fitted.model.rank(fitted.window) if r.key in coded]
    for page in (with_code, category):
        rows = [row for group in page.groups for row in group.rows]
        assert [row.pk for row in rows] == expected
        assert all(row.team_prediction is not None for row in rows)


@time_machine.travel(NOW, tick=False)
def test_the_team_s_prior_is_kept_while_the_member_s_own_rating_shows_at_once(cast) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    robot, speech = papers["robot"], papers["speech"]
    rating_set(team=cast.vision, paper=robot[0], user=cast.ada, value=5)
    membership = _membership(cast, cast.ben)

    def learned_from() -> set[tuple[int, int]]:
        """(member, paper) of every rating the last fitted model read."""
        latest = next(reversed(ranking._models.values()))
        return {(r.member, r.key) for r in latest.everyone}

    first = ranking.member_ranking(membership, inbox_papers(membership), explain=5)
    # A teammate's ratings wait for the prior to be read again (TEAM_PRIOR_SECONDS) ...
    for paper in speech[:6]:
        rating_set(team=cast.vision, paper=paper, user=cast.ada, value=5)
    assert ranking.member_ranking(membership, inbox_papers(membership), explain=5) == first
    # ... the member's own rating does not: it leaves the inbox and teaches the next load.
    for paper in speech[6:9]:
        rating_set(team=cast.vision, paper=paper, user=cast.ben, value=5)
    mine = ranking.member_ranking(membership, inbox_papers(membership), explain=5)
    assert not {p.pk for p in speech[6:9]} & {r.paper_id for r in mine}
    assert all(r.paper_id in {p.pk for p in speech} for r in mine[:3])
    assert {(cast.ben.pk, p.pk) for p in speech[6:9]} <= learned_from()
    assert (cast.ada.pk, speech[0].pk) not in learned_from()

    with time_machine.travel(NOW + timedelta(seconds=ranking.TEAM_PRIOR_SECONDS), tick=False):
        ranking.member_ranking(membership, inbox_papers(membership), explain=5)
    assert {(cast.ada.pk, p.pk) for p in speech[:6]} <= learned_from()


@time_machine.travel(NOW, tick=False)
def test_follow_matches_are_kept_in_the_shared_cache(cast, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tracker.follows.models import Follow

    papers = _papers()
    Follow.objects.create(team=cast.vision, user=cast.ben, kind="keyword", value="speaker")
    matched: list[int] = []
    real = ranking.followed_reasons

    def counted(follows, candidates):  # type: ignore[no-untyped-def]
        found = real(follows, candidates)
        matched.append(candidates.count())
        return found

    monkeypatch.setattr(ranking, "followed_reasons", counted)
    membership = _membership(cast, cast.ben)
    first = ranking.member_ranking(membership, inbox_papers(membership), explain=5)
    assert {r.paper_id for r in first[:12]} == {p.pk for p in papers["speech"]}
    # Another process (its own memory empty) finds the matches kept; a rating, which takes
    # a paper out of the window, matches nothing again.
    ranking.ranking_forget()
    rating_set(team=cast.vision, paper=papers["robot"][0], user=cast.ben, value=3)
    again = ranking.member_ranking(membership, inbox_papers(membership), explain=5)
    assert matched == [24]
    assert {r.paper_id for r in again[:12]} == {p.pk for p in papers["speech"]}


@time_machine.travel(NOW, tick=False)
def test_a_rating_queues_the_member_s_order_and_the_next_load_finds_it_fitted(
    cast, fits, django_capture_on_commit_callbacks, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from tracker.triage import services
    from workers.tasks import rank_inbox_task

    # As with Redis: the worker and the web processes share the "pages" cache (here one
    # process plays both).
    monkeypatch.setattr(services, "pages_shared", lambda: True)

    papers = _papers()
    speech = papers["speech"]
    client = client_for(cast.ben)

    def shown() -> list[int]:
        page = client.get("/inbox/").context["inbox"]
        return [row.pk for group in page.groups for row in group.rows]

    assert len(shown()) == 24 and len(fits) == 1
    with django_capture_on_commit_callbacks(execute=False) as queued:
        rating_set(team=cast.vision, paper=speech[0], user=cast.ben, value=5)
    assert len(queued) == 1
    # A worker fits the order the inbox opens on; the next load finds it.
    assert rank_inbox_task(cast.vision.pk, cast.ben.pk) == 23
    assert len(fits) == 2
    assert speech[0].pk not in shown() and len(fits) == 2
    assert rank_inbox_task(cast.vision.pk, cast.ben.pk) == 23 and len(fits) == 2
    # With no worker the next load is right all the same: it fits the order itself.
    rating_set(team=cast.vision, paper=speech[1], user=cast.ben, value=5)
    assert speech[1].pk not in shown() and len(fits) == 3
    # A skip queues it too; a member who left has nothing to fit.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        skip_create(team=cast.vision, paper=speech[2], user=cast.ben)
    assert len(queued) == 1
    assert rank_inbox_task(cast.language.pk, cast.ben.pk) is None


def test_without_a_shared_pages_cache_a_rating_queues_nothing(
    cast, settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """The embedded default: each process keeps its own "pages" cache, so a worker's fitted
    order would help no web process; the next load fits it."""
    from tracker.core.cache import pages_shared

    settings.CACHES = {
        **settings.CACHES,
        "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    assert not pages_shared()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        rating_set(team=cast.vision, paper=paper_in(None), user=cast.ben, value=4)
        skip_create(team=cast.vision, paper=paper_in(None), user=cast.ben)
    assert queued == []
    settings.CACHES = {
        **settings.CACHES,
        "pages": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://"},
    }
    assert pages_shared()


def test_a_rating_stands_when_the_broker_cannot_be_reached(
    cast, monkeypatch, django_capture_on_commit_callbacks, caplog
) -> None:  # type: ignore[no-untyped-def]
    import kombu.exceptions

    from tracker.triage import services
    from workers.tasks import rank_inbox_task

    monkeypatch.setattr(services, "pages_shared", lambda: True)

    def unreachable(*args: object, **kwargs: object) -> None:
        raise kombu.exceptions.OperationalError("connection refused")

    monkeypatch.setattr(rank_inbox_task, "apply_async", unreachable)
    paper = paper_in(None)
    with django_capture_on_commit_callbacks(execute=True):
        rating_set(team=cast.vision, paper=paper, user=cast.ben, value=4)
    assert Rating.objects.get(paper=paper, user=cast.ben).value == 4
    assert "not queued" in caplog.text
    # Redis that does not answer a ping is not waited for: nothing is sent.
    import redis
    from django.core.cache import caches

    sent: list[object] = []
    monkeypatch.setattr(rank_inbox_task, "apply_async", lambda *a, **k: sent.append(a))

    def down() -> bool:
        raise redis.exceptions.ConnectionError("connection refused")

    monkeypatch.setattr(caches["pages"], "ping", down, raising=False)
    other = paper_in(None)
    with django_capture_on_commit_callbacks(execute=True):
        rating_set(team=cast.vision, paper=other, user=cast.ben, value=2)
    assert sent == [] and Rating.objects.get(paper=other, user=cast.ben).value == 2


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("model_kept", [True, False])
def test_a_first_filtered_load_ranks_with_its_view_s_model_without_reading_the_window(
    cast, fits, monkeypatch, model_kept: bool
) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    for paper in papers["speech"][:2] + papers["robot"][:2]:
        Paper.objects.filter(pk=paper.pk).update(code_urls=["https://github.com/a/b"])
    rating_set(team=cast.vision, paper=papers["speech"][4], user=cast.ben, value=5)
    client = client_for(cast.ben)
    client.get("/inbox/")
    reads: list[int] = []
    real_inputs = ranking._inputs
    monkeypatch.setattr(ranking, "_inputs", lambda *a: reads.append(1) or real_inputs(*a))
    (fitted,) = ranking._models.values()
    if not model_kept:  # another web process: it has no model, and reads and fits
        ranking._models.clear()

    page = client.get("/inbox/?has_code=1").context["inbox"]

    rows = [row for group in page.groups for row in group.rows]
    coded = {p.pk for p in papers["speech"][:2] + papers["robot"][:2]}
    # The liked speech papers first, in the order the whole window has them.
    assert [row.pk for row in rows] == [
        r.key for r in fitted.model.rank(fitted.window) if r.key in coded
    ]
    assert {row.pk for row in rows[:2]} == {p.pk for p in papers["speech"][:2]}
    assert all(row.reason for row in rows[:2])  # "like ..., which you rated 5"
    assert reads == ([] if model_kept else [1])
    assert len(fits) == (1 if model_kept else 2)
