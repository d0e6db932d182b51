"""The inbox row as it was built in Python before it became a template (the f-string of
tracker/triage/templatetags/inbox.py up to the restructuring, with what a row shows since:
the abstract, why it ranks there, the team's prediction or hidden ratings, "not
interested"): the reference that the row's template is held to (tests/portal/test_inbox_row.py)
and the baseline that bench/inbox_page.py measures the template against. Registered as a
template library only by those two."""

from __future__ import annotations

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from tracker.triage.selectors import InboxRow

register = template.Library()


def _score(row: InboxRow) -> str:
    if row.team_raters:
        return (
            f' · <span class="score" title="{escape(row.team_score_title)}">'
            f"{escape(row.team_score_text)}</span>"
        )
    if row.blind:
        return (
            ' · <span class="score blind" title="Hidden until every reader of it has rated '
            'it, or a day has passed">team ratings hidden</span>'
        )
    if row.team_prediction_text:
        return (
            ' · <span class="score predicted" title="Predicted from the team\u2019s ratings of '
            f'similar papers">{escape(row.team_prediction_text)}</span>'
        )
    return ""


@register.simple_tag
def inbox_row_reference(row: InboxRow) -> SafeString:
    """One paper of the inbox, not yet acted on (templates/triage/_row.html)."""
    rate, skip, propose = row.links.rate, row.links.skip, row.links.propose
    not_interested = row.links.not_interested
    tag = f'<span class="tag{" lab" if row.is_lab else ""}">{escape(row.tag)}</span>'
    code = ' · <span class="tag code">code</span>' if row.has_code else ""
    why = f'<div class="why">{escape(row.reason)}</div>' if row.reason else ""
    lead = (
        f'<p class="lead" data-math data-abstract>{escape(row.abstract)}</p>'
        if row.abstract
        else ""
    )
    buttons = "".join(
        f'<button type="submit" formaction="{rate}" hx-post="{rate}" name="value" '
        f'value="{v}" data-key="{v}" title="Rate {v}">{v}</button>'
        for v in range(1, 6)
    )
    return mark_safe(  # noqa: S308 - every value is escaped, a number or a safe URL
        f'<article class="paper-row" id="{row.dom_id}" tabindex="-1">\n'
        f'<div class="row-main"><a class="title" data-math href="{row.links.detail}">'
        f"{escape(row.title)}</a>\n"
        f'<div class="meta"><span class="authors">{escape(row.byline)}</span> · {tag} · '
        f"{row.published}{code}{_score(row)}</div>\n"
        f"{why}\n{lead}</div>\n"
        '<div class="row-actions" hx-target="closest .paper-row" hx-swap="outerHTML">\n\n'
        f'<span class="rate">{buttons}</span>\n'
        f'<button type="submit" formaction="{skip}" hx-post="{skip}" data-key="s" '
        'title="Skip (s)">skip</button>\n'
        f'<button type="submit" formaction="{not_interested}" hx-post="{not_interested}" '
        'data-key="d" title="Not interested (d): fewer like it">not interested</button>\n'
        f'<button type="submit" formaction="{propose}" hx-post="{propose}" '
        'hx-target="next .row-status" hx-swap="innerHTML" data-key="r" '
        'title="Propose a reproduction (r)">reproduce</button>\n'
        '</div><div class="row-status"></div>\n</article>\n'
    )
