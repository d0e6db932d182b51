"""The inbox's rows from their template (jinja2/triage/_rows.html) render the same HTML as
the row that was built in Python (tests/portal/inbox_reference.py), whatever a row holds:
the same elements, attributes and text, parsed as Django's assertHTMLEqual parses them
(the template spells an escaped quote &#34; where Python's escape spells it &quot;)."""

from __future__ import annotations

import itertools

from django.test.html import parse_html

from tests.portal.inbox_reference import inbox_row_reference
from tracker.triage.selectors import InboxRow, row_links
from tracker.triage.templatetags.inbox import inbox_rows

TITLES = ["Top-$k$ attention", "Quotes \"and\" <b>tags</b> & 'apostrophes'"]
BYLINES = ["", "A. Author, <i>B</i> et al."]
TAGS = [("cs.CL", False), ('lab "x" <y>', True)]
MARKS = [
    {},
    {"team_score": 3.25, "team_raters": 2},
    {"team_score": 4.0, "team_raters": 1},
    {"blind": True},
    {"team_prediction": 3.74},
]
REASONS = ["", "words: <attention>, sparse"]
ABSTRACTS = ["", "We study $x^2$ & <code>."]


def rows() -> list[InboxRow]:
    """Every kind of row not yet acted on: each title, byline, tag, team mark, reason and
    abstract, with and without code, with and without the inbox's filters in its link."""
    made = []
    variants = itertools.product(TITLES, BYLINES, TAGS, MARKS, REASONS, ABSTRACTS, [False, True])
    for pk, (title, byline, (tag, lab), mark, reason, abstract, code) in enumerate(variants, 1):
        query = {"topic": "3", "q": "a&b"} if pk % 2 else None
        made.append(
            InboxRow(
                pk=pk * 997,
                title=title,
                byline=byline,
                tag=tag,
                is_lab=lab,
                published="2024-03-15",
                has_code=code,
                abstract=abstract,
                topic_id=None,
                links=row_links(query)(pk * 997),
                reason=reason,
                **mark,  # type: ignore[arg-type]
            )
        )
    return made


def test_the_row_template_renders_the_python_rows_html(db) -> None:  # type: ignore[no-untyped-def]
    variants = rows()
    assert len(variants) == 320
    for row in variants:
        assert parse_html(inbox_rows([row])) == parse_html(inbox_row_reference(row)), row


def test_a_ranked_page_s_rows_are_each_followed_by_their_id(db) -> None:  # type: ignore[no-untyped-def]
    some = rows()[:3]
    html = inbox_rows(some, ranked=True)
    assert html.count('<input type="hidden" name="shown"') == 3
    for row in some:
        assert f'</article>\n<input type="hidden" name="shown" value="{row.pk}">' in html
    assert 'name="shown"' not in inbox_rows(some)
