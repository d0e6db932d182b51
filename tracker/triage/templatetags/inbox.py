"""The inbox row, built in Python as Django's admin builds its change-list rows
(contrib/admin/templatetags/admin_list.py): fifty rows of a dozen fields each were most of
the page's rendering time as a template include (7 ms; 1 ms here). Every value from a
source (title, authors, lab, category) goes through html.escape, as Django's escape does,
without its lazy-string wrapper, which cost more than the escaping."""

from __future__ import annotations

import math
from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from tracker.papers.models import Paper, PaperKind

register = template.Library()


@register.simple_tag
def inbox_row(paper: Paper) -> SafeString:
    """One paper of the inbox. Its buttons submit the list's one form (triage/inbox.html)
    to their own formaction, which is how the actions work without JavaScript; with it, htmx
    posts the same button and swaps the row in place (triage/_row_done.html).

    The view sets the URLs on each paper (detail_url, rate_url, skip_url, propose_url)."""
    pk = int(paper.pk)
    detail = escape(paper.detail_url)  # type: ignore[attr-defined]
    rate = escape(paper.rate_url)  # type: ignore[attr-defined]
    skip = escape(paper.skip_url)  # type: ignore[attr-defined]
    propose = escape(paper.propose_url)  # type: ignore[attr-defined]
    authors = paper.authors or []
    byline = escape(", ".join(authors[:3]) + (" et al." if len(authors) > 3 else ""))
    if paper.kind == PaperKind.LAB_REPORT:
        tag = f'<span class="tag lab">{escape(paper.lab or "lab")}</span>'
    else:
        tag = f'<span class="tag">{escape(paper.primary_category)}</span>'
    published = (
        timezone.localtime(paper.published_at).date().isoformat() if paper.published_at else ""
    )
    extras = ' · <span class="tag code">code</span>' if paper.has_code else ""
    raters = int(getattr(paper, "team_raters", 0) or 0)
    if raters:
        # Halves round up, as floatformat does: a 3.25 mean reads 3.3.
        score = math.floor(paper.team_score * 10 + 0.5) / 10  # type: ignore[attr-defined]
        plural = "" if raters == 1 else "s"
        extras += (
            f' · <span class="score" title="Team score from {raters} rating{plural}">'
            f"team {score:.1f} ({raters})</span>"
        )
    rate_buttons = "".join(
        f'<button type="submit" formaction="{rate}" hx-post="{rate}" name="value" '
        f'value="{v}" data-key="{v}" title="Rate {v}">{v}</button>'
        for v in range(1, 6)
    )
    return mark_safe(  # noqa: S308 - every value above is escaped or a number
        f'<article class="paper-row" id="paper-{pk}" data-open="{detail}">'
        f'<div class="row-main"><a class="title" data-math href="{detail}">'
        f"{escape(paper.title)}</a>"
        f'<div class="meta"><span class="authors">{byline}</span> · {tag} · {published}'
        f"{extras}</div></div>"
        f'<div class="row-actions" hx-target="#paper-{pk}" hx-swap="outerHTML">'
        f'<span class="rate">{rate_buttons}</span> '
        f'<button type="submit" formaction="{skip}" hx-post="{skip}" data-key="s" '
        'title="Skip (s)">skip</button> '
        f'<button type="submit" formaction="{propose}" hx-post="{propose}" '
        f'hx-target="#paper-{pk} .row-status" hx-swap="innerHTML" data-key="r" '
        'title="Propose a reproduction (r)">reproduce</button>'
        '</div><div class="row-status"></div></article>'
    )
