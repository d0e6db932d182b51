"""Inviting teammates without the admin: `manage.py invite` and the curators' form on the
home page. Both make an invitation bound to the email, which expires."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.conftest import Cast, client_for
from tests.factories import UserFactory
from tracker.teams.models import Invitation, Membership, Role

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _link_path(text: str) -> str:
    match = re.search(r"https?://[^/\s]+(/invitations/[\w\-]+/)", text)
    assert match, text
    return match.group(1)


@time_machine.travel(NOW, tick=False)
def test_invite_command_prints_a_link_that_only_the_invited_email_can_use(
    cast: Cast, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.INVITATION_TTL_DAYS = 7
    out = io.StringIO()
    call_command("invite", "erin@example.org", "--team", "Vision", "--role", "curator", stdout=out)
    assert "expires in 7 days" in out.getvalue()
    invitation = Invitation.objects.get()
    assert (invitation.team, invitation.email, invitation.role) == (
        cast.vision,
        "erin@example.org",
        Role.CURATOR,
    )
    path = _link_path(out.getvalue())

    stranger = client_for(UserFactory(username="mallory", email="mallory@example.org"))
    assert stranger.post(path).status_code == 403
    erin = UserFactory(username="erin", email="erin@example.org")
    assert client_for(erin).post(path).status_code == 302
    assert Membership.objects.get(user=erin).role == Role.CURATOR


def test_invite_command_by_slug_renews_an_open_invitation(cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        call_command("invite", "erin@example.org", "--team", "vision", stdout=io.StringIO())
    first = Invitation.objects.get()
    with time_machine.travel(NOW + timedelta(days=30), tick=False):
        call_command(
            "invite",
            "Erin@example.org",
            "--team",
            "vision",
            "--role",
            "member",
            stdout=io.StringIO(),
        )
    renewed = Invitation.objects.get()
    assert renewed.pk == first.pk and renewed.token != first.token
    assert renewed.created_at == NOW + timedelta(days=30)


def test_invite_command_refuses_unknown_teams_roles_and_addresses(cast: Cast) -> None:
    with pytest.raises(CommandError, match="no team 'Robotics'; teams: Language, Vision"):
        call_command("invite", "erin@example.org", "--team", "Robotics")
    with pytest.raises(CommandError, match="not an email address"):
        call_command("invite", "erin", "--team", "Vision")
    with pytest.raises(CommandError):
        call_command("invite", "erin@example.org", "--team", "Vision", "--role", "owner")
    assert not Invitation.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_curator_invites_from_the_home_page(cast: Cast) -> None:
    client = client_for(cast.ada)
    home = client.get(reverse("home")).content.decode()
    assert 'id="invite"' in home and '--team "Vision"' in home

    response = client.post(
        reverse("teams:invite"), {"email": "erin@example.org", "role": "member"}, follow=True
    )
    page = response.content.decode()
    invitation = Invitation.objects.get()
    assert invitation.invited_by == cast.ada and invitation.team == cast.vision
    assert f"/invitations/{invitation.token}/" in page
    assert "expires on 2026-03-09" in page


def test_members_see_no_invite_form_and_cannot_post_it(cast: Cast) -> None:
    client = client_for(cast.ben)
    assert 'id="invite"' not in client.get(reverse("home")).content.decode()
    response = client.post(
        reverse("teams:invite"), {"email": "erin@example.org", "role": "curator"}, follow=True
    )
    assert "Only the team&#x27;s curators can invite." in response.content.decode()
    assert not Invitation.objects.exists()


def test_a_bad_address_is_one_plain_message(cast: Cast) -> None:
    response = client_for(cast.ada).post(
        reverse("teams:invite"), {"email": "not an address", "role": "member"}, follow=True
    )
    assert "That is not an email address." in response.content.decode()
    assert not Invitation.objects.exists()
