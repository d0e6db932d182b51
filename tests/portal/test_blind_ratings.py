"""Blind ratings: a shared paper's ratings stay hidden from its readers until all of them
rated it or a day passed, on every surface that shows ratings; team picks and disputes;
"not interested"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import MembershipFactory, PaperFactory, RatingFactory, UserFactory
from tests.portal.helpers import paper_in, topic
from tracker.digests.selectors import digest_for
from tracker.teams.models import Membership
from tracker.triage.models import Assignment, Rating, Skip
from tracker.triage.ranking import member_ranking, ranking_forget
from tracker.triage.selectors import (
    BLIND_FOR,
    PICK_MEAN,
    InboxVersions,
    _versions_of,
    _versions_query,
    blind_papers,
    inbox_versions,
    rating_summary,
    team_marks,
    team_picks,
)
from tracker.triage.services import rating_set

NOW = "2026-06-10 09:00Z"


@pytest.fixture
def shared(cast, time_machine):  # type: ignore[no-untyped-def]
    """A paper given to ada and ben an hour ago; ada rated it 5, ben has not yet; dan is a
    member who is not one of its readers."""
    time_machine.move_to(NOW, tick=False)
    ranking_forget()
    dan = UserFactory(username="dan")
    MembershipFactory(team=cast.vision, user=dan)
    agents = topic("Agents")
    paper = paper_in(agents, title="Blind paper")
    for user in (cast.ada, cast.ben):
        Assignment.objects.create(
            team=cast.vision,
            paper=paper,
            user=user,
            assigned_at=timezone.now() - timedelta(hours=1),
        )
    rating_set(team=cast.vision, paper=paper, user=cast.ada, value=5, note="ada's reasons")
    rating_set(team=cast.vision, paper=paper, user=cast.ada, value=4)  # history: had 5
    return paper, dan, agents, time_machine


def _membership(cast, user):  # type: ignore[no-untyped-def]
    return Membership.objects.select_related("team").get(team=cast.vision, user=user)


def test_the_team_score_is_hidden_from_the_readers_only(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, dan, _, _ = shared
    assert blind_papers(cast.vision, cast.ben.pk) == {paper.pk}
    assert blind_papers(cast.vision, cast.ada.pk) == {paper.pk}  # ben's is still to come
    assert blind_papers(cast.vision, dan.pk) == set()
    ben_mark = team_marks(cast.vision, cast.ben.pk, [paper.pk])[paper.pk]
    assert (ben_mark.score, ben_mark.raters, ben_mark.blind) == (None, 0, True)
    ada_mark = team_marks(cast.vision, cast.ada.pk, [paper.pk])[paper.pk]
    assert (ada_mark.score, ada_mark.mine, ada_mark.blind) == (None, 4, True)
    dan_mark = team_marks(cast.vision, dan.pk, [paper.pk])[paper.pk]
    assert (dan_mark.score, dan_mark.raters, dan_mark.blind) == (4, 1, False)


def test_the_inbox_row_says_hidden_instead_of_the_score(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, dan, _, _ = shared
    for order in ("for_you", "team", "newest"):
        html = client_for(cast.ben).get("/inbox/", {"view": "all", "order": order}).content.decode()
        row = html.split(f'id="paper-{paper.pk}"', 1)[1].split("</article>", 1)[0]
        assert "team ratings hidden" in row
        assert "team 4.0" not in row
        # Nor does the prediction give ada's rating away.
        assert "would rate this" not in row
    row = client_for(dan).get("/inbox/", {"order": "newest"}).content.decode()
    assert "team 4.0 (1)" in row.split(f'id="paper-{paper.pk}"', 1)[1].split("</article>", 1)[0]


def test_the_ranking_leaves_out_the_others_ratings_of_a_blind_paper(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, dan, _, _ = shared
    candidates = type(paper).objects.filter(pk=paper.pk)
    bens = member_ranking(_membership(cast, cast.ben), candidates)
    dans = member_ranking(_membership(cast, dan), candidates)
    # dan's prediction leans on ada's 4; ben's has no rating of the team to lean on.
    assert bens[0].team_prediction is None
    assert dans[0].team_prediction is not None and dans[0].team_prediction > 3


def test_a_paper_moved_to_a_member_leaves_their_kept_prior_at_once(cast, shared) -> None:  # type: ignore[no-untyped-def]
    """dan's kept prior holds ada's rating; the curator moves ben's share of the paper to
    dan within the minute the prior is kept for: the next ranking of dan's gives nothing of
    ada's rating away."""
    from tracker.triage.sharing import assignment_reassign

    paper, dan, _, _ = shared
    candidates = type(paper).objects.filter(pk=paper.pk)
    before = member_ranking(_membership(cast, dan), candidates)
    assert before[0].team_prediction is not None and before[0].team_prediction > 3

    share = Assignment.objects.get(team=cast.vision, paper=paper, user=cast.ben)
    assignment_reassign(assignment=share, to_user=dan)

    after = member_ranking(_membership(cast, dan), candidates)
    assert after[0].team_prediction is None


