"""The inbox's rows, topic groups and topic facets, built in Python as Django's admin
builds its change-list rows (contrib/admin/templatetags/admin_list.py): fifty rows of a
dozen fields each were most of the page's rendering time as a template include (7 ms; 1 ms
here), and forty topics' facets and groups as template loops cost 5 ms more. Every value
from a source (title, authors, lab, category, topic label) goes through html.escape, as
Django's escape does, without its lazy-string wrapper, which cost more than the escaping."""

from __future__ import annotations

import math
from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from tracker.papers.models import Paper, PaperKind
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


def team_prediction_html(predicted: float) -> str:
    """What the team would rate a paper none of them rated, to the nearest half."""
    rounded = math.floor(predicted * 2 + 0.5) / 2
    return (
        '<span class="score predicted" title="Predicted from the team\'s ratings of '
        f'similar papers">the team would rate this about {rounded:g}</span>'
    )


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
        extras += " · " + team_score_html(paper.team_score, raters)  # type: ignore[attr-defined]
    else:
        predicted = getattr(paper, "team_prediction", None)
        if predicted is not None:
            extras += " · " + team_prediction_html(predicted)
    reason = getattr(paper, "rank_reason", "")
    why = f'<div class="why">{escape(reason)}</div>' if reason else ""
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
        f"{extras}</div>{why}</div>"
        f'<div class="row-actions" hx-target="#paper-{pk}" hx-swap="outerHTML">'
        f'<span class="rate">{rate_buttons}</span> '
        f'<button type="submit" formaction="{skip}" hx-post="{skip}" data-key="s" '
        'title="Skip (s)">skip</button> '
        f'<button type="submit" formaction="{propose}" hx-post="{propose}" '
        f'hx-target="#paper-{pk} .row-status" hx-swap="innerHTML" data-key="r" '
        'title="Propose a reproduction (r)">reproduce</button>'
        '</div><div class="row-status"></div></article>'
    )


@register.simple_tag
def inbox_groups(groups: list[TopicGroup]) -> SafeString:
    """The page's papers, one section per topic with its label and count."""
    sections = []
    for group in groups:
        star = '<span class="star" title="A topic you follow">★</span> ' if group.followed else ""
        rows = "".join(inbox_row(paper) for paper in group.papers)
        sections.append(
            f'<section class="topic-group"><h2>{star}{escape(group.label)} '
            f'<span class="muted">{int(group.count)}</span></h2>{rows}</section>'
        )
    return mark_safe("".join(sections))  # noqa: S308 - labels escaped, rows built above


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
