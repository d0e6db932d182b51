"""The board's card as it was built in Python before it became a template
(templates/reproductions/_card.html): the reference that the template's output is held to
(tests/portal/test_board_card.py), and the baseline that bench/board_page.py measures the
template against. Registered as a template library only by those two."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from tracker.reproductions.models import Status
from tracker.reproductions.selectors import QUICK_MOVES, BoardCard

register = template.Library()


def _gpu_hours(value: Decimal | None) -> str:
    """GPU-hours as whole numbers, as floatformat:0 writes them (halves round up)."""
    return str(Decimal(value).quantize(Decimal(1), ROUND_HALF_UP)) if value is not None else ""


@register.simple_tag
def board_card(
    card: BoardCard, today: date, csrf_token: str = "", next_url: str = ""
) -> SafeString:
    """One reproduction on the board: its paper, assignees, due date and compute, and the
    step forward the member may take (a form, so it works without JavaScript).
    The view sets card.detail_url, and card.move_url where the member may take the step."""
    names = [escape(name) for name in card.assignees]
    who = (
        "".join(f'<span class="who-chip">{name}</span>' for name in names)
        if names
        else '<span class="muted">unassigned</span>'
    )
    facts = []
    if card.due_date:
        late = ' class="overdue"' if card.is_open and card.due_date < today else ""
        facts.append(f"<span{late}>due {card.due_date.isoformat()}</span>")
    spent = _gpu_hours(card.compute_spent_gpu_hours)
    if card.compute_budget_gpu_hours:
        budget = _gpu_hours(card.compute_budget_gpu_hours)
        mark = ' class="over-budget"' if card.over_budget else ""
        title = "Over budget: " if card.over_budget else ""
        facts.append(
            f'<span{mark} title="{title}GPU-hours spent of budget">{spent}/{budget} GPU-h</span>'
        )
    elif card.compute_spent_gpu_hours:
        facts.append(f"<span>{spent} GPU-h</span>")
    move = ""
    if card.move_url:
        to, label = QUICK_MOVES[card.status]
        move = (
            f'<form method="post" action="{escape(card.move_url)}" class="card-move">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
            f'<input type="hidden" name="to_status" value="{escape(to)}">'
            f'<input type="hidden" name="next" value="{escape(next_url)}">'
            f'<button type="submit" title="Move to {escape(Status(to).label)}">{label} →</button>'
            "</form>"
        )
    return mark_safe(  # noqa: S308 - the title and names are escaped, the rest are numbers
        f'<div class="repro-card"><a data-math href="{escape(card.detail_url)}">'
        f"{escape(card.title)}</a>"
        f'<div class="meta">#{int(card.pk)} {who}</div>'
        f'<div class="meta">{" ".join(facts)}</div>{move}</div>'
    )
