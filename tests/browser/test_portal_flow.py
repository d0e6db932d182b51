"""The portal in headless Chromium: keyboard triage to a "Not reproduced" verdict.

Screenshots of the inbox, a paper page, the board and the stats page land in var/screenshots/.
"""

from __future__ import annotations

import datetime
import re

import pytest

from tests.browser.conftest import shot
from tests.factories import ClaimFactory, LabReportFactory, RatingFactory, ReproductionFactory
from tests.portal.helpers import paper_in, topic
from tracker.reproductions.models import Reproduction, ResultLog, Status
from tracker.teams.models import Membership
from tracker.topics.models import TopicFollow
from tracker.triage.models import Rating, Skip
from tracker.triage.selectors import InboxFilters, inbox_next

pytestmark = pytest.mark.browser


def _earlier_reproductions(cast, topic_) -> None:  # type: ignore[no-untyped-def]
    """Some history, so the board and the stats look like a team's after a few months."""
    plan = [
        ("reproduced", "Qwen", 80.1, 80.0, 5),
        ("partly_reproduced", "DeepSeek", 55.0, 52.5, 3),
        ("in_progress", "", 30.2, None, 4),
        ("proposed", "", None, None, 2),
    ]
    for status, lab, claimed, got, rating in plan:
        paper = paper_in(
            topic_, days_ago=30, title=f"Earlier {status.replace('_', ' ')} paper", lab=lab
        )
        repro = ReproductionFactory(
            team=cast.vision,
            paper=paper,
            proposed_by=cast.ada,
            status=status,
            due_date=datetime.date(2030, 1, 1),
            compute_budget_gpu_hours=100,
        )
        repro.assignees.add(cast.ada)
        RatingFactory(team=cast.vision, user=cast.ada, paper=paper, value=rating)
        if claimed is not None:
            claim = ClaimFactory(team=cast.vision, paper=paper, claimed_value=claimed, tolerance=1)
            if got is not None:
                ResultLog.objects.create(
                    reproduction=repro, claim=claim, reproduced_value=got, compute_gpu_hours=40
                )
        if status in ("reproduced", "partly_reproduced"):
            Reproduction.objects.filter(pk=repro.pk).update(
                finished_at=repro.created_at + datetime.timedelta(days=9 if lab == "Qwen" else 21)
            )


