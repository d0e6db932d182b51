"""The inbox's rows: a topic group's rows rendered from their template
(jinja2/triage/_rows.html) in one call, as the board renders its cards."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from tracker.triage.selectors import InboxRow

register = template.Library()


@register.simple_tag
def inbox_rows(rows: Sequence[InboxRow], ranked: bool = False) -> SafeString:
    """A topic group's rows, in order, each followed by its id when the order is ranked.
    The template escapes every value (autoescape is on)."""
    rows_template = get_template("triage/_rows.html", using="jinja2")
    return mark_safe(rows_template.render({"rows": rows, "ranked": ranked}))  # noqa: S308 - rendered with autoescape
