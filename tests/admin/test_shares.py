"""A curator moves a share in the admin: within their team, to a member of it only."""

from __future__ import annotations

from django.test import Client

from tests.conftest import Cast, client_for
from tests.factories import MembershipFactory, PaperFactory, UserFactory
from tracker.triage.models import Assignment

URL = "/admin/triage/assignment/"


def test_a_curator_lists_and_moves_only_their_teams_shares(cast: Cast, curator: Client) -> None:
    paper = PaperFactory(title="Shared in the admin")
    ours = Assignment.objects.create(team=cast.vision, paper=paper, user=cast.ada)
    theirs = Assignment.objects.create(team=cast.language, paper=paper, user=cast.carol)

    listing = curator.get(URL).content.decode()
    assert f"{URL}{ours.pk}/change/" in listing
    assert f"{URL}{theirs.pk}/change/" not in listing
    # Another team's share is "not found": the admin goes back to its index.
    assert curator.post(f"{URL}{theirs.pk}/change/", {"user": cast.ada.pk}).url == "/admin/"

    response = curator.post(f"{URL}{ours.pk}/change/", {"user": cast.ben.pk})
    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.user == cast.ben
    theirs.refresh_from_db()
    assert theirs.user == cast.carol


def test_a_share_goes_to_no_one_outside_the_team(cast: Cast, curator: Client) -> None:
    # eve is a member of Language, which ada also curates: the admin lists her, the form
    # refuses her for a Vision share.
    eve = UserFactory(username="eve")
    MembershipFactory(team=cast.language, user=eve)
    MembershipFactory(team=cast.language, user=cast.ada, role="curator")
    share = Assignment.objects.create(team=cast.vision, paper=PaperFactory(), user=cast.ben)
    client = client_for(cast.ada)
    for outsider in (eve, cast.carol):
        page = client.post(f"{URL}{share.pk}/change/", {"user": outsider.pk})
        assert page.status_code == 200
        assert "not a member of the team" in page.content.decode()
    share.refresh_from_db()
    assert share.user == cast.ben


def test_a_member_who_is_not_a_curator_cannot_reach_the_shares(cast: Cast) -> None:
    share = Assignment.objects.create(team=cast.vision, paper=PaperFactory(), user=cast.ben)
    response = client_for(cast.ben).post(f"{URL}{share.pk}/change/", {"user": cast.ben.pk})
    assert response.status_code in (302, 403)
    share.refresh_from_db()
    assert share.user == cast.ben
