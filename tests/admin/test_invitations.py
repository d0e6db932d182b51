"""An invitation link is used once, by the account that owns the invited address, in time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connections
from django.test import Client

from tests.conftest import Cast, client_for
from tests.factories import UserFactory
from tracker.teams.models import Invitation, Membership, Role
from tracker.teams.services import membership_set_role

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _invite(cast: Cast, email: str, role: str = Role.CURATOR) -> Invitation:
    return Invitation.objects.create(
        team=cast.vision, email=email, role=role, invited_by=cast.ada, created_at=SENT
    )


def _url(invitation: Invitation) -> str:
    return f"/invitations/{invitation.token}/"


@time_machine.travel(SENT + timedelta(hours=1), tick=False)
def test_a_member_of_another_team_cannot_accept_an_invitation_sent_to_someone_else(
    cast: Cast,
) -> None:
    invitation = _invite(cast, "erin@example.org")
    client = client_for(cast.carol)

    page = client.get(_url(invitation))
    assert page.status_code == 403
    assert "sent to another email address" in page.content.decode()
    response = client.post(_url(invitation))

    assert response.status_code == 403
    assert "sent to another email address" in response.content.decode()
    assert not Membership.objects.filter(team=cast.vision, user=cast.carol).exists()
    cast.carol.refresh_from_db()
    assert not cast.carol.is_staff
    invitation.refresh_from_db()
    assert invitation.accepted_at is None  # still there for erin


@time_machine.travel(SENT + timedelta(hours=1), tick=False)
def test_the_invited_address_matches_whatever_its_case(cast: Cast) -> None:
    invitation = _invite(cast, "Erin@Example.org")
    erin = UserFactory(username="erin", email="erin@EXAMPLE.ORG")

    response = client_for(erin).post(_url(invitation))

    assert response.status_code == 302
    assert Membership.objects.get(user=erin).role == Role.CURATOR


@time_machine.travel(SENT + timedelta(hours=1), tick=False)
def test_an_account_without_an_email_cannot_accept(cast: Cast) -> None:
    invitation = _invite(cast, "erin@example.org")
    nameless = UserFactory(username="nameless", email="")

    assert client_for(nameless).post(_url(invitation)).status_code == 403
    assert not Membership.objects.filter(user=nameless).exists()


def test_an_invitation_expires_after_its_time_to_live(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INVITATION_TTL_DAYS = 7
    invitation = _invite(cast, "erin@example.org", role=Role.MEMBER)

    with time_machine.travel(SENT + timedelta(days=7, seconds=1), tick=False):
        client = client_for(UserFactory(username="erin"))
        response = client.post(_url(invitation))
        assert response.status_code == 403
        assert "This invitation has expired" in response.content.decode()
        assert not Membership.objects.filter(team=cast.vision, user__username="erin").exists()

        settings.INVITATION_TTL_DAYS = 8
        assert client.post(_url(invitation)).status_code == 302


@time_machine.travel(SENT + timedelta(hours=1), tick=False)
def test_a_used_invitation_says_so(cast: Cast) -> None:
    invitation = _invite(cast, "erin@example.org", role=Role.MEMBER)
    client = client_for(UserFactory(username="erin"))
    assert client.post(_url(invitation)).status_code == 302

    again = client.post(_url(invitation))

    assert again.status_code == 403
    assert "This invitation has already been used." in again.content.decode()
    assert Membership.objects.filter(team=cast.vision).count() == 3


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_eight_accepts_at_once_give_one_membership_and_seven_plain_refusals(
    cast: Cast, postgres_url: str
) -> None:
    """Each thread is its own browser tab with its own database connection."""
    invitation = Invitation.objects.create(
        team=cast.vision, email="erin@example.org", role=Role.CURATOR, invited_by=cast.ada
    )
    erin = UserFactory(username="erin")
    clients = []
    for _ in range(8):
        client = Client(raise_request_exception=False)
        client.force_login(erin)
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def accept(client: Client) -> None:
        try:
            barrier.wait(timeout=10)
            response = client.post(_url(invitation))
            answers.append((response.status_code, response.content.decode()))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(status for status, _ in answers) == [302] + [403] * 7
    assert all("This invitation has already been used." in body for s, body in answers if s == 403)
    assert Membership.objects.filter(team=cast.vision, user=erin).count() == 1


def test_a_curator_renews_an_expired_invitation_and_only_the_new_link_works(
    cast: Cast,
) -> None:
    invitation = _invite(cast, "erin@example.org", role=Role.MEMBER)
    old_url = _url(invitation)

    with time_machine.travel(SENT + timedelta(days=30), tick=False):
        membership_set_role(team=cast.vision, user=cast.ada, role=Role.CURATOR)
        response = client_for(cast.ada).post(
            "/admin/teams/invitation/",
            {"action": "renew", "_selected_action": [invitation.pk]},
        )
        assert response.status_code == 302
        invitation.refresh_from_db()
        erin = client_for(UserFactory(username="erin"))
        assert erin.post(old_url).status_code == 404
        assert erin.post(_url(invitation)).status_code == 302
    assert Membership.objects.get(user__username="erin").team == cast.vision
