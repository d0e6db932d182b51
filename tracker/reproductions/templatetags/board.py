"""The board's cards: a column's cards rendered from their template
(jinja2/reproductions/_cards.html) in one call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django import template
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from tracker.reproductions.selectors import BoardCard

register = template.Library()


@register.simple_tag
def board_cards(
    cards: Sequence[BoardCard], today: date, csrf_token: str = "", next_url: str = ""
) -> SafeString:
    """A column's cards, in order. The template escapes every value (autoescape is on)."""
    cards_template = get_template("reproductions/_cards.html", using="jinja2")
    context = {"cards": cards, "today": today, "csrf_token": csrf_token, "next_url": next_url}
    return mark_safe(cards_template.render(context))  # noqa: S308 - rendered with autoescape
