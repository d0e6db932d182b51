"""The day's reading shared across a team, in headless Chromium: with two readers a paper,
ada and ben each find the new papers in their share, neither sees the other's rating until
both have rated, and then the paper is a team pick that dan, the third member, sees. On
the way ben says "not interested" with d and takes it back with u.

Screenshots land in var/screenshots/ (share-*.png).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import log_in, shot
from tests.factories import MembershipFactory, UserFactory
from tests.portal.helpers import paper_in, topic
from tracker.teams.models import Absence, Membership
from tracker.triage.models import Assignment, Rating, Skip
from tracker.triage.sharing import papers_share

pytestmark = pytest.mark.browser


def _log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.click("form[action$='/logout/'] button")
    page.wait_for_url("**/accounts/login/**")


def test_two_readers_see_their_share_rate_blind_and_the_pick_reaches_a_third(
    cast, live_server, browser_page
) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    dan = UserFactory(username="dan")
    MembershipFactory(team=cast.vision, user=dan)
    # dan is away today and tomorrow: the day's papers go to ada and ben (k=2, the default).
    Absence.objects.create(
        membership=Membership.objects.get(team=cast.vision, user=dan),
        starts=timezone.localdate(),
        ends=timezone.localdate() + timedelta(days=1),
    )
    agents = topic("LLM agents")
    shared = [
        paper_in(agents, title=f"Shared paper {name}", abstract=f"Agents that plan, part {name}.")
        for name in ("A", "B")
    ]
    papers_share(cast.vision.pk, [p.pk for p in shared])
    assert set(Assignment.objects.values_list("user__username", flat=True)) == {"ada", "ben"}
    first = shared[0]
    row = f"#paper-{first.pk}"

    # ada's inbox opens on her share; she rates the first paper 5 from the keyboard.
    log_in(page, live_server, "ada", "/inbox/")
    assert page.locator(".inbox-views a[aria-current='page']").inner_text() == "Your share (2)"
    assert page.locator(".paper-row").count() == 2
    page.locator(row).focus()
    page.keyboard.press("5")
    page.wait_for_selector(f"{row}.done")
    shot(page, "share-ada-inbox")
    # On the paper's page she sees her own rating, and that ben's would be hidden.
    page.goto(f"{live_server.url}/papers/{first.pk}/")
    panel = page.locator("#ratings-panel")
    assert "hidden until every reader" in panel.inner_text()
    _log_out(page)

    # ben's share holds the same papers; ada's 5 is nowhere to be seen.
    log_in(page, live_server, "ben", "/inbox/")
    assert page.locator(".inbox-views a[aria-current='page']").inner_text() == "Your share (2)"
    assert "team ratings hidden" in page.locator(row).inner_text()
    assert "team 5.0" not in page.content()
    # d says "not interested" in the other paper, u takes it back.
    other = f"#paper-{shared[1].pk}"
    page.locator(other).focus()
    page.keyboard.press("d")
    page.wait_for_selector(f"{other}.done")
    assert "Not interested" in page.locator(other).inner_text()
    assert Skip.objects.get(user=cast.ben, paper=shared[1]).not_interested
    page.keyboard.press("u")
    page.wait_for_selector(f"{other}:not(.done) .row-actions")
    assert not Skip.objects.filter(user=cast.ben).exists()
    page.goto(f"{live_server.url}/papers/{first.pk}/")
    panel = page.locator("#ratings-panel")
    assert "hidden until every reader" in panel.inner_text()
    assert "ada" not in panel.inner_text()
    shot(page, "share-ben-blind")
    # He rates it 4 on its page: both readers have rated, the ratings show.
    panel.locator("button[data-key='4']").click()
    page.wait_for_function(
        "() => document.querySelector('#ratings-panel').textContent.includes('ada')"
    )
    assert "4.5" in page.locator("#ratings-panel h2").inner_text()
    assert "hidden until" not in page.locator("#ratings-panel").inner_text()
    shot(page, "share-ben-open")
    _log_out(page)

    # dan, away and with no share, finds it among the team's picks.
    log_in(page, live_server, "dan", "/inbox/")
    assert page.locator(".inbox-views a").first.inner_text() == "Your share (0)"
    picks = page.locator(".team-picks")
    assert "Shared paper A" in picks.inner_text()
    assert "team 4.5 (2)" in picks.inner_text()
    assert "Shared paper B" not in picks.inner_text()
    page.click("text=All picks and disputes")
    page.wait_for_url("**/inbox/picks/")
    assert "Shared paper A" in page.locator("section[aria-labelledby='picks-list']").inner_text()
    shot(page, "share-dan-picks")
    assert Rating.objects.filter(paper=first).count() == 2
