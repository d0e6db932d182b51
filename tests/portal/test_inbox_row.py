"""The inbox's rows from their template (jinja2/triage/_rows.html) render the same HTML as
the row that was built in Python (tests/portal/inbox_reference.py), whatever a row holds:
the same elements, attributes and text, parsed as Django's assertHTMLEqual parses them
(the template spells an escaped quote &#34; where Python's escape spells it &quot;). The
topic facets, a template since, are held to the HTML the Python facets wrote."""

from __future__ import annotations

import itertools

from django.test.html import parse_html

from tests.conftest import client_for
from tests.portal.helpers import paper_in, topic
from tests.portal.inbox_reference import inbox_row_reference
from tracker.topics.models import TopicFollow
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


def test_the_topic_facets_render_the_html_the_python_facets_wrote(cast) -> None:  # type: ignore[no-untyped-def]
    agents, rl = topic("Agents & \"<tools>'"), topic("RL")
    TopicFollow.objects.create(user=cast.ben, topic=rl)
    for _ in range(2):
        paper_in(agents, primary_category="cs.AI")
    paper_in(rl, primary_category="cs.LG")
    paper_in(None)

    page = client_for(cast.ben).get("/inbox/", {"topic": rl.pk, "has_code": ""})
    facets = page.content.decode().split('class="topic-facets">', 1)[1].split("</ul>", 1)[0]
    items = facets.split("</li>", 1)[1].strip()  # after "All topics"

    # As tracker/triage/templatetags/inbox.py's topic_facets wrote them.
    assert items == (
        f'<li class="followed current"><a href="?topic={rl.pk}">RL</a> <span class="count">1'
        f'</span> <button type="submit" formaction="/inbox/topics/{rl.pk}/follow/" '
        'name="follow" value="0" class="tiny follow" title="Unfollow this topic">★</button></li>'
        f'<li class=""><a href="?topic={agents.pk}">Agents &amp; &quot;&lt;tools&gt;&#x27;</a> '
        f'<span class="count">2</span> <button type="submit" formaction="/inbox/topics/'
        f'{agents.pk}/follow/" name="follow" value="1" class="tiny follow" title="Follow this '
        'topic">☆</button></li><li class=""><span class="muted">No topic yet</span> '
        '<span class="count">1</span></li>'
    )
    filtered = client_for(cast.ben).get("/inbox/", {"topic": rl.pk, "order": "newest"})
    assert f'href="?order=newest&amp;topic={agents.pk}"' in filtered.content.decode()
