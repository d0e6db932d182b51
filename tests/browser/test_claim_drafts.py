"""Drafted claims from the keyboard in headless Chromium: "a" accepts, "x" on a focused
draft rejects it."""

from __future__ import annotations

import re

import pytest

from tests.factories import PaperFactory
from tracker.reproductions.models import Claim, ClaimDraftDecision, DraftDecision
from tracker.reproductions.services import claim_drafts_create

pytestmark = pytest.mark.browser


def test_accept_the_first_draft_with_a_and_reject_a_focused_one_with_x(
    cast,
    live_server,
    browser_page,
) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    paper = PaperFactory(
        abstract=(
            "Foo achieves 84.2% accuracy on ImageNet. It decodes 3.1x faster than the "
            "baseline. It cuts memory by 40%."
        )
    )
    claim_drafts_create([paper.pk])
    page.goto(live_server.url + f"/accounts/login/?next=/papers/{paper.pk}/")
    page.fill("#id_username", "ben")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"/papers/{paper.pk}/$"))
    assert page.locator(".claim-draft").count() == 3

    page.keyboard.press("a")
    page.wait_for_selector("text=Claim added")
    assert page.locator(".claim-draft").count() == 2
    claim = Claim.objects.get()
    assert (claim.metric, claim.dataset, claim.claimed_value) == ("accuracy", "ImageNet", 84.2)

    memory = page.locator(".claim-draft").nth(1)
    assert "40%" in memory.inner_text()
    memory.focus()
    page.keyboard.press("x")
    page.wait_for_selector(f"#draft-{paper.claim_drafts.get(value=40).pk}", state="detached")
    assert page.locator(".claim-draft").count() == 1
    rejected = ClaimDraftDecision.objects.get(decision=DraftDecision.REJECTED)
    assert rejected.draft.value == 40.0
    assert Claim.objects.count() == 1
