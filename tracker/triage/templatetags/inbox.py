"""The inbox's topic facets, built in Python as Django's admin builds its change-list rows
(contrib/admin/templatetags/admin_list.py): forty topics' facets, each with a link, a count
and a follow button, cost a few milliseconds as a template loop. Every value from a source
(topic label) goes through html.escape, as Django's escape does, without its lazy-string
wrapper, which cost more than the escaping. The rows themselves are a template
(triage/_row.html), shared with the rows htmx swaps in."""

from __future__ import annotations

import math
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from tracker.triage.selectors import TopicGroup

register = template.Library()


def team_score_html(score: float, raters: int) -> str:
    """The team score as a row shows it: the mean to one decimal and how many rated."""
    # Halves round up, as floatformat does: a 3.25 mean reads 3.3.
    rounded = math.floor(score * 10 + 0.5) / 10
    plural = "" if raters == 1 else "s"
    return (
        f'<span class="score" title="Team score from {raters} rating{plural}">'
        f"team {rounded:.1f} ({raters})</span>"
    )


@register.simple_tag
def topic_facets(topic_counts: list[TopicGroup], current: int | None, query: str) -> SafeString:
    """One list item per topic of the window: a link that narrows the inbox to it, its
    count, and a star that follows or unfollows it (a button of the sidebar's one form).
    `query` is the other filters, already URL-encoded."""
    prefix = escape(f"?{query}&" if query else "?")
    items = []
    for group in topic_counts:
        classes = " ".join(
            name
            for name, on in (
                ("followed", group.followed),
                # Papers in no topic have no link to narrow to; "All topics" is current then.
                ("current", group.topic_id is not None and group.topic_id == current),
            )
            if on
        )
        label = escape(group.label)
        if not group.topic_id:
            items.append(
                f'<li class="{classes}"><span class="muted">{label}</span> '
                f'<span class="count">{int(group.count)}</span></li>'
            )
            continue
        verb, value, glyph = ("Unfollow", "0", "★") if group.followed else ("Follow", "1", "☆")
        items.append(
            f'<li class="{classes}"><a href="{prefix}topic={int(group.topic_id)}">{label}</a> '
            f'<span class="count">{int(group.count)}</span> '
            f'<button type="submit" formaction="{escape(group.follow_url)}" name="follow" '
            f'value="{value}" class="tiny follow" title="{verb} this topic">{glyph}</button></li>'
        )
    return mark_safe("".join(items))  # noqa: S308 - labels and URLs escaped, numbers cast
