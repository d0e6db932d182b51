"""Every portal page under axe-core (vendored from npm: tests/browser/vendor/VERSIONS), and
the inbox driven from the keyboard alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import log_in, shot
from tests.factories import RatingFactory
from tests.portal.helpers import paper_in, reproduction_underway, topic
from tracker.triage.models import Assignment, Rating, Skip

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# What the audit must not find: axe's two highest impacts.
BLOCKING = ("critical", "serious")
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((v) => ["critical", "serious"].includes(v.impact))
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}));
}"""


def _violations(page: Any) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol, which the page's CSP (no inline script) allows.
    page.evaluate(AXE.read_text() + "\n;true")
    return page.evaluate(RUN_AXE)


def _portal(cast: Any) -> dict[str, Any]:
    """A team's portal with something on every page: papers in topics (one with LaTeX),
    ratings, a reproduction underway."""
    agents = topic("LLM agents")
    papers = [
        paper_in(
            agents,
            title=f"Top-$k$ agents, part {i}",
            abstract="We bound the regret by $\\mathcal{O}(\\sqrt{T})$ and release the code.",
            code_urls=["https://github.com/a/b"] if i % 2 else [],
        )
        for i in range(4)
    ]
    RatingFactory(team=cast.vision, user=cast.ben, paper=papers[3], value=4)
    # A team pick (two members rated it 5 and 4), and a paper in ada's share.
    pick = paper_in(agents, title="A team pick")
    RatingFactory(team=cast.vision, user=cast.ada, paper=pick, value=5)
    RatingFactory(team=cast.vision, user=cast.ben, paper=pick, value=4)
    Assignment.objects.create(team=cast.vision, user=cast.ada, paper=papers[0])
    repro = reproduction_underway(cast, assignee=cast.ada, paper=papers[2])
    return {"topic": agents, "papers": papers, "reproduction": repro}


