"""The admin is for curators: members get a 403 everywhere, curators see their teams only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.conftest import Cast, client_for
from tests.factories import (
    ClaimFactory,
    CommentFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    ResultLogFactory,
    UserFactory,
)
from tests.test_access import ALL_URLS
from tracker.teams.access import CURATORS_GROUP
from tracker.teams.models import Invitation, Membership, Role
from tracker.teams.services import membership_remove, membership_set_role

ADMIN_URLS = [(name, path) for name, path in ALL_URLS if name.startswith("admin:")]


def test_the_walk_covers_the_admin() -> None:
    names = {name for name, _ in ADMIN_URLS}
    assert {"admin:index", "admin:login", "admin:papers_paper_changelist"} <= names
    assert len(ADMIN_URLS) > 100


def test_member_without_curator_role_gets_403_on_every_admin_url(cast: Cast) -> None:
    client = client_for(cast.ben)
    for name, path in ADMIN_URLS:
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response.status_code == 403, f"{method.upper()} {path} ({name})"


def test_stale_staff_flag_without_curator_role_still_gets_403(cast: Cast) -> None:
    cast.ben.is_staff = True
    cast.ben.save()
    assert client_for(cast.ben).get("/admin/").status_code == 403


def test_curator_role_grants_the_admin_and_losing_it_takes_it_away(cast: Cast) -> None:
    membership = membership_set_role(team=cast.vision, user=cast.ben, role=Role.CURATOR)
    cast.ben.refresh_from_db()
    assert cast.ben.is_staff
    assert cast.ben.groups.filter(name=CURATORS_GROUP).exists()
    assert client_for(cast.ben).get("/admin/").status_code == 200

    membership_set_role(team=cast.vision, user=cast.ben, role=Role.MEMBER)
    cast.ben.refresh_from_db()
    assert not cast.ben.is_staff
    assert not cast.ben.groups.exists()
    assert client_for(cast.ben).get("/admin/").status_code == 403

    membership_set_role(team=cast.vision, user=cast.ben, role=Role.CURATOR)
    membership_remove(membership)
    cast.ben.refresh_from_db()
    assert not cast.ben.is_staff


def test_curators_group_holds_no_user_editing_or_superuser_rights(curator: Client) -> None:
    codenames = set(
        Group.objects.get(name=CURATORS_GROUP).permissions.values_list("codename", flat=True)
    )
    assert "view_paper" in codenames and "change_source" in codenames
    assert not {"change_user", "add_user", "delete_user", "delete_paper"} & codenames
    assert not any(code.endswith("_group") or code.endswith("_permission") for code in codenames)


def test_curator_cannot_change_a_password_or_superuser_flag(cast: Cast, curator: Client) -> None:
    assert curator.get(f"/admin/auth/user/{cast.ben.pk}/password/").status_code == 403
    response = curator.post(
        f"/admin/auth/user/{cast.ben.pk}/change/",
        {"username": "ben", "is_superuser": "on", "is_staff": "on"},
    )
    assert response.status_code == 403
    cast.ben.refresh_from_db()
    assert not cast.ben.is_superuser


def test_curator_sees_only_their_teams_rows(cast: Cast, curator: Client) -> None:
    paper = PaperFactory(title="Shared paper")
    RatingFactory(team=cast.vision, user=cast.ben, paper=paper, value=5)
    RatingFactory(team=cast.language, user=cast.carol, paper=paper, value=1)
    CommentFactory(team=cast.vision, user=cast.ben, paper=paper, body="vision-comment")
    theirs = CommentFactory(team=cast.language, user=cast.carol, paper=paper, body="lang")
    repro = ReproductionFactory(team=cast.language, paper=paper)
    claim = ClaimFactory(team=cast.language, paper=paper)
    result = ResultLogFactory(reproduction=repro, claim=claim)

    ratings = curator.get("/admin/triage/rating/")
    assert ratings.status_code == 200
    assert [r.user.username for r in ratings.context["cl"].result_list] == ["ben"]
    comments = curator.get("/admin/triage/comment/").context["cl"].result_list
    assert [c.team_id for c in comments] == [cast.vision.pk]
    for url in ("reproductions/reproduction", "reproductions/claim", "reproductions/resultlog"):
        assert list(curator.get(f"/admin/{url}/").context["cl"].result_list) == []
    assert curator.get(f"/admin/triage/comment/{theirs.pk}/change/").status_code == 302
    assert curator.get(f"/admin/reproductions/resultlog/{result.pk}/change/").status_code == 302
    teams = curator.get("/admin/teams/team/").context["cl"].result_list
    assert [t.name for t in teams] == ["Vision"]


def test_invitation_link_joins_the_team(cast: Cast, curator: Client) -> None:
    response = curator.post(
        "/admin/teams/invitation/add/",
        {"team": cast.vision.pk, "email": "erin@example.org", "role": Role.MEMBER},
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="erin@example.org")
    assert invitation.invited_by == cast.ada

    erin = UserFactory(username="erin")
    client = client_for(erin)
    url = f"/invitations/{invitation.token}/"
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    assert Membership.objects.get(user=erin).team == cast.vision
    assert client.post(url).status_code == 403  # used once


@pytest.mark.parametrize("path", ["/admin/", "/admin/papers/paper/"])
def test_anonymous_is_sent_to_log_in(client: Client, db: None, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
