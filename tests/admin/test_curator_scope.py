"""A curator sees the teams they curate and those teams' members, nothing of the others."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import Cast, client_for
from tests.factories import (
    ClaimFactory,
    CommentFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    TeamFactory,
    UserFactory,
)
from tracker.teams.models import Invitation, Membership, Role
from tracker.teams.services import membership_set_role

# Every changelist of team-owned rows with a filter by team.
TEAM_FILTERED = [
    "/admin/teams/membership/",
    "/admin/teams/invitation/",
    "/admin/triage/rating/",
    "/admin/triage/comment/",
    "/admin/reproductions/reproduction/",
    "/admin/reproductions/claim/",
]


@pytest.fixture
def three_teams(cast: Cast) -> None:
    """ada also curates Audio; rows of every filtered kind in all three teams, so a filter
    has two of her teams to offer (a filter with one choice is not shown at all)."""
    audio = TeamFactory(name="Audio", slug="audio")
    dan = UserFactory(username="dan")
    membership_set_role(team=audio, user=dan, role=Role.MEMBER)
    membership_set_role(team=audio, user=cast.ada, role=Role.CURATOR)
    paper = PaperFactory()
    for team, user in ((cast.vision, cast.ben), (cast.language, cast.carol), (audio, dan)):
        RatingFactory(team=team, user=user, paper=paper)
        CommentFactory(team=team, user=user, paper=paper)
        ReproductionFactory(team=team, paper=paper)
        ClaimFactory(team=team, paper=paper)
        Invitation.objects.create(team=team, email=f"new-{team.slug}@example.org")


def _filter_choices(response: Any) -> set[str]:
    changelist = response.context["cl"]
    return {
        str(choice["display"])
        for spec in changelist.filter_specs
        for choice in spec.choices(changelist)
    }


@pytest.mark.parametrize("url", TEAM_FILTERED)
def test_a_curators_filters_name_only_the_teams_they_curate(
    three_teams: None, curator: Client, url: str
) -> None:
    response = curator.get(url)

    assert response.status_code == 200
    choices = _filter_choices(response)
    assert {"Vision", "Audio"} <= choices
    assert "Language" not in choices
    assert "carol" not in choices
    assert "Language" not in response.content.decode()


def test_a_superuser_filters_by_every_team(three_teams: None, cast: Cast) -> None:
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    for url in TEAM_FILTERED:
        choices = _filter_choices(client_for(root).get(url))
        assert {"Vision", "Language", "Audio"} <= choices, url


def test_a_curator_lists_only_the_members_of_their_teams(cast: Cast, curator: Client) -> None:
    UserFactory(username="loner")

    response = curator.get("/admin/auth/user/")

    assert response.status_code == 200
    assert [u.username for u in response.context["cl"].result_list] == ["ada", "ben"]
    assert "carol@example.org" not in response.content.decode()
    searched = curator.get("/admin/auth/user/", {"q": "example.org"})
    assert [u.username for u in searched.context["cl"].result_list] == ["ada", "ben"]


def _autocomplete(client: Client, term: str) -> list[str]:
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "teams", "model_name": "membership", "field_name": "user", "term": term},
    )
    assert response.status_code == 200
    return [result["text"] for result in response.json()["results"]]


def test_the_user_autocomplete_finds_only_members_of_the_curated_teams(
    cast: Cast, curator: Client
) -> None:
    UserFactory(username="loner")

    assert _autocomplete(curator, "car") == []
    assert _autocomplete(curator, "example.org") == ["ada", "ben"]
    assert _autocomplete(curator, "") == ["ada", "ben"]


def test_a_superuser_autocompletes_every_user(cast: Cast) -> None:
    root = client_for(UserFactory(username="root", is_superuser=True, is_staff=True))
    assert _autocomplete(root, "car") == ["carol"]


def test_another_teams_member_is_not_found_by_a_curator(cast: Cast, curator: Client) -> None:
    for suffix in ("change/", "history/", "password/"):
        response = curator.get(f"/admin/auth/user/{cast.carol.pk}/{suffix}")
        assert response.status_code in (403, 404), suffix
        assert "carol@example.org" not in response.content.decode()
    assert curator.get(f"/admin/auth/user/{cast.carol.pk}/change/").status_code == 404
    assert curator.get(f"/admin/auth/user/{cast.ben.pk}/change/").status_code == 200


def test_a_curator_cannot_add_an_account_from_outside_their_teams(
    cast: Cast, curator: Client
) -> None:
    newcomer = UserFactory(username="dora")
    for team in (cast.vision, cast.language):
        response = curator.post(
            "/admin/teams/membership/add/",
            {"team": team.pk, "user": newcomer.pk, "role": Role.MEMBER},
        )
        assert response.status_code == 200  # the form refuses: dora comes by invitation
        assert response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=newcomer).exists()


def test_a_curator_of_two_teams_gives_a_member_of_one_a_role_in_the_other(
    cast: Cast, curator: Client
) -> None:
    membership_set_role(team=cast.language, user=cast.ada, role=Role.CURATOR)

    response = curator.post(
        "/admin/teams/membership/add/",
        {"team": cast.vision.pk, "user": cast.carol.pk, "role": Role.CURATOR},
    )

    assert response.status_code == 302
    assert Membership.objects.get(team=cast.vision, user=cast.carol).role == Role.CURATOR
    cast.carol.refresh_from_db()
    assert cast.carol.is_staff