def test_the_paper_page_shows_a_reader_their_own_rating_alone(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, dan, _, _ = shared
    url = reverse("papers:detail", args=[paper.pk])
    bens = client_for(cast.ben).get(url).content.decode()
    panel = bens.split('id="ratings-panel"', 1)[1].split("</section>", 1)[0]
    assert "hidden until every reader" in panel
    assert "ada" not in panel and "reasons" not in panel and "had 5" not in panel
    adas = client_for(cast.ada).get(url).content.decode()
    panel = adas.split('id="ratings-panel"', 1)[1].split("</section>", 1)[0]
    assert "hidden until every reader" in panel
    assert "ada&#x27;s reasons" in panel and "had 5" in panel  # her own, with her history
    dans = client_for(dan).get(url).content.decode()
    panel = dans.split('id="ratings-panel"', 1)[1].split("</section>", 1)[0]
    assert "hidden until every reader" not in panel and "ada&#x27;s reasons" in panel
    # The htmx panel after a rating says the same.
    response = client_for(cast.ben).post(
        reverse("triage:rate", args=[paper.pk]),
        {"value": "1", "context": "panel"},
        HTTP_HX_REQUEST="true",
    )
    assert "ada" in response.content.decode()  # ben rated: every reader has, nothing hidden


def test_lists_of_papers_show_hidden_instead_of_the_score(cast, shared) -> None:  # type: ignore[no-untyped-def]
    _, dan, agents, _ = shared
    url = reverse("topics:detail", args=[agents.pk])
    bens = client_for(cast.ben).get(url).content.decode()
    assert "team ratings hidden" in bens and "team 4.0" not in bens
    adas = client_for(cast.ada).get(url).content.decode()
    assert "team ratings hidden · you 4" in adas
    assert "team 4.0 (1)" in client_for(dan).get(url).content.decode()


def test_the_digest_keeps_a_blind_paper_for_later(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, dan, _, _ = shared
    RatingFactory(team=cast.vision, user=dan, paper=paper, value=5)
    until = timezone.now() + timedelta(hours=1)
    vision = next(t for t in digest_for(dan, until).teams if t.team == cast.vision)
    assert paper.pk not in [r.paper.pk for r in vision.top_rated]
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=5)
    vision = next(t for t in digest_for(dan, until).teams if t.team == cast.vision)
    assert paper.pk in [r.paper.pk for r in vision.top_rated]


def test_everything_shows_once_every_reader_rated(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, _, _, _ = shared
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=2)
    assert blind_papers(cast.vision, cast.ben.pk) == set()
    mark = team_marks(cast.vision, cast.ben.pk, [paper.pk])[paper.pk]
    assert (mark.score, mark.raters, mark.mine) == (3, 2, 2)
    summary = rating_summary(cast.vision, paper, cast.ben)
    assert not summary.blind and summary.count == 2


def test_everything_shows_a_day_after_the_paper_was_given(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, _, _, time_machine = shared
    time_machine.move_to("2026-06-11 07:59Z", tick=False)
    assert blind_papers(cast.vision, cast.ben.pk) == {paper.pk}
    time_machine.move_to("2026-06-11 08:01Z", tick=False)
    assert blind_papers(cast.vision, cast.ben.pk) == set()
    assert rating_summary(cast.vision, paper, cast.ben).count == 1


def test_the_inbox_s_versions_follow_the_blind_day_and_the_ratings(cast, shared) -> None:  # type: ignore[no-untyped-def]
    """The versions query is compiled once per member and run again with the moving start
    of the blind day: what it says must stay what the ORM's query says, load after load."""
    paper, _, _, clock = shared
    ben = _membership(cast, cast.ben)

    def compiled_and_orm() -> tuple[InboxVersions, InboxVersions]:
        since = timezone.now() - BLIND_FOR
        return inbox_versions(ben), _versions_of(_versions_query(ben, since).get())

    blind, orm = compiled_and_orm()
    assert blind == orm
    assert "'hidden': 1" in blind.picks[0]  # ada's rating is hidden from ben
    clock.shift(timedelta(hours=24))  # the paper was given a day and an hour ago
    seen, orm = compiled_and_orm()
    assert seen == orm
    assert "'hidden': 0" in seen.picks[0]
    assert seen.member == blind.member
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=2)
    rated, orm = compiled_and_orm()
    assert rated == orm
    assert rated.member[0] != seen.member[0]
    assert rated.own == (rated.member[0], rated.member[2])


def test_a_reader_moved_in_later_is_blind_for_their_own_day(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, dan, _, time_machine = shared
    time_machine.move_to("2026-06-10 20:00Z", tick=False)
    share = Assignment.objects.get(team=cast.vision, paper=paper, user=cast.ben)
    from tracker.triage.sharing import assignment_reassign

    assignment_reassign(assignment=share, to_user=dan)
    assert blind_papers(cast.vision, dan.pk) == {paper.pk}
    assert blind_papers(cast.vision, cast.ben.pk) == set()  # not a reader any more
    time_machine.move_to("2026-06-11 19:00Z", tick=False)
    assert blind_papers(cast.vision, dan.pk) == {paper.pk}
    assert blind_papers(cast.vision, cast.ada.pk) == set()  # her day is over


def test_another_teams_member_never_sees_this_teams_ratings_or_picks(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, _, _, _ = shared
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=5)
    assert [p.pk for p in team_picks(cast.vision, cast.ben.pk).picks] == [paper.pk]
    carol = client_for(cast.carol)
    assert "Blind paper" not in carol.get("/inbox/picks/").content.decode()
    assert team_picks(cast.language, cast.carol.pk).picks == []
    assert team_marks(cast.language, cast.carol.pk, [paper.pk]) == {}
    panel = carol.get(reverse("papers:detail", args=[paper.pk])).content.decode()
    assert "none yet" in panel.split('id="ratings-panel"', 1)[1].split("</section>", 1)[0]


def test_a_pick_needs_all_its_readers_and_a_high_mean(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, dan, _, _ = shared
    # One reader rated: not a pick yet, for anyone.
    assert team_picks(cast.vision, dan.pk).picks == []
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=3)
    # Both rated, mean 3.5: not a pick.
    assert team_picks(cast.vision, dan.pk).picks == []
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=4)
    picks = team_picks(cast.vision, dan.pk).picks
    assert [p.pk for p in picks] == [paper.pk] and picks[0].score >= PICK_MEAN
    # Shown to everyone, on the picks page and at the top of the inbox.
    for user in (cast.ada, cast.ben, dan):
        assert "Blind paper" in client_for(user).get("/inbox/picks/").content.decode()
    inbox = client_for(dan).get("/inbox/").content.decode()
    assert "Blind paper" in inbox.split('id="picks-title"', 1)[1].split("</section>", 1)[0]


def test_without_readers_a_pick_needs_two_raters(cast, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(NOW, tick=False)
    paper = PaperFactory(title="Everyone's paper")
    RatingFactory(team=cast.vision, user=cast.ada, paper=paper, value=5)
    assert team_picks(cast.vision, cast.ben.pk).picks == []
    RatingFactory(team=cast.vision, user=cast.ben, paper=paper, value=4)
    assert [p.pk for p in team_picks(cast.vision, cast.ben.pk).picks] == [paper.pk]
    # A month on, it has left the list.
    time_machine.move_to("2026-07-20 09:00Z", tick=False)
    assert team_picks(cast.vision, cast.ben.pk).picks == []


def test_a_disputed_paper_goes_to_the_discussion_list_once_it_is_not_blind(cast, shared) -> None:  # type: ignore[no-untyped-def]
    paper, dan, _, _ = shared
    RatingFactory(team=cast.vision, user=dan, paper=paper, value=1)  # dan, not a reader
    # ben is blind to it still; dan (not a reader) sees the dispute.
    assert team_picks(cast.vision, cast.ben.pk).disputes == []
    assert [p.pk for p in team_picks(cast.vision, dan.pk).disputes] == [paper.pk]
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=4)
    disputes = team_picks(cast.vision, cast.ben.pk).disputes
    assert [(p.pk, p.low, p.high) for p in disputes] == [(paper.pk, 1, 4)]
    page = client_for(cast.ben).get("/inbox/picks/").content.decode()
    assert "1\u20134 (3)" in page.split('id="disputes-list"', 1)[1]
    # Two raters one apart are no dispute.
    calm = PaperFactory()
    RatingFactory(team=cast.vision, user=cast.ada, paper=calm, value=3)
    RatingFactory(team=cast.vision, user=cast.ben, paper=calm, value=4)
    assert calm.pk not in [p.pk for p in team_picks(cast.vision, dan.pk).disputes]


def test_not_interested_leaves_the_inbox_counts_against_the_paper_and_u_undoes_it(
    cast, time_machine
) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(NOW, tick=False)
    ranking_forget()
    paper = PaperFactory(title="Boring thing")
    client = client_for(cast.ben)
    row = client.post(reverse("triage:not_interested", args=[paper.pk]), HTTP_HX_REQUEST="true")
    assert "Not interested" in row.content.decode()
    skip = Skip.objects.get(team=cast.vision, user=cast.ben, paper=paper)
    assert skip.not_interested
    assert client.get("/inbox/").context["inbox"].total == 0
    client.post(reverse("triage:undo", args=[paper.pk]))
    assert not Skip.objects.exists()
    assert client.get("/inbox/").context["inbox"].total == 1
    # Without htmx: a message and back.
    response = client.post(reverse("triage:not_interested", args=[paper.pk]), follow=True)
    assert "Not interested in “Boring thing”" in response.content.decode()
    # A hidden paper or another id is simply not found.
    hidden = PaperFactory(hidden=True)
    assert client.post(reverse("triage:not_interested", args=[hidden.pk])).status_code == 404
    assert client.post("/inbox/papers/999999/not-interested/").status_code == 404
    assert client.get(reverse("triage:not_interested", args=[paper.pk])).status_code == 405


def test_not_interested_ranks_papers_like_it_lower_than_a_plain_skip(cast, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(NOW, tick=False)
    words = "crystal lattice phonon thermal conductivity"
    other = "reinforcement learning agents reward policy"
    passed = [PaperFactory(title=f"Crystal {i}", abstract=f"{words} {i}") for i in range(3)]
    liked = [PaperFactory(title=f"Agents {i}", abstract=f"{other} {i}") for i in range(2)]
    mixed = "crystal lattice reinforcement learning"
    new_like = PaperFactory(title="Crystal new", abstract=f"{words} new")
    new_mixed = PaperFactory(title="Mixed new", abstract=f"{mixed} new")
    membership = _membership(cast, cast.ben)
    for paper in liked:
        RatingFactory(team=cast.vision, user=cast.ben, paper=paper, value=5)
    # Papers about other things each, so that the words above are rare enough to weigh.
    neutral = [
        PaperFactory(title=f"Other {i}", abstract=f"subject{i} matter{i} field{i}")
        for i in range(60)
    ]
    candidates = type(new_like).objects.filter(
        pk__in=[new_like.pk, new_mixed.pk, *(p.pk for p in neutral)]
    )

    def gap(not_interested: bool) -> float:
        Skip.objects.filter(user=cast.ben).delete()
        for paper in passed:
            Skip.objects.create(
                team=cast.vision, user=cast.ben, paper=paper, not_interested=not_interested
            )
        ranking_forget()
        scores = {r.paper_id: r.score for r in member_ranking(membership, candidates)}
        return sum(scores[p.pk] for p in neutral) / len(neutral) - scores[new_like.pk]

    # "Not interested" puts the paper like those further below the rest than skips do.
    assert gap(False) < gap(True)
    assert Rating.objects.count() == 2


def test_the_keys_dialog_and_the_row_offer_not_interested(cast, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(NOW, tick=False)
    paper = PaperFactory()
    html = client_for(cast.ben).get("/inbox/").content.decode()
    assert re.search(r"<kbd>d</kbd></td><td>not interested", html)
    url = reverse("triage:not_interested", args=[paper.pk])
    assert f'hx-post="{url}" data-key="d"' in html


def test_exports_and_the_api_carry_no_ratings_to_give_away(cast, shared) -> None:  # type: ignore[no-untyped-def]
    _ = shared
    client = client_for(cast.ben)
    for fmt in ("csv", "bib"):
        body = client.get("/inbox/", {"view": "all", "format": fmt}).content.decode()
        assert "Blind paper" in body
        assert "reasons" not in body and "rating" not in body.lower()
    schema = client.get("/api/openapi.json").content.decode().lower()
    assert "rating" not in schema