def test_triage_to_not_reproduced_verdict(cast, live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    agents, rl, vision = topic("LLM agents"), topic("Reinforcement learning"), topic("Vision")
    TopicFollow.objects.create(user=cast.ben, topic=agents)
    evil = paper_in(
        agents,
        title='Tool use <script>alert("title")</script> with $O(n^2)$ calls',
        abstract=(
            "We bound regret by $\\sqrt{T \\log K}$ and show $$\\sum_i x_i \\le 1$$. "
            '<img src=x onerror="alert(1)"> <a href="javascript:alert(2)">demo</a> '
            "Code: https://github.com/agentlab/tooluse."
        ),
        authors=["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra"],
        code_urls=["https://github.com/agentlab/tooluse"],
    )
    paper_in(agents, days_ago=1, title="Planning with language models as world models")
    paper_in(rl, days_ago=0.5, title="Offline RL without pessimism")
    target = paper_in(
        rl, days_ago=2, title="Scaling laws for reward models", primary_category="cs.LG"
    )
    for i in range(6):
        paper_in(vision, days_ago=3 + i, title=f"Vision paper {i}: masked autoencoders at scale")
    LabReportFactory(title="Qwen3 technical report", published_at=evil.published_at)
    RatingFactory(team=cast.vision, user=cast.ada, paper=target, value=5)
    _earlier_reproductions(cast, vision)

    # Log in through the real form.
    page.goto(live_server.url + "/accounts/login/?next=/inbox/")
    page.fill("#id_username", "ben")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/inbox/$"))
    # By date, where followed topics come first ("for you" ranks by what ben has shown).
    page.goto(live_server.url + "/inbox/?order=newest")

    rows = page.locator(".paper-row")
    assert rows.first.get_attribute("class").split().count("selected") == 1
    # Titles render their LaTeX in the inbox too; the markup around it stays text.
    evil_title = page.locator(f"#paper-{evil.pk} .title")
    evil_title.locator(".katex").wait_for()
    assert '<script>alert("title")</script>' in evil_title.inner_text()
    # Followed topic first: the "LLM agents" group heads the inbox.
    assert "LLM agents" in page.locator(".topic-group h2").first.text_content()

    # Three papers from the keyboard: rate 4, skip, then move with j/k and rate 2.
    first_id = rows.nth(0).get_attribute("id")
    page.keyboard.press("4")
    page.wait_for_selector(f"#{first_id}.done")
    assert first_id == f"paper-{evil.pk}"
    page.wait_for_selector(f"#{first_id}.done .title .katex")  # the swapped-in row too
    second_id = rows.nth(1).get_attribute("id")
    page.keyboard.press("s")
    page.wait_for_selector(f"#{second_id}.done")
    page.keyboard.press("j")
    page.keyboard.press("k")
    third_id = rows.nth(2).get_attribute("id")
    assert "selected" in rows.nth(2).get_attribute("class")
    page.keyboard.press("2")
    page.wait_for_selector(f"#{third_id}.done")
    assert Rating.objects.filter(user=cast.ben).count() == 2
    assert Skip.objects.filter(user=cast.ben).count() == 1
    # Second thoughts from the keyboard: back up and re-rate the third, undo the skip.
    page.keyboard.press("k")
    page.keyboard.press("3")
    page.wait_for_selector(f"#{third_id} .done-label >> text=Rated 3")
    # e: a note on the rated row, kept with Enter, without leaving the inbox.
    page.keyboard.press("k")
    page.keyboard.press("e")
    page.keyboard.type("baselines untuned")
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#{third_id} .row-note input[value="baselines untuned"]')
    assert Rating.objects.get(user=cast.ben, paper_id=int(third_id.split("-")[1])).note == (
        "baselines untuned"
    )
    page.keyboard.press("k")
    shot(page, "inbox_second_thoughts")  # a done row, selected: its values and undo show
    page.keyboard.press("u")
    page.wait_for_selector(f"#{second_id}:not(.done) .row-actions")
    assert "selected" in page.locator(f"#{second_id}").get_attribute("class")
    assert not Skip.objects.filter(user=cast.ben).exists()
    assert sorted(Rating.objects.filter(user=cast.ben).values_list("value", flat=True)) == [3, 4]
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.url.endswith("/inbox/?order=newest")  # no page load happened

    # Select the reward-model paper and propose reproducing it with `r`.
    target_row = page.locator(f"#paper-{target.pk}")
    index = [rows.nth(i).get_attribute("id") for i in range(rows.count())].index(
        f"paper-{target.pk}"
    )
    current = 3
    while current < index:
        page.keyboard.press("j")
        current += 1
    assert "selected" in target_row.get_attribute("class")
    page.keyboard.press("r")
    page.wait_for_selector(f"#paper-{target.pk} .row-status >> text=Reproduction proposed")
    shot(page, "inbox")
    page.keyboard.press("?")
    assert page.locator("#keys-help").is_visible()
    shot(page, "inbox_keys")
    page.keyboard.press("Escape")
    assert not page.locator("#keys-help").is_visible()
    # `/` searches from anywhere: the search page opens with its box ready for words.
    page.keyboard.press("/")
    page.wait_for_url(re.compile(r"/search/$"))
    page.keyboard.type("reward models")
    page.keyboard.press("Enter")
    # The results take j/k/o as the inbox does; the first is selected.
    page.locator(".search-results > li:first-child.selected").wait_for()
    shot(page, "search")
    links = page.locator(".search-results a.result-title")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    position = hrefs.index(f"/papers/{target.pk}/")  # the ranking is search's business
    page.keyboard.press("/")  # back in the box with the words selected: typing replaces them
    page.keyboard.type("offline")
    assert page.locator("input[type=search]").input_value() == "offline"
    page.keyboard.press("Escape")  # out of the box, and the keys work on the list again
    for _ in range(position):
        page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(re.compile(rf"/papers/{target.pk}/$"))
    repro = Reproduction.objects.get(paper=target)

    # Assign, accept, start, record a claim and log a result that misses it.
    page.goto(f"{live_server.url}/reproductions/{repro.pk}/")
    page.select_option("select[name=assignees]", [str(cast.ben.pk)])
    page.click("text=Save assignees")
    page.click("button:has-text('Accept')")
    page.click("button:has-text('Start')")
    page.fill("input[name=metric]", "accuracy")
    page.fill("input[name=dataset]", "RewardBench")
    page.fill("input[name=claimed_value]", "71.3")
    page.fill("input[name=tolerance]", "0.5")
    # The protocol the paper reports, and the run matches it: a miss can decide.
    page.fill("form[action$='/claims/'] input[name=harness]", "reward-bench")
    page.click("text=Add claim")
    page.fill("form[action$='/results/'] input[name=harness]", "reward-bench")
    page.fill("input[name=reproduced_value]", "66.2")
    page.fill("input[name=seeds]", "0, 1, 2")
    page.fill("input[name=spread]", "0.4")
    page.fill("input[name=compute_gpu_hours]", "36")
    page.fill("input[name=run_url]", "https://wandb.ai/vision/rm-scaling/runs/7")
    page.click("text=Log result")
    shot(page, "reproduction")
    assert page.locator(".claims .badge.not_reproduced").first.inner_text() == "Not reproduced"
    page.click("button:has-text('Finish: Not reproduced')")
    repro.refresh_from_db()
    assert repro.status == Status.NOT_REPRODUCED
    assert list(repro.assignees.all()) == [cast.ben]

    page.goto(f"{live_server.url}/papers/{target.pk}/")
    assert page.locator(".verdict.not_reproduced").first.inner_text() == "Not reproduced"
    shot(page, "paper")

    # Untrusted text: shown as text, LaTeX rendered, nothing executed.
    page.goto(f"{live_server.url}/papers/{evil.pk}/")
    page.wait_for_selector(".abstract .katex")
    assert '<script>alert("title")</script>' in page.locator("h1.paper-title").inner_text()
    assert page.locator(".paper-title .katex").count() == 1
    assert page.locator(".abstract img").count() == 0
    assert page.locator(".abstract a[href^='javascript']").count() == 0
    assert page.locator("a.code-link").first.inner_text() == "github.com/agentlab/tooluse"
    page.keyboard.press("3")
    page.wait_for_selector("#ratings-panel button.chosen")
    # A comment with maths, then its author's edit: the LaTeX renders in comments too.
    page.keyboard.press("c")  # the comment box, from the keyboard
    page.keyboard.type("Bound holds: $O(\\sqrt{T})$")
    page.click("#comments button:has-text('Comment')")
    page.wait_for_selector("#comments .comment-body .katex")
    page.click("#comments .comment-edit summary")
    page.fill("#comments .comment-edit textarea", "Bound holds for $K \\le T$: $O(\\sqrt{T})$")
    page.click("#comments .comment-edit button:has-text('Save')")
    page.wait_for_selector("#comments .comment >> text=edited")
    assert page.locator("#comments .comment-body .katex").count() == 2
    shot(page, "paper_latex")
    page.keyboard.press("r")  # propose reproducing this one too, from its page
    page.wait_for_url(re.compile(r"/reproductions/\d+/$"))
    assert Reproduction.objects.get(paper=evil).status == Status.PROPOSED
    # n, on a paper's page: the paper after it in the inbox, or the inbox when none is left.
    page.goto(f"{live_server.url}/papers/{evil.pk}/")
    page.keyboard.press("n")
    page.wait_for_url(lambda url: f"/papers/{evil.pk}/" not in url)
    ben = Membership.objects.get(user=cast.ben, team=cast.vision)
    following = inbox_next(ben, InboxFilters(), evil)
    assert page.url.endswith(f"/papers/{following}/" if following else "/inbox/")

    page.goto(f"{live_server.url}/reproductions/")
    assert page.locator(".column.status-not_reproduced .repro-card").count() == 1
    shot(page, "board")

    page.goto(f"{live_server.url}/stats/")
    assert page.locator(".verdict.not_reproduced").first.inner_text() == "Not reproduced"
    shot(page, "stats")
    assert dialogs == []
