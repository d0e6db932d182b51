"""From a drafted claim to a verdict in headless Chromium: accept the draft with its
protocol, log three seeds that do not decide, then enough seeds that do."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in, shot
from tests.factories import PaperFactory, ReproductionFactory
from tracker.reproductions.models import Claim, Status
from tracker.reproductions.services import claim_drafts_create

pytestmark = pytest.mark.browser


def test_accept_a_draft_log_an_inconclusive_result_then_one_that_decides(
    cast,
    live_server,
    browser_page,
) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    paper = PaperFactory(abstract="Foo achieves 84.2% accuracy on ImageNet.")
    claim_drafts_create([paper.pk])
    repro = ReproductionFactory(
        team=cast.vision, paper=paper, proposed_by=cast.ben, status=Status.IN_PROGRESS
    )
    repro.assignees.add(cast.ben)
    log_in(page, live_server, "ben", f"/papers/{paper.pk}/")

    draft = page.locator(".claim-draft").first
    draft.locator("summary", has_text="edit").click()
    draft.locator("input[name=tolerance]").fill("0.5")
    draft.locator("input[name=shots]").fill("0")
    draft.locator("input[name=harness]").fill("timm")
    draft.locator("button", has_text="Accept").click()
    page.wait_for_selector("text=Claim added")
    claim = Claim.objects.get()
    assert (claim.claimed_value, claim.shots, claim.harness) == (84.2, 0, "timm")
    assert claim.location == "abstract" and claim.quote.startswith("Foo achieves 84.2%")

    page.goto(f"{live_server.url}/reproductions/{repro.pk}/")
    form = page.locator("form[action$='/results/']")
    form.locator("input[name=reproduced_value]").fill("82.9")
    form.locator("input[name=seeds]").fill("0, 1, 2")
    form.locator("input[name=spread]").fill("1.5")
    form.locator("input[name=shots]").fill("0")
    form.locator("input[name=harness]").fill("timm")
    form.locator("button", has_text="Log result").click()
    row = page.locator(f"#claim-{claim.pk}")
    row.wait_for()
    assert "82.9 ± 1.5 (n=3)" in row.inner_text()
    verdict = row.locator(".verdict").inner_text()
    assert re.fullmatch(
        r"Inconclusive: the 95% interval reaches the tolerance; about \d+ seeds would decide",
        verdict,
    )
    assert "protocol exact" in page.locator(".result-row").first.inner_text()
    shot(page, "verdict-inconclusive")

    form = page.locator("form[action$='/results/']")
    form.locator("input[name=reproduced_value]").fill("82.9")
    form.locator("input[name=seeds]").fill(", ".join(str(s) for s in range(3, 13)))
    form.locator("input[name=spread]").fill("0.3")
    form.locator("input[name=shots]").fill("0")
    form.locator("input[name=harness]").fill("timm")
    form.locator("button", has_text="Log result").click()
    page.wait_for_selector(f"#claim-{claim.pk} .verdict.not_reproduced")
    assert "(n=13)" in page.locator(f"#claim-{claim.pk}").inner_text()
    assert "\u22121.5%" in page.locator(f"#claim-{claim.pk}").inner_text()
    assert page.locator("button", has_text="Finish: Not reproduced").count() == 1
    shot(page, "verdict-decided")