def test_no_page_has_a_critical_or_serious_axe_violation(cast, live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    world = _portal(cast)
    page = browser_page
    found: dict[str, list[dict[str, Any]]] = {}
    page.goto(f"{live_server.url}/accounts/login/")
    found["login"] = _violations(page)
    log_in(page, live_server, "ada", "/inbox/")
    pages = {
        "home": "/",
        "inbox": "/inbox/",
        "paper": f"/papers/{world['papers'][0].pk}/",
        "search": "/search/?q=agents",
        "topics": "/topics/",
        "topic": f"/topics/{world['topic'].pk}/",
        "map": "/topics/map/",
        "board": "/reproductions/",
        "reproduction": f"/reproductions/{world['reproduction'].pk}/",
        "stats": "/stats/",
        "digest preview": "/digest/preview/",
        "digest settings": "/digest/settings/",
        "sources": "/sources/",
        "tokens": "/tokens/",
        "inbox, everything": "/inbox/?view=all",
        "team picks": "/inbox/picks/",
        "sharing": "/inbox/share/",
        "follows": "/follows/",
        "alerts": "/alerts/",
    }
    for name, path in pages.items():
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, name
        page.wait_for_load_state("networkidle")
        found[name] = _violations(page)
    # The keys dialog, open, is part of every page too.
    page.goto(live_server.url + "/inbox/")
    page.click("[data-keys-toggle]")
    found["keys dialog"] = _violations(page)
    bad = {name: v for name, v in found.items() if v}
    assert not bad, "\n".join(f"{name}: {v}" for name, v in bad.items())
    assert len(found) == len(pages) + 2


def test_the_inbox_from_the_keyboard_alone(cast, live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    world = _portal(cast)
    page = browser_page
    log_in(page, live_server, "ben", "/inbox/")
    rows = page.locator(".paper-row")
    rows.first.locator(".title .katex").wait_for()  # LaTeX in the title, rendered

    def focused() -> str:
        return page.evaluate(
            "() => { const a = document.activeElement; return a.id || a.className || a.tagName; }"
        )

    # The skip link comes first, and leads past the nav and the filters to the rows.
    page.keyboard.press("Tab")
    assert focused() == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    # The list has the focus once the browser has followed the link (a Tab sooner would
    # start from the link).
    page.wait_for_function("() => document.activeElement.id === 'inbox-list'")
    # The list's own controls first: the sort orders, the current one marked.
    sorts = page.locator(".sort-orders a")
    assert sorts.count() == 3
    assert sorts.first.get_attribute("aria-current") == "true"
    for i in range(3):
        page.keyboard.press("Tab")
        assert (
            page.evaluate("() => document.activeElement.textContent") == sorts.nth(i).inner_text()
        )
    # Then which papers (the share, everything) and the team's picks.
    links = page.locator(".inbox-views a, .team-picks a")
    assert links.count() == 6
    for i in range(links.count()):
        page.keyboard.press("Tab")
        assert (
            page.evaluate("() => document.activeElement.textContent") == links.nth(i).inner_text()
        )
    page.keyboard.press("Tab")
    first, second, third = (rows.nth(i).get_attribute("id") for i in range(3))
    assert focused() == first
    assert rows.first.get_attribute("aria-current") == "true"

    # j/k move the focus itself, with aria-current, and say where it is.
    page.keyboard.press("j")
    assert focused() == second
    assert page.locator(f"#{second}").get_attribute("aria-current") == "true"
    assert page.locator(f"#{first}").get_attribute("aria-current") is None
    page.wait_for_function("() => document.getElementById('announce').textContent.includes('part')")
    page.keyboard.press("k")
    assert focused() == first

    # A digit rates the focused row; the focus moves on to the next one.
    page.keyboard.press("3")
    page.wait_for_selector(f"#{first}.done")
    assert focused() == second
    page.wait_for_function(
        "() => document.getElementById('announce').textContent.startsWith('Rated 3')"
    )
    assert page.locator('[data-count="total"]').inner_text() == "2"
    # u undoes that rating from the next row: the cursor need not go back.
    page.keyboard.press("u")
    page.wait_for_selector(f"#{first}:not(.done) .row-actions")
    assert focused() == second
    assert not Rating.objects.filter(user=cast.ben, value=3).exists()
    # The count follows once htmx settles, a few milliseconds after the swap.
    page.wait_for_function("() => document.querySelector('[data-count=total]').textContent === '3'")

    # x shows the whole abstract in place, and folds it again.
    lead = page.locator(f"#{second} .lead")
    page.keyboard.press("x")
    assert "expanded" in page.locator(f"#{second}").get_attribute("class")
    assert lead.evaluate("el => getComputedStyle(el).display") == "block"
    lead.locator(".katex").first.wait_for()  # its LaTeX too
    page.keyboard.press("x")
    assert "expanded" not in page.locator(f"#{second}").get_attribute("class")

    # e on a row not rated yet says a note needs a rating; the letters typed next fire no
    # shortcut (s would skip); a digit rates the row and opens its note.
    page.keyboard.press("e")
    page.locator("#toast >> text=A note needs a rating first").wait_for()
    page.keyboard.type("so")
    assert focused() == second
    assert not page.locator(f"#{second}.done").count()
    assert "/inbox/" in page.url
    page.keyboard.press("4")
    page.wait_for_selector(f"#{second}.done")
    page.wait_for_function("() => document.activeElement.name === 'note'")
    page.keyboard.type("strong baselines")
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#{second} .row-note input[value="strong baselines"]')
    assert Rating.objects.get(user=cast.ben, value=4, paper_id=int(second.split("-")[1])).note == (
        "strong baselines"
    )
    # After the swap the focus is back on the row, not lost to the page.
    page.wait_for_function(f"() => document.activeElement.id === '{second}'")
    page.keyboard.press("u")  # the last action, undone: back to a row to triage
    page.wait_for_selector(f"#{second}:not(.done) .row-actions")
    page.locator(f"#{second}").focus()

    # The keys dialog is a modal: focus inside, keys behind it do nothing, Esc closes.
    page.keyboard.press("?")
    dialog = page.locator("#keys-help")
    assert dialog.is_visible() and dialog.get_attribute("aria-modal") == "true"
    assert page.evaluate(
        "() => document.getElementById('keys-help').contains(document.activeElement)"
    )
    page.keyboard.press("5")
    page.keyboard.press("j")
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert not page.locator(".paper-row.done").count()
    # Its close button closes it too, and its switch turns single-key shortcuts off.
    page.click("[data-keys-toggle]")
    page.click("#shortcuts-on")
    page.click("#keys-help .close")
    assert not dialog.is_visible()
    page.locator(f"#{second}").focus()
    page.keyboard.press("j")
    page.keyboard.press("4")
    assert focused() == second and not page.locator(".paper-row.done").count()
    assert page.locator(".when-off").is_visible()
    page.reload()  # the choice is kept
    page.keyboard.press("?")
    assert not dialog.is_visible()
    page.click("[data-keys-toggle]")
    page.click("#shortcuts-on")
    page.keyboard.press("Escape")

    # Enter belongs to what has the focus: the Filter button filters...
    page.locator("#id_source").select_option("arxiv")
    page.locator(".filters button[type=submit]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/inbox/\?.*source=arxiv"))
    # ...a nav link goes where it says...
    page.locator("nav[aria-label=Main] a", has_text="Topics").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/topics/$"))
    # ...and a focused row opens its paper.
    page.goto(live_server.url + "/inbox/")
    rows.nth(1).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/papers/{int(second.split('-')[1])}/"))
    shot(page, "inbox_keyboard_paper")
    assert not Skip.objects.exists()
    assert third and world["papers"]


# "For you" pages by the rows on the page (htmx sends them), newest by the last row's key.
@pytest.mark.parametrize("query", ["", "?order=newest"])
def test_load_more_from_the_keyboard_keeps_the_counts_right(  # type: ignore[no-untyped-def]
    cast, live_server, browser_page, monkeypatch, query: str
) -> None:
    monkeypatch.setattr("tracker.triage.selectors.INBOX_PAGE_SIZE", 2)
    agents = topic("LLM agents")
    for i in range(5):
        paper_in(agents, days_ago=i / 10, title=f"Agents paper {i}")
    page = browser_page
    log_in(page, live_server, "ben", "/inbox/" + query)

    def counts() -> tuple[str, str]:
        return (
            page.locator('[data-count="shown"]').inner_text(),
            page.locator('[data-count="total"]').inner_text(),
        )

    assert counts() == ("2", "5")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    # The list takes the focus once the browser has followed the link; Tabs pressed sooner
    # start from the link itself, end in the nav, and the digit then rates nothing.
    page.wait_for_function("() => document.activeElement.id === 'inbox-list'")
    for _ in range(4):  # into the list, past its views
        page.keyboard.press("Tab")
    page.keyboard.press("2")  # rates the selected row, the first; the focus moves to the second
    # The row is marked done when it is swapped in; the counts follow once htmx settles.
    page.wait_for_function("() => document.querySelector('[data-count=shown]').textContent === '1'")
    assert counts() == ("1", "4")
    page.locator("#load-more a").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('[data-count=shown]').textContent === '3'")
    # Two more rows, the server's count of what is left, and the focus on the first new row.
    assert counts() == ("3", "4")
    page.wait_for_function(
        "() => document.activeElement.classList.contains('paper-row')"
        " && document.activeElement.textContent.includes('Agents paper 2')"
    )
    # The live region is emptied and then written 30 ms later, so that it is read again.
    page.wait_for_function(
        "() => document.getElementById('announce').textContent.includes('more papers loaded')"
    )
    page.locator("#load-more a").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.getElementById('load-more')")
    page.wait_for_function("() => document.querySelector('[data-count=shown]').textContent === '4'")
    assert counts() == ("4", "4")
