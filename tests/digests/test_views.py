"""The settings page, the preview, and the unsubscribe link that needs no login."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse

from tests.conftest import client_for
from tests.digests.conftest import NOW, build_week
from tracker.digests.emails import UNSUBSCRIBE_MAX_AGE, unsubscribe_token
from tracker.digests.models import DigestPreference
from tracker.digests.services import digest_preview

pytestmark = pytest.mark.django_db


def test_settings_page_shows_defaults_and_saves_a_new_schedule(cast) -> None:
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        # Signed in inside the frozen week: a session from the real clock may have expired.
        client = client_for(cast.ben)
        page = client.get(reverse("digests:settings"))
        assert page.status_code == 200
        assert b"Next digest: Monday 30 November, 08:00 (UTC)" in page.content

        response = client.post(
            reverse("digests:settings"),
            {"enabled": "on", "weekday": "4", "hour": "7", "timezone": "Asia/Shanghai"},
        )
    assert response.status_code == 302
    pref = DigestPreference.objects.get(user=cast.ben)
    assert (pref.enabled, pref.weekday, pref.hour, pref.timezone) == (True, 4, 7, "Asia/Shanghai")
    # Friday 4 December 07:00 in Shanghai is Thursday 23:00 UTC.
    assert pref.next_send_at.isoformat() == "2026-12-03T23:00:00+00:00"  # type: ignore[union-attr]


def test_settings_rejects_an_unknown_time_zone(cast) -> None:
    response = client_for(cast.ben).post(
        reverse("digests:settings"),
        {"enabled": "on", "weekday": "0", "hour": "8", "timezone": "Mars/Olympus"},
    )
    assert response.status_code == 200
    assert DigestPreference.objects.get(user=cast.ben).timezone == "UTC"


def test_turning_the_digest_off_clears_the_schedule(cast) -> None:
    client_for(cast.ben).post(
        reverse("digests:settings"), {"weekday": "0", "hour": "8", "timezone": "UTC"}
    )
    pref = DigestPreference.objects.get(user=cast.ben)
    assert not pref.enabled and pref.next_send_at is None


def test_preview_shows_the_html_exactly_as_it_would_be_sent(cast) -> None:
    build_week(cast)
    with time_machine.travel(NOW, tick=False):
        client = client_for(cast.ada)
        page = client.get(reverse("digests:preview"))
        email = client.get(reverse("digests:preview_email"))
        text = client.get(reverse("digests:preview_email") + "?part=text")
        framed = client.get(reverse("digests:preview_email") + "?framed=1")
        _, rendered = digest_preview(cast.ada, NOW)
    assert page.status_code == 200
    assert rendered.subject.encode() in page.content
    assert email.content.decode() == rendered.html
    assert text.content.decode() == rendered.text
    assert framed.content.decode() == rendered.html.replace(
        "<head>", '<head><base target="_top">', 1
    )
    assert email.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "default-src 'none'" in email.headers["Content-Security-Policy"]


def test_preview_needs_a_login() -> None:
    assert Client().get(reverse("digests:preview")).status_code == 302


def test_unsubscribe_get_asks_and_changes_nothing(cast) -> None:
    url = reverse("digests:unsubscribe", args=[unsubscribe_token(cast.carol)])
    response = Client().get(url)
    assert response.status_code == 200
    assert b"carol@example.org" in response.content
    assert not DigestPreference.objects.filter(user=cast.carol, enabled=False).exists()


def test_one_click_unsubscribe_posts_without_login_or_csrf_token(cast) -> None:
    url = reverse("digests:unsubscribe", args=[unsubscribe_token(cast.carol)])
    response = Client(enforce_csrf_checks=True).post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    pref = DigestPreference.objects.get(user=cast.carol)
    assert not pref.enabled and pref.unsubscribed_at is not None and pref.next_send_at is None

    # Turning it back on from the settings page subscribes again.
    client_for(cast.carol).post(
        reverse("digests:settings"),
        {"enabled": "on", "weekday": "0", "hour": "8", "timezone": "UTC"},
    )
    pref.refresh_from_db()
    assert pref.enabled and pref.unsubscribed_at is None


def test_forged_or_expired_unsubscribe_links_are_refused(cast) -> None:
    token = unsubscribe_token(cast.carol)
    forged = token.replace(token.split(":")[0], str(cast.ben.pk), 1)
    assert Client().post(reverse("digests:unsubscribe", args=[forged])).status_code == 400
    with time_machine.travel(timedelta(seconds=UNSUBSCRIBE_MAX_AGE + 60)):
        expired = Client().post(reverse("digests:unsubscribe", args=[token]))
    assert expired.status_code == 410
    assert not DigestPreference.objects.filter(
        user__in=[cast.ben, cast.carol], enabled=False
    ).exists()
    with pytest.raises(signing.BadSignature):
        signing.TimestampSigner(salt="other").unsign(token)


def test_admin_releases_a_stuck_send(cast, admin_client) -> None:  # type: ignore[no-untyped-def]
    from tests.digests.conftest import week_key
    from tracker.digests.models import DigestSend, SendStatus

    stuck = DigestSend.objects.create(user=cast.ada, week=week_key(), status=SendStatus.CLAIMED)
    response = admin_client.post(
        reverse("admin:digests_digestsend_changelist"),
        {"action": "release_stuck", "_selected_action": [stuck.pk]},
    )
    assert response.status_code == 302
    stuck.refresh_from_db()
    assert stuck.status == SendStatus.FAILED
