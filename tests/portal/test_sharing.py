"""The day's reading shared across a team: who gets which paper, days away, rebalancing and
moving a share, and the inbox's share view."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import MembershipFactory, PaperFactory, RatingFactory, UserFactory
from tests.portal.helpers import paper_in
from tracker.papers.models import Paper
from tracker.teams.models import Absence, Membership
from tracker.triage.models import Assignment, Skip
from tracker.triage.ranking import ranking_forget
from tracker.triage.selectors import open_assignments
from tracker.triage.sharing import (
    assignment_reassign,
    days_away_add,
    papers_share,
    papers_share_everywhere,
    shares_rebalance,
    shares_sweep,
)

NOW = "2026-06-10 09:00Z"

VISION_WORDS = "convolutional image segmentation pixels object detection camera"
LANGUAGE_WORDS = "language model translation tokens parsing grammar sentences"


def _paper(words: str, n: int, **kwargs):  # type: ignore[no-untyped-def]
    return paper_in(
        None,
        title=f"{words.split()[n % 3].title()} study {n}",
        abstract=f"{words} {words.split()[n % 5]} results {n}",
        **kwargs,
    )


def _readers(team, paper) -> set[str]:  # type: ignore[no-untyped-def]
    return set(
        Assignment.objects.filter(team=team, paper=paper).values_list("user__username", flat=True)
    )


@pytest.fixture
def frozen(time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(NOW, tick=False)
    ranking_forget()
    return time_machine


def test_each_new_paper_goes_to_k_members_by_affinity(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    """ada rated vision papers high and language papers low, ben the other way: with one
    reader a paper, each gets the new papers of their own kind."""
    cast.vision.readers_per_paper = 1
    cast.vision.save()
    for i in range(4):
        old_vision = _paper(VISION_WORDS, i, days_ago=5)
        old_language = _paper(LANGUAGE_WORDS, i, days_ago=5)
        RatingFactory(team=cast.vision, user=cast.ada, paper=old_vision, value=5)
        RatingFactory(team=cast.vision, user=cast.ada, paper=old_language, value=1)
        RatingFactory(team=cast.vision, user=cast.ben, paper=old_language, value=5)
        RatingFactory(team=cast.vision, user=cast.ben, paper=old_vision, value=1)
    vision = [_paper(VISION_WORDS, 10 + i) for i in range(3)]
    language = [_paper(LANGUAGE_WORDS, 10 + i) for i in range(3)]

    made = papers_share(cast.vision.pk, [p.pk for p in vision + language])

    assert made == 6
    assert all(_readers(cast.vision, p) == {"ada"} for p in vision)
    assert all(_readers(cast.vision, p) == {"ben"} for p in language)
    # Language (another team) keeps today's behaviour for its own setting, and gets no
    # share of Vision's round.
    assert not Assignment.objects.filter(team=cast.language).exists()


def test_load_balances_the_shares_when_affinity_says_nothing(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    dan = UserFactory(username="dan")
    MembershipFactory(team=cast.vision, user=dan)
    papers = [PaperFactory() for _ in range(9)]
    papers_share(cast.vision.pk, [p.pk for p in papers])
    counts = Counter(
        Assignment.objects.filter(team=cast.vision).values_list("user__username", flat=True)
    )
    # Default k=2: 18 shares over three members, six each.
    assert counts == {"ada": 6, "ben": 6, "dan": 6}
    assert all(len(_readers(cast.vision, p)) == 2 for p in papers)


def test_a_member_with_an_unread_backlog_gets_fewer_new_papers(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    cast.vision.readers_per_paper = 1
    cast.vision.save()
    backlog = [PaperFactory() for _ in range(12)]
    Assignment.objects.bulk_create(
        [Assignment(team=cast.vision, paper=p, user=cast.ada) for p in backlog]
    )
    new = [PaperFactory() for _ in range(6)]
    papers_share(cast.vision.pk, [p.pk for p in new])
    assert {r for p in new for r in _readers(cast.vision, p)} == {"ben"}
    # Once ada has read her backlog, the next round is shared between both again.
    for paper in backlog:
        RatingFactory(team=cast.vision, user=cast.ada, paper=paper, value=3)
    later = [PaperFactory() for _ in range(6)]
    papers_share(cast.vision.pk, [p.pk for p in later])
    assert "ada" in {r for p in later for r in _readers(cast.vision, p)}


def test_sharing_twice_changes_nothing_and_a_new_k_applies_to_new_papers(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    first = [PaperFactory() for _ in range(3)]
    assert papers_share(cast.vision.pk, [p.pk for p in first]) == 6
    before = set(Assignment.objects.values_list("paper_id", "user_id", "assigned_at"))
    assert papers_share(cast.vision.pk, [p.pk for p in first]) == 0
    assert set(Assignment.objects.values_list("paper_id", "user_id", "assigned_at")) == before

    cast.vision.readers_per_paper = 1
    cast.vision.save()
    newcomer = UserFactory(username="eve")
    MembershipFactory(team=cast.vision, user=newcomer)
    second = [PaperFactory() for _ in range(3)]
    papers_share(cast.vision.pk, [p.pk for p in first + second])
    assert all(len(_readers(cast.vision, p)) == 2 for p in first)
    assert all(len(_readers(cast.vision, p)) == 1 for p in second)
    assert "eve" in {r for p in second for r in _readers(cast.vision, p)}


def test_everyone_reads_everything_makes_no_shares(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    cast.vision.readers_per_paper = None
    cast.vision.save()
    cast.language.readers_per_paper = None
    cast.language.save()
    papers = [PaperFactory() for _ in range(3)]
    assert papers_share(cast.vision.pk, [p.pk for p in papers]) == 0
    assert papers_share_everywhere([p.pk for p in papers]) == 0
    assert not Assignment.objects.exists()
    # ...and the inbox is everything, as before.
    page = client_for(cast.ben).get("/inbox/")
    assert page.context["share_left"] == 0
    assert page.context["inbox"].total == 3


def test_only_new_papers_are_shared_and_hidden_ones_never(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    old = paper_in(None, days_ago=30)  # an import of the whole corpus is not the day's reading
    hidden = PaperFactory(hidden=True)
    new = PaperFactory()
    papers_share_everywhere([old.pk, hidden.pk, new.pk])
    assert set(Assignment.objects.values_list("paper_id", flat=True)) == {new.pk}
    # Both teams share (Language has one member: one reader there).
    assert _readers(cast.vision, new) == {"ada", "ben"}
    assert _readers(cast.language, new) == {"carol"}


def test_a_member_away_gets_nothing_and_their_unread_share_goes_to_the_others(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    dan = UserFactory(username="dan")
    MembershipFactory(team=cast.vision, user=dan)
    cast.vision.readers_per_paper = 1
    cast.vision.save()
    papers = [PaperFactory() for _ in range(6)]
    papers_share(cast.vision.pk, [p.pk for p in papers])
    bens = list(
        Assignment.objects.filter(team=cast.vision, user=cast.ben).values_list(
            "paper_id", flat=True
        )
    )
    assert len(bens) == 2
    read = bens[0]
    RatingFactory(team=cast.vision, user=cast.ben, paper_id=read, value=4)

    ben = Membership.objects.get(team=cast.vision, user=cast.ben)
    days_away_add(membership=ben, starts=date(2026, 6, 10), ends=date(2026, 6, 12))

    # What ben read stays his; the paper he had not read went to someone present.
    assert set(
        Assignment.objects.filter(team=cast.vision, user=cast.ben).values_list(
            "paper_id", flat=True
        )
    ) == {read}
    unread = Paper.objects.get(pk=bens[1])
    assert len(_readers(cast.vision, unread)) == 1
    assert _readers(cast.vision, unread) <= {"ada", "dan"}
    # New papers skip him while he is away...
    more = [PaperFactory() for _ in range(4)]
    papers_share(cast.vision.pk, [p.pk for p in more])
    assert all("ben" not in _readers(cast.vision, p) for p in more)
    # ...and reach him again once he is back.
    frozen.move_to("2026-06-13 09:00Z", tick=False)
    back = [PaperFactory() for _ in range(6)]
    papers_share(cast.vision.pk, [p.pk for p in back])
    assert any("ben" in _readers(cast.vision, p) for p in back)


def test_the_sweep_moves_shares_when_planned_days_away_begin(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    cast.vision.readers_per_paper = 1
    cast.vision.save()
    papers = [PaperFactory() for _ in range(4)]
    papers_share(cast.vision.pk, [p.pk for p in papers])
    ada = Membership.objects.get(team=cast.vision, user=cast.ada)
    days_away_add(membership=ada, starts=date(2026, 6, 11), ends=date(2026, 6, 11))
    assert Assignment.objects.filter(team=cast.vision, user=cast.ada).count() == 2  # not yet

    frozen.move_to("2026-06-11 08:00Z", tick=False)
    shares_sweep()
    assert not Assignment.objects.filter(team=cast.vision, user=cast.ada).exists()
    assert Assignment.objects.filter(team=cast.vision, user=cast.ben).count() == 4


def test_the_sweep_shares_papers_no_round_shared(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    # Arrived two hours ago with no vector: the sweep stops waiting for one after an hour.
    waited = paper_in(None, days_ago=2 / 24)
    # Arrived just now without a vector: the embedding run will share it.
    fresh = PaperFactory()
    assert shares_sweep() == 3  # two Vision readers and carol
    assert set(Assignment.objects.values_list("paper_id", flat=True)) == {waited.pk}
    assert fresh.pk not in set(Assignment.objects.values_list("paper_id", flat=True))
    assert shares_sweep() == 0


def test_with_every_member_away_nothing_is_shared_and_nothing_fails(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    for user in (cast.ada, cast.ben):
        Absence.objects.create(
            membership=Membership.objects.get(team=cast.vision, user=user),
            starts=date(2026, 6, 1),
            ends=date(2026, 6, 10),
        )
    paper = PaperFactory()
    assert papers_share(cast.vision.pk, [paper.pk]) == 0
    assert not Assignment.objects.filter(team=cast.vision).exists()
    # When they are back, the sweep shares what waited (it has a vector by then or not).
    frozen.move_to("2026-06-11 09:00Z", tick=False)
    shares_sweep()
    assert _readers(cast.vision, paper) == {"ada", "ben"}


def test_rebalance_gives_unread_shares_out_again_over_members_present(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    cast.vision.readers_per_paper = 1
    cast.vision.save()
    papers = [PaperFactory() for _ in range(6)]
    # Everything went to ada (say, ben joined later).
    Assignment.objects.bulk_create(
        [Assignment(team=cast.vision, paper=p, user=cast.ada) for p in papers]
    )
    RatingFactory(team=cast.vision, user=cast.ada, paper=papers[0], value=2)
    Skip.objects.create(team=cast.vision, user=cast.ada, paper=papers[1])

    made = shares_rebalance(cast.vision.pk)

    assert made == 4
    counts = Counter(
        Assignment.objects.filter(team=cast.vision).values_list("user__username", flat=True)
    )
    # ada keeps the two she read; the four unread are split evenly.
    assert counts == {"ada": 4, "ben": 2}
    assert Counter(open_assignments(cast.vision).values_list("user__username", flat=True)) == {
        "ada": 2,
        "ben": 2,
    }
    assert _readers(cast.vision, papers[0]) == {"ada"}
    assert _readers(cast.vision, papers[1]) == {"ada"}
    assert all(len(_readers(cast.vision, p)) == 1 for p in papers)


def test_reassign_moves_one_share_within_the_team_only(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    share = Assignment.objects.create(
        team=cast.vision,
        paper=paper,
        user=cast.ada,
        assigned_at=timezone.now() - timedelta(hours=20),
    )
    moved = assignment_reassign(assignment=share, to_user=cast.ben)
    assert moved.user_id == cast.ben.pk
    assert moved.assigned_at == timezone.now()  # the new reader gets a full day
    with pytest.raises(ValidationError, match="not a member"):
        assignment_reassign(assignment=moved, to_user=cast.carol)
    Assignment.objects.create(team=cast.vision, paper=paper, user=cast.ada)
    with pytest.raises(ValidationError, match="already has this paper"):
        assignment_reassign(assignment=moved, to_user=cast.ada)
    assert _readers(cast.vision, paper) == {"ada", "ben"}


def test_the_inbox_opens_on_my_share_and_everything_is_a_click_away(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    mine = [PaperFactory(title=f"Mine {i}") for i in range(2)]
    others = [PaperFactory(title=f"Other {i}") for i in range(3)]
    Assignment.objects.bulk_create(
        [Assignment(team=cast.vision, paper=p, user=cast.ben) for p in mine]
    )
    Assignment.objects.bulk_create(
        [Assignment(team=cast.vision, paper=p, user=cast.ada) for p in others]
    )
    client = client_for(cast.ben)

    page = client.get("/inbox/")
    html = page.content.decode()
    assert "Your share (2)" in html
    assert page.context["inbox"].total == 2
    assert all(f"Mine {i}" in html for i in range(2))
    assert "Other 0" not in html

    everything = client.get("/inbox/", {"view": "all"})
    assert everything.context["inbox"].total == 5
    assert "Your share (2)" in everything.content.decode()

    # Read my share: the inbox says so, and opens on everything next time.
    for paper in mine:
        client.post(f"/inbox/papers/{paper.pk}/rate/", {"value": "3"})
    done = client.get("/inbox/", {"view": "share"})
    assert "Your share is read" in done.content.decode()
    assert client.get("/inbox/").context["inbox"].total == 3

    # A bad view is dropped, not an error.
    assert client.get("/inbox/", {"view": "<script>"}).status_code == 200


def test_the_share_view_keeps_to_its_filters_in_links_and_exports(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    mine = PaperFactory(title="Mine to export")
    PaperFactory(title="Not mine")
    Assignment.objects.create(team=cast.vision, paper=mine, user=cast.ben)
    client = client_for(cast.ben)
    html = client.get("/inbox/").content.decode()
    assert "format=csv" in html and "view=share" in html
    csv = client.get("/inbox/", {"view": "share", "format": "csv"}).content.decode()
    assert "Mine to export" in csv and "Not mine" not in csv


def test_a_member_of_another_team_never_sees_this_teams_shares(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(title="Vision's share")
    Assignment.objects.create(team=cast.vision, paper=paper, user=cast.ben)
    carol = client_for(cast.carol)
    page = carol.get("/inbox/")
    assert page.context["share_left"] == 0
    assert "Vision" not in carol.get("/inbox/share/").content.decode().split("<main", 1)[1]
    assert not Assignment.objects.for_user(cast.carol).exists()
    assert list(Assignment.objects.for_user(cast.ben)) == [Assignment.objects.get()]


def test_the_sharing_page_shows_loads_and_curators_change_k_rebalance_and_move(
    cast, frozen
) -> None:  # type: ignore[no-untyped-def]
    cast.vision.readers_per_paper = 1
    cast.vision.save()
    papers = [PaperFactory(title=f"Shared {i}") for i in range(4)]
    Assignment.objects.bulk_create(
        [Assignment(team=cast.vision, paper=p, user=cast.ada) for p in papers]
    )
    ada, ben = client_for(cast.ada), client_for(cast.ben)

    page = ben.get("/inbox/share/").content.decode()
    assert 'data-unread="ada">4<' in page and 'data-unread="ben">0<' in page
    assert "Rebalance" not in page  # curators only
    # A member cannot change the setting, rebalance or move a share: one plain message.
    for url, data in (
        ("/inbox/share/readers/", {"readers": "3"}),
        ("/inbox/share/rebalance/", {}),
        (f"/inbox/share/{Assignment.objects.first().pk}/reassign/", {"user": cast.ben.pk}),
    ):
        response = ben.post(url, data, follow=True)
        assert "Only the team&#x27;s curators" in response.content.decode()
    cast.vision.refresh_from_db()
    assert cast.vision.readers_per_paper == 1
    assert Assignment.objects.filter(user=cast.ada).count() == 4

    assert "Rebalance" in ada.get("/inbox/share/").content.decode()
    ada.post("/inbox/share/rebalance/")
    assert Assignment.objects.filter(user=cast.ben).count() == 2

    share = Assignment.objects.filter(user=cast.ada).first()
    ada.post(f"/inbox/share/{share.pk}/reassign/", {"user": cast.ben.pk})
    assert Assignment.objects.filter(user=cast.ben).count() == 3
    # Moving to someone outside the team, or to nobody, changes nothing.
    other = Assignment.objects.filter(user=cast.ada).first()
    for bad in ({"user": cast.carol.pk}, {"user": "x"}, {}):
        response = ada.post(f"/inbox/share/{other.pk}/reassign/", bad, follow=True)
        assert "Choose a member of the team." in response.content.decode()
    assert Assignment.objects.filter(user=cast.ada).count() == 1
    # Another team's share is not found.
    theirs = Assignment.objects.create(team=cast.language, paper=papers[0], user=cast.carol)
    assert ada.post(f"/inbox/share/{theirs.pk}/reassign/", {"user": cast.ben.pk}).status_code == 404

    ada.post("/inbox/share/readers/", {"readers": "3"})
    cast.vision.refresh_from_db()
    assert cast.vision.readers_per_paper == 3
    ada.post("/inbox/share/readers/", {"everyone": "1"})
    cast.vision.refresh_from_db()
    assert cast.vision.readers_per_paper is None
    for bad in ({"readers": "0"}, {"readers": "lots"}, {}, {"readers": "99"}):
        response = ada.post("/inbox/share/readers/", bad, follow=True)
        assert "Readers per paper is a number" in response.content.decode() or (
            "Give a number of readers" in response.content.decode()
        )
    cast.vision.refresh_from_db()
    assert cast.vision.readers_per_paper is None


def test_days_away_are_added_and_taken_back_and_bad_dates_are_refused(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    ben = client_for(cast.ben)
    response = ben.post(
        "/inbox/share/away/", {"starts": "2026-06-20", "ends": "2026-06-25"}, follow=True
    )
    assert "Days away saved" in response.content.decode()
    absence = Absence.objects.get()
    assert (absence.starts, absence.ends) == (date(2026, 6, 20), date(2026, 6, 25))
    assert "2026-06-20 to 2026-06-25" in ben.get("/inbox/share/").content.decode()
    for bad, says in (
        ({"starts": "2026-06-25", "ends": "2026-06-20"}, "comes before the first"),
        ({"starts": "2026-05-01", "ends": "2026-05-02"}, "past already"),
        ({"starts": "2026-06-20", "ends": "2028-06-20"}, "at most a year"),
        ({"starts": "not a date", "ends": "2026-06-20"}, "That is not a date."),
        ({"ends": "2026-06-20"}, "Give the first day away."),
    ):
        response = ben.post("/inbox/share/away/", bad, follow=True)
        assert says in response.content.decode()
    assert Absence.objects.count() == 1
    # Nobody takes back another member's days away.
    client_for(cast.ada).post("/inbox/share/away/", {"delete": absence.pk})
    assert Absence.objects.count() == 1
    ben.post("/inbox/share/away/", {"delete": absence.pk})
    assert not Absence.objects.exists()


def test_a_member_who_leaves_leaves_their_unread_share_to_the_others(
    cast, frozen, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    dan = UserFactory(username="dan")
    MembershipFactory(team=cast.vision, user=dan)
    papers = [PaperFactory() for _ in range(3)]
    papers_share(cast.vision.pk, [p.pk for p in papers])
    bens = set(Assignment.objects.filter(user=cast.ben).values_list("paper_id", flat=True))
    assert bens
    # Leaving queues the move after commit (a worker runs it: tests/integration)...
    with django_capture_on_commit_callbacks(execute=False) as queued:
        Membership.objects.filter(team=cast.vision, user=cast.ben).delete()
    assert len(queued) == 1
    # ...and the sweep makes it if that message is lost.
    shares_sweep()
    assert not Assignment.objects.filter(user=cast.ben).exists()
    assert all(_readers(cast.vision, p) == {"ada", "dan"} for p in papers)
    # Someone with no share leaves: nothing to queue.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        Membership.objects.filter(team=cast.language, user=cast.carol).delete()
    assert queued == []
