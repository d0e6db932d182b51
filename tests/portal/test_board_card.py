"""The board's cards from their template render the same HTML as the card that was built in
Python (tests/portal/board_reference.py), whatever a card holds: the same elements,
attributes and text, parsed as Django's assertHTMLEqual parses them (the template spells
an escaped quote &#34; where the Python card spelled it &quot;)."""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal

import pytest
from django.test.html import parse_html

from tests.portal.board_reference import board_card
from tracker.reproductions.models import Status
from tracker.reproductions.selectors import BoardCard
from tracker.reproductions.templatetags.board import board_cards

TODAY = date(2024, 3, 15)

TITLES = ["Attention is all you need", "Quotes \"and\" <b>tags</b> & 'apostrophes'"]
ASSIGNEES = [[], ["ada"], ["ada", "b<e>n & co"]]
DUES = [None, date(2024, 3, 14), TODAY, date(2024, 3, 16)]
COMPUTE = [
    (None, Decimal("0")),
    (None, Decimal("2.5")),
    (Decimal("0"), Decimal("3")),
    (Decimal("100"), Decimal("12.5")),
    (Decimal("40"), Decimal("52")),
    (Decimal("10.49"), Decimal("10.5")),
]


def cards() -> list[tuple[BoardCard, str]]:
    """Every kind of card: each status, with and without the step forward, each due date
    and compute combination; with the next URL each is rendered under."""
    made = []
    variants = itertools.product(Status, TITLES, ASSIGNEES, DUES, COMPUTE, [False, True])
    for pk, (status, title, names, due, (budget, spent), movable) in enumerate(variants, 1):
        card = BoardCard(
            pk=pk * 997,
            status=status,
            due_date=due,
            compute_budget_gpu_hours=budget,
            compute_spent_gpu_hours=spent,
            title=title,
            assignees=list(names),
            detail_url=f"/reproductions/{pk}/",
            move_url=f"/reproductions/{pk}/status/" if movable else "",
        )
        made.append((card, "/reproductions/?mine=1&x=\"'<>" if pk % 2 else "/reproductions/"))
    return made


def test_the_card_template_renders_the_python_cards_html() -> None:
    variants = cards()
    assert len(variants) > 1000
    for card, next_url in variants:
        # The view offers a step only where QUICK_MOVES has one; the reference needs that.
        if card.status not in ("proposed", "accepted"):
            card.move_url = ""
        expected = board_card(card, TODAY, "tok<en>", next_url)
        rendered = board_cards([card], TODAY, "tok<en>", next_url)
        assert parse_html(rendered) == parse_html(expected), (rendered, expected)


def test_a_columns_cards_render_in_order_in_one_call() -> None:
    column = [card for card, _ in cards()[:40]]
    expected = "".join(board_card(card, TODAY, "t", "/n/") for card in column)
    rendered = board_cards(column, TODAY, "t", "/n/")
    assert parse_html(rendered) == parse_html(expected)
    assert [int(pk) for pk in re.findall(r"#(\d+) ", rendered)] == [card.pk for card in column]


@pytest.mark.parametrize(
    ("fragment", "card"),
    [
        ('<span class="overdue">due 2024-03-14</span>', {"due_date": date(2024, 3, 14)}),
        ("<span>due 2024-03-14</span>", {"due_date": date(2024, 3, 14), "status": "reproduced"}),
        ('title="Over budget: GPU-hours', {"compute_budget_gpu_hours": Decimal("1")}),
        ('<span class="muted">unassigned</span>', {}),
        ("Accept →", {"move_url": "/m/"}),
        ('value="accepted"', {"move_url": "/m/"}),
    ],
)
def test_the_card_template_shows_each_fact(fragment: str, card: dict[str, object]) -> None:
    """Each part of a card on its own, so that a template that dropped one fails here even
    if the reference were changed alongside it."""
    values: dict[str, object] = {
        "pk": 7,
        "status": "proposed",
        "due_date": None,
        "compute_budget_gpu_hours": None,
        "compute_spent_gpu_hours": Decimal("2"),
        "title": "T",
        **card,
    }
    rendered = board_cards([BoardCard(**values)], TODAY)  # type: ignore[arg-type]
    assert fragment in rendered
