from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import LabReportFactory, MembershipFactory, RatingFactory, UserFactory
from tests.portal.helpers import paper_in, session_queries, topic
from tracker.papers.models import Paper
from tracker.topics.models import TopicFollow
from tracker.triage.models import Rating, RatingHistory, Skip
from tracker.triage.services import rating_set


def test_inbox_groups_by_topic_with_followed_topics_first(cast) -> None:  # type: ignore[no-untyped-def]
    vision, nlp = topic("Vision transformers"), topic("Tokenizers")
    paper_in(nlp, days_ago=0, title="Newest tokenizer paper")
    paper_in(vision, days_ago=2, title="Older ViT paper")
    TopicFollow.objects.create(user=cast.ben, topic=vision)

    page = client_for(cast.ben).get("/inbox/").content.decode()

    assert page.index("Vision transformers") < page.index("Tokenizers")
    assert page.index("Older ViT paper") < page.index("Newest tokenizer paper")


def test_papers_in_no_topic_yet_follow_the_followed_topics(cast) -> None:  # type: ignore[no-untyped-def]
    followed = topic("Agents")
    TopicFollow.objects.create(user=cast.ben, topic=followed)
    paper_in(followed, days_ago=1, title="Agent paper")
    paper_in(None, days_ago=0, title="Paper before clustering")

    page = client_for(cast.ben).get("/inbox/").content.decode()
    page = page.split('class="inbox-main"', 1)[1]

    assert (
        page.index("Agent paper")
        < page.index("No topic yet")
        < page.index("Paper before clustering")
    )


def test_topic_facets_count_link_and_star_each_topic(cast) -> None:  # type: ignore[no-untyped-def]
    agents, rl = topic("Agents & <tools>"), topic("RL")
    TopicFollow.objects.create(user=cast.ben, topic=rl)
    for _ in range(2):
        paper_in(agents, primary_category="cs.AI")
    paper_in(rl, primary_category="cs.LG")
    paper_in(None)

    page = client_for(cast.ben).get("/inbox/", {"topic": agents.pk, "has_code": ""})
    facets = page.content.decode().split('class="topic-facets">', 1)[1].split("</ul>", 1)[0]
    items = facets.split("<li")[2:]  # after "All topics"

    # The followed topic first, then by count; the one shown marked current.
    assert [i.split('class="', 1)[1].split('"', 1)[0] for i in items] == ["followed", "current", ""]
    assert f'href="?topic={rl.pk}">RL</a> <span class="count">1</span>' in items[0]
    assert 'value="0" class="tiny follow" title="Unfollow this topic">★' in items[0]
    assert 'Agents &amp; &lt;tools&gt;</a> <span class="count">2</span>' in items[1]
    assert f'formaction="/inbox/topics/{agents.pk}/follow/"' in items[1] and "☆" in items[1]
    assert "No topic yet" in items[2] and "<button" not in items[2]
    # Byte for byte the HTML the facets had when they were built in Python.
    assert "".join("<li" + item for item in items).strip() == (
        f'<li class="followed"><a href="?topic={rl.pk}">RL</a> <span class="count">1</span> '
        f'<button type="submit" formaction="/inbox/topics/{rl.pk}/follow/" name="follow" '
        'value="0" class="tiny follow" title="Unfollow this topic">★</button></li>'
        f'<li class="current"><a href="?topic={agents.pk}">Agents &amp; &lt;tools&gt;</a> '
        f'<span class="count">2</span> <button type="submit" formaction="/inbox/topics/'
        f'{agents.pk}/follow/" name="follow" value="1" class="tiny follow" '
        'title="Follow this topic">☆</button></li><li class=""><span class="muted">'
        'No topic yet</span> <span class="count">1</span></li>'
    )

    # Unfiltered, "All topics" is the current one, and no topic's row.
    facets = client_for(cast.ben).get("/inbox/").content.decode().split("topic-facets", 1)[1]
    facets = facets.split("</ul>", 1)[0]
    assert facets.count("current") == 1 and '<li class="current"><a href="?">All' in facets


def test_inbox_filters_keep_their_values(cast) -> None:  # type: ignore[no-untyped-def]
    page = client_for(cast.ben).get(
        "/inbox/", {"source": "lab", "since": "2026-01-02", "until": "not a date"}
    )
    body = page.content.decode()
    assert '<option value="lab" selected>Lab reports</option>' in body
    assert '<option value="arxiv">arXiv</option>' in body
    assert 'name="since" id="id_since" value="2026-01-02"' in body
    assert 'name="until" id="id_until" value=""' in body  # a bad date is dropped, not kept


def test_inbox_hides_what_i_rated_or_skipped_but_not_what_others_rated(cast) -> None:  # type: ignore[no-untyped-def]
    t = topic("RL")
    rated, skipped, others = (paper_in(t, title=f"paper {name}") for name in "abc")
    RatingFactory(team=cast.vision, user=cast.ben, paper=rated)
    Skip.objects.create(team=cast.vision, user=cast.ben, paper=skipped)
    RatingFactory(team=cast.vision, user=cast.ada, paper=others, value=2)

    page = client_for(cast.ben).get("/inbox/").content.decode()

    # Rows, not titles: a row's reason may name a paper the member rated.
    assert f'id="paper-{rated.pk}"' not in page and f'id="paper-{skipped.pk}"' not in page
    assert f'id="paper-{others.pk}"' in page
    assert "team 2.0 (1)" in page


def test_inbox_rows_escape_every_field_from_a_source(cast) -> None:  # type: ignore[no-untyped-def]
    LabReportFactory(
        title='Report <script>alert("t")</script> & "quotes"',
        authors=["<i>Eve</i>", "B", "C", "D"],
        lab='<b onmouseover="x">Lab</b>',
    )
    paper_in(topic("Agents"), primary_category='cs.CL"><img src=x>')
    rated = paper_in(None)
    dee = UserFactory(username="dee")
    MembershipFactory(team=cast.vision, user=dee)
    RatingFactory(team=cast.vision, user=cast.ada, paper=rated, value=3)
    RatingFactory(team=cast.vision, user=dee, paper=rated, value=4)

    page = client_for(cast.ben).get("/inbox/").content.decode()

    # The rows are a Jinja2 template, whose escaping spells a quote &#34; (Django: &quot;).
    assert "Report &lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;" in page
    assert "&lt;i&gt;Eve&lt;/i&gt;, B, C et al." in page
    assert "&lt;b onmouseover=&#34;x&#34;&gt;Lab&lt;/b&gt;" in page
    assert '<span class="tag">cs.CL&#34;&gt;&lt;img src=x&gt;</span>' in page
    assert "cs.CL&quot;&gt;&lt;img src=x&gt;" in page  # the category filter's option
    assert "<script>" not in page and "<img" not in page and "<i>" not in page
    assert "team 3.5 (2)" in page and 'title="Team score from 2 ratings"' in page


def test_has_code_is_kept_by_the_database_on_every_write(cast) -> None:  # type: ignore[no-untyped-def]
    harvested = paper_in(None, code_urls=["https://github.com/a/b"])
    in_comment = paper_in(None, comment="Code: HTTPS://GitHub.com/Org/Repo")
    plain = paper_in(None, abstract="No code, see github.io pages.")
    assert [p.has_code for p in (harvested, in_comment, plain)] == [True, True, False]
    # A raw update (as a harvest's upsert writes) recomputes it too.
    Paper.objects.filter(pk=plain.pk).update(abstract="Weights: https://huggingface.co/o/m")
    plain.refresh_from_db()
    assert plain.has_code
    page = client_for(cast.ben).get("/inbox/?has_code=1").content.decode()
    assert page.count('<span class="tag code">code</span>') == 3


def test_inbox_filters_by_source_category_code_topic_and_date(cast) -> None:  # type: ignore[no-untyped-def]
    t, other = topic("Agents"), topic("Speech")
    paper_in(t, title="arxiv cl", primary_category="cs.CL")
    paper_in(
        t,
        title="arxiv cv with code",
        primary_category="cs.CV",
        code_urls=["https://github.com/a/b"],
    )
    paper_in(other, title="speech old", days_ago=40)
    paper_in(other, title="code in abstract", abstract="Code at https://github.com/x/y.")
    lab = LabReportFactory(title="lab post")
    client = client_for(cast.ben)

    def titles(query: str) -> set[str]:
        page = client.get("/inbox/" + query).content.decode()
        return {
            name
            for name in (
                "arxiv cl",
                "arxiv cv with code",
                "speech old",
                "code in abstract",
                "lab post",
            )
            if f">{name}</a>" in page
        }

    assert titles("") == {"arxiv cl", "arxiv cv with code", "code in abstract", "lab post"}
    assert titles("?source=lab") == {"lab post"}
    assert titles("?source=arxiv&category=cs.CV") == {"arxiv cv with code"}
    assert titles("?has_code=1") == {"arxiv cv with code", "code in abstract"}
    assert titles(f"?topic={other.pk}") == {"code in abstract"}
    assert titles("?since=2000-01-01") >= {"speech old"}
    assert lab.pk


def test_next_walks_the_inbox_in_its_order_from_any_paper(cast) -> None:  # type: ignore[no-untyped-def]
    followed, other = topic("Agents"), topic("Speech")
    TopicFollow.objects.create(user=cast.ben, topic=followed)
    f_new = paper_in(followed, days_ago=1, title="followed new")
    f_old = paper_in(followed, days_ago=3, title="followed old")
    o_new = paper_in(other, days_ago=0, title="other new")
    o_old = paper_in(None, days_ago=2, title="no topic old")
    client = client_for(cast.ben)

    def next_after(paper: Paper | None, query: str = "") -> str:
        after = f"after={paper.pk}&" if paper else ""
        query = "&".join(q for q in (query, "order=newest") if q)
        response = client.get(f"/inbox/next/?{after}{query}")
        assert response.status_code == 302
        return response["Location"]

    # The newest-first order: followed topics first, newest first within each half.
    assert next_after(None) == f"/papers/{f_new.pk}/?order=newest"
    assert next_after(f_new) == f"/papers/{f_old.pk}/?order=newest"
    assert next_after(f_old) == f"/papers/{o_new.pk}/?order=newest"
    assert next_after(o_new) == f"/papers/{o_old.pk}/?order=newest"
    # A paper read and left unrated is not handed back; one just rated still has a place.
    RatingFactory(team=cast.vision, user=cast.ben, paper=f_old)
    assert next_after(f_new) == f"/papers/{o_new.pk}/?order=newest"
    assert next_after(f_old) == f"/papers/{o_new.pk}/?order=newest"
    # Within the inbox's filters, which the next page keeps.
    assert next_after(None, "category=cs.CV") == "/inbox/?category=cs.CV&order=newest"
    paper_in(other, days_ago=4, title="cv", primary_category="cs.CV")
    cv = Paper.objects.get(title="cv")
    assert next_after(o_new, "category=cs.CV") == f"/papers/{cv.pk}/?category=cs.CV&order=newest"
    # At the end, back to the inbox, which says so; a bad ?after= starts from the top.
    end = client.get(f"/inbox/next/?after={cv.pk}&order=newest", follow=True)
    assert end.redirect_chain[-1][0] == "/inbox/?order=newest"
    assert "Nothing left to triage." in end.content.decode()
    assert next_after(None, "after=99999999999999999999") == f"/papers/{f_new.pk}/?order=newest"


def test_next_counts_only_my_ratings_in_my_team(cast) -> None:  # type: ignore[no-untyped-def]
    first, second = paper_in(None, days_ago=0), paper_in(None, days_ago=1)
    RatingFactory(team=cast.vision, user=cast.ada, paper=first)  # a teammate's
    RatingFactory(team=cast.language, user=cast.carol, paper=second)  # another team's
    assert client_for(cast.ben).get("/inbox/next/")["Location"] == f"/papers/{first.pk}/"
    assert client_for(cast.carol).get("/inbox/next/")["Location"] == f"/papers/{first.pk}/"
    rating_set(team=cast.language, paper=first, user=cast.carol, value=3)
    assert client_for(cast.carol).get("/inbox/next/")["Location"] == "/inbox/"


def test_a_paper_opened_from_a_filtered_inbox_keeps_its_filters_for_next(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(None, primary_category="cs.CL")
    client = client_for(cast.ben)
    inbox = client.get("/inbox/", {"category": "cs.CL"}).content.decode()
    assert f'href="/papers/{paper.pk}/?category=cs.CL"' in inbox
    page = client.get(f"/papers/{paper.pk}/", {"category": "cs.CL"}).content.decode()
    assert f'href="/inbox/next/?after={paper.pk}&amp;category=cs.CL"' in page
    assert 'data-page-key="n"' in page
    plain = client.get(f"/papers/{paper.pk}/").content.decode()
    assert f'href="/inbox/next/?after={paper.pk}"' in plain


def test_topic_counts_are_shown(cast) -> None:  # type: ignore[no-untyped-def]
    t = topic("Diffusion")
    for _ in range(3):
        paper_in(t)
    response = client_for(cast.ben).get("/inbox/")
    counts = {g.label: g.count for g in response.context["inbox"].topic_counts}
    assert counts["Diffusion"] == 3


def test_rating_from_the_inbox_swaps_the_row_in_place(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(topic("RL"))
    response = client_for(cast.ben).post(
        f"/inbox/papers/{paper.pk}/rate/", {"value": "4", "context": "row"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert f'id="paper-{paper.pk}"' in response.content.decode()
    assert "Rated 4" in response.content.decode()
    assert Rating.objects.get(paper=paper, user=cast.ben, team=cast.vision).value == 4


def test_a_rated_row_takes_a_note_and_a_re_rate_keeps_it(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(topic("RL"))
    client = client_for(cast.ben)
    url = f"/inbox/papers/{paper.pk}/rate/"
    row = client.post(url, {"value": "4"}, HTTP_HX_REQUEST="true").content.decode()
    # The done row holds a note box that posts the value it shows along with the note.
    assert f'<form class="row-note" hx-post="{url}">' in row
    assert '<input type="hidden" name="value" value="4">' in row and 'data-key="e"' in row
    row = client.post(
        url, {"value": "4", "note": "weak <b>baselines</b>"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'value="weak &lt;b&gt;baselines&lt;/b&gt;"' in row
    rating = Rating.objects.get(paper=paper, user=cast.ben, team=cast.vision)
    assert (rating.value, rating.note) == (4, "weak <b>baselines</b>")
    # A second thought by key sends no note, and the note stays; an emptied box clears it.
    client.post(url, {"value": "2"}, HTTP_HX_REQUEST="true")
    rating.refresh_from_db()
    assert (rating.value, rating.note) == (2, "weak <b>baselines</b>")
    client.post(url, {"value": "2", "note": ""}, HTTP_HX_REQUEST="true")
    rating.refresh_from_db()
    assert rating.note == ""
    assert list(
        RatingHistory.objects.filter(paper=paper).order_by("id").values_list("value", "note")
    ) == [(4, ""), (4, "weak <b>baselines</b>"), (2, "weak <b>baselines</b>")]
    # A skipped row has no rating to annotate.
    other = paper_in(None)
    skipped = client.post(f"/inbox/papers/{other.pk}/skip/", HTTP_HX_REQUEST="true")
    assert "row-note" not in skipped.content.decode()


def test_rating_without_js_redirects_back(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(None)
    response = client_for(cast.ben).post(
        f"/inbox/papers/{paper.pk}/rate/", {"value": "2", "next": "/inbox/?source=arxiv"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/inbox/?source=arxiv"
    evil = client_for(cast.ben).post(
        f"/inbox/papers/{paper.pk}/rate/", {"value": "2", "next": "https://evil.example/"}
    )
    assert evil["Location"] == f"/papers/{paper.pk}/"


def test_bad_rating_values_are_refused(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(None)
    client = client_for(cast.ben)
    assert (
        client.post(
            f"/inbox/papers/{paper.pk}/rate/", {"value": "9"}, HTTP_HX_REQUEST="true"
        ).status_code
        == 400
    )
    assert not Rating.objects.exists()


def test_changing_a_rating_keeps_the_old_one_in_history(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(None)
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=2)
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=2)
    rating_set(team=cast.vision, paper=paper, user=cast.ben, value=5, note="ablation convinced me")

    rating = Rating.objects.get()
    assert (rating.value, rating.note) == (5, "ablation convinced me")
    assert list(RatingHistory.objects.values_list("value", flat=True)) == [2]


def test_skip_swaps_the_row_and_leaves_the_inbox(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(None, title="to skip")
    client = client_for(cast.ben)
    response = client.post(f"/inbox/papers/{paper.pk}/skip/", HTTP_HX_REQUEST="true")
    assert "Skipped" in response.content.decode()
    assert ">to skip</a>" not in client.get("/inbox/").content.decode()


def test_a_done_row_re_rates_and_undoes_in_place(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(topic("RL"), title="Second thoughts")
    RatingFactory(team=cast.vision, user=cast.ada, paper=paper, value=5)
    client = client_for(cast.ben)
    rate, undo = f"/inbox/papers/{paper.pk}/rate/", f"/inbox/papers/{paper.pk}/undo/"

    done = client.post(rate, {"value": "4"}, HTTP_HX_REQUEST="true").content.decode()
    # The done row offers the other values and an undo, posted with htmx into the row.
    assert f'hx-post="{undo}" data-key="u"' in done
    assert f'hx-post="{rate}" hx-vals=\'{{"value": "2"}}\' data-key="2"' in done
    assert 'data-key="4" title="Rate 4 instead" class="chosen"' in done

    again = client.post(rate, {"value": "2"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Rated 2" in again
    assert Rating.objects.get(user=cast.ben).value == 2

    row = client.post(undo, HTTP_HX_REQUEST="true").content.decode()
    # Back as a row to triage: its buttons, and the team score without the withdrawn rating.
    assert row.startswith(f'<article class="paper-row" id="paper-{paper.pk}"')
    assert f'formaction="{rate}"' in row and "team 5.0 (1)" in row
    assert not Rating.objects.filter(user=cast.ben).exists()
    assert Rating.objects.filter(user=cast.ada).exists()
    # Nothing is lost: the change and the withdrawal are both in the history.
    history = RatingHistory.objects.filter(user=cast.ben).order_by("recorded_at", "id")
    assert [(h.value, h.reason) for h in history] == [(4, "changed"), (2, "withdrawn")]
    assert ">Second thoughts</a>" in client.get("/inbox/").content.decode()
    panel = client.get(f"/papers/{paper.pk}/").content.decode()
    assert "ben had 2" in panel and "withdrawn" in panel


def test_undo_takes_back_a_skip_and_works_without_javascript(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(None, title="Skipped too fast")
    client = client_for(cast.ben)
    client.post(f"/inbox/papers/{paper.pk}/skip/", HTTP_HX_REQUEST="true")
    response = client.post(f"/inbox/papers/{paper.pk}/undo/", {"next": "/inbox/?source=arxiv"})
    assert response.status_code == 302 and response["Location"] == "/inbox/?source=arxiv"
    assert not Skip.objects.exists()
    assert ">Skipped too fast</a>" in client.get("/inbox/").content.decode()
    # Nothing left to undo: no error, nothing changed.
    assert client.post(f"/inbox/papers/{paper.pk}/undo/").status_code == 302


def test_undo_touches_only_my_own_rating_in_my_team(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(None)
    RatingFactory(team=cast.vision, user=cast.ben, paper=paper, value=3)
    RatingFactory(team=cast.language, user=cast.carol, paper=paper, value=1)
    # Carol (another team) and Ada (Ben's team) each undo on the same paper.
    client_for(cast.carol).post(f"/inbox/papers/{paper.pk}/undo/", HTTP_HX_REQUEST="true")
    client_for(cast.ada).post(f"/inbox/papers/{paper.pk}/undo/", HTTP_HX_REQUEST="true")
    assert list(Rating.objects.values_list("user__username", "value")) == [("ben", 3)]


def test_follow_and_unfollow_a_topic(cast) -> None:  # type: ignore[no-untyped-def]
    t = topic("Robotics")
    client = client_for(cast.ben)
    client.post(f"/inbox/topics/{t.pk}/follow/", {"follow": "1"})
    client.post(f"/inbox/topics/{t.pk}/follow/", {"follow": "1"})
    assert TopicFollow.objects.filter(user=cast.ben, topic=t).count() == 1
    client.post(f"/inbox/topics/{t.pk}/follow/", {"follow": "0"})
    assert not TopicFollow.objects.exists()


def test_the_inbox_reads_without_javascript(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(topic("RL"))
    page = client_for(cast.ben).get("/inbox/").content.decode()
    # Plain forms and links carry every action; htmx only makes them faster.
    assert f'formaction="/inbox/papers/{paper.pk}/rate/"' in page
    assert f'href="/papers/{paper.pk}/"' in page
    assert "<script>" not in page and "onclick" not in page


@pytest.mark.parametrize("rows", [3, 30, 60])
@pytest.mark.parametrize(
    ("order", "queries", "first"),
    [
        # A reload: (session), user, membership, the versions of what the member did and
        # the team rated (one query: the keys of the kept load, share count and picks),
        # topics, the page (followed topics first, then the rest), the page's team scores.
        # The first load adds the member's share count, the counts per topic and category,
        # and the picks' two reads (the ratings, whether the papers they may list wait for
        # a reader; the papers are read with the rows).
        ("newest", 7, 4),
        # The same with the page's rows in one query. The first load adds the share count,
        # the facets, the picks' two reads and the ranking's (the window's ids, the member's
        # skips, which model's vectors (two), the ratings, the member's follows, the papers'
        # texts and vectors; the version of the member's own ratings is the page's).
        ("for_you", 6, 11),
        ("team", 6, 11),
    ],
)
def test_inbox_query_count_is_fixed(
    cast, rows: int, order: str, queries: int, first: int, django_assert_num_queries, time_machine
) -> None:  # type: ignore[no-untyped-def]
    # The clock stands still: the kept picks are of the minute (PICKS_KEPT_SECONDS).
    time_machine.move_to("2026-06-10 09:00:30Z", tick=False)
    topics = [topic(f"topic {i}") for i in range(3)]
    TopicFollow.objects.create(user=cast.ben, topic=topics[0])
    papers = []
    for i in range(rows):
        paper = paper_in(topics[i % 3], code_urls=["https://github.com/a/b"] if i % 2 else [])
        RatingFactory(team=cast.vision, user=cast.ada, paper=paper, value=5 - i % 5)
        papers.append(paper)
    client = client_for(cast.ben)
    shown = min(rows, 50)
    with django_assert_num_queries(session_queries() + queries + first):
        response = client.get(f"/inbox/?order={order}")
    assert response.context["inbox"].shown == shown
    assert response.content.decode().count('<span class="score" title="Team score') == shown
    if order == "newest":
        # "Load more" after a paper of a followed topic (both halves to read) spends one
        # query on the paper it follows; the facets are kept.
        with django_assert_num_queries(session_queries() + queries + 1):
            more = client.get(f"/inbox/?order={order}&after={papers[0].pk}", HTTP_HX_REQUEST="true")
    else:
        # "Load more" by rank position finds the load kept, as a reload does. Past the end,
        # no rows and no team scores are read either.
        with django_assert_num_queries(session_queries() + queries - (0 if rows > 50 else 2)):
            more = client.get(f"/inbox/?order={order}&offset=50", HTTP_HX_REQUEST="true")
        assert more.context["inbox"].shown == max(rows - 50, 0)
    assert more.context["inbox"].total == rows
    # A reload finds the picks, the share count and the load kept: neither the window nor
    # the facets are read, only the page.
    with django_assert_num_queries(session_queries() + queries):
        client.get(f"/inbox/?order={order}")


def test_inbox_exports_bibtex_and_csv_of_the_filtered_list(cast) -> None:  # type: ignore[no-untyped-def]
    paper_in(None, title="Scaling {laws} & 100% of $x_1$", arxiv_id="2501.99999")
    LabReportFactory(title="=HYPERLINK(evil)")
    client = client_for(cast.ben)
    bib = client.get("/inbox/?source=arxiv&format=bib")
    assert bib["Content-Type"].startswith("application/x-bibtex")
    text = bib.content.decode()
    assert "@misc{arxiv:2501.99999," in text
    assert r"Scaling \{laws\} \& 100\% of \$x\_1\$" in text
    assert "HYPERLINK" not in text
    csv_text = client.get("/inbox/?format=csv").content.decode()
    assert "'=HYPERLINK(evil)" in csv_text


def _titles(page: str, *names: str) -> set[str]:
    return {name for name in names if f">{name}</a>" in page}


def test_new_means_arrived_so_an_import_of_old_papers_shows_up(cast, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to("2026-06-10 09:00Z", tick=False)
    now = timezone.now()
    # Published a year ago, imported today: new to the team.
    paper_in(topic("RL"), days_ago=400, created_at=now, title="Imported classic")
    # Published yesterday but harvested ten days ago: old news (seen in an earlier week).
    paper_in(None, days_ago=1, created_at=now - timedelta(days=10), title="Old arrival")
    paper_in(None, days_ago=0, title="Fresh arrival")

    page = client_for(cast.ben).get("/inbox/").content.decode()

    assert _titles(page, "Imported classic", "Old arrival", "Fresh arrival") == {
        "Imported classic",
        "Fresh arrival",
    }
    # The From date still filters by publication, reaching back past the window.
    page = client_for(cast.ben).get("/inbox/?since=2026-06-01").content.decode()
    assert _titles(page, "Imported classic", "Old arrival", "Fresh arrival") == {
        "Old arrival",
        "Fresh arrival",
    }


def test_the_window_reaches_back_to_my_last_triage_but_not_past_a_month(cast, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to("2026-06-10 09:00Z", tick=False)
    now = timezone.now()
    for days in (12, 25, 40):
        paper_in(None, days_ago=days, title=f"arrived {days} days ago")
    names = ("arrived 12 days ago", "arrived 25 days ago", "arrived 40 days ago")
    client = client_for(cast.ben)
    # Never triaged: the last week of arrivals.
    assert _titles(client.get("/inbox/").content.decode(), *names) == set()

    rated = paper_in(None, days_ago=90, title="rated long ago")
    RatingFactory(team=cast.vision, user=cast.ben, paper=rated, updated_at=now - timedelta(days=20))
    assert _titles(client.get("/inbox/").content.decode(), *names) == {"arrived 12 days ago"}

    # A skip counts as triage too; away for two months, the inbox reaches back a month.
    Rating.objects.filter(user=cast.ben).update(updated_at=now - timedelta(days=60))
    Skip.objects.create(
        team=cast.vision, user=cast.ben, paper=rated, created_at=now - timedelta(days=70)
    )
    assert _titles(client.get("/inbox/").content.decode(), *names) == {
        "arrived 12 days ago",
        "arrived 25 days ago",
    }
    # Another team's triage is not mine.
    assert _titles(client_for(cast.carol).get("/inbox/").content.decode(), *names) == set()


def test_load_more_pages_on_and_the_counts_stay_right(cast, monkeypatch, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to("2026-06-10 09:00Z", tick=False)
    monkeypatch.setattr("tracker.triage.selectors.INBOX_PAGE_SIZE", 2)
    papers = [paper_in(None, days_ago=i / 10, title=f"paper {i}") for i in range(5)]
    names = tuple(f"paper {i}" for i in range(5))
    client = client_for(cast.ben)

    page = client.get("/inbox/?order=newest").content.decode()
    assert _titles(page, *names) == {"paper 0", "paper 1"}
    assert '<span data-count="shown">2</span> of <span data-count="total">5</span>' in page
    more = f"?order=newest&amp;after={papers[1].pk}"
    assert f'hx-get="{more}"' in page

    # Rating a shown row shifts nothing: the next page starts after the last row shown.
    client.post(f"/inbox/papers/{papers[0].pk}/rate/", {"value": "4"}, HTTP_HX_REQUEST="true")
    fragment = client.get(
        f"/inbox/?order=newest&after={papers[1].pk}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert _titles(fragment, *names) == {"paper 2", "paper 3"}
    assert 'data-total="4"' in fragment and "<html" not in fragment
    assert f'hx-get="?order=newest&amp;after={papers[3].pk}"' in fragment

    last = client.get(
        f"/inbox/?order=newest&after={papers[3].pk}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert _titles(last, *names) == {"paper 4"}
    assert "Load more" not in last
    # Without JavaScript the link is a page of its own, filters kept.
    plain = client.get(f"/inbox/?source=arxiv&order=newest&after={papers[1].pk}").content.decode()
    assert _titles(plain, *names) == {"paper 2", "paper 3"}
    assert f"?source=arxiv&amp;order=newest&amp;after={papers[3].pk}" in plain


@pytest.mark.parametrize("order", ["for_you", "team"])
def test_load_more_in_a_ranked_order_brings_the_best_rows_not_shown(  # type: ignore[no-untyped-def]
    cast, monkeypatch, time_machine, order: str
) -> None:
    time_machine.move_to("2026-06-10 09:00Z", tick=False)
    monkeypatch.setattr("tracker.triage.selectors.INBOX_PAGE_SIZE", 2)
    papers = [paper_in(None, days_ago=i / 10, title=f"paper {i}") for i in range(5)]
    names = tuple(f"paper {i}" for i in range(5))
    client = client_for(cast.ben)
    query = "" if order == "for_you" else f"order={order}&"

    page = client.get(f"/inbox/?{query}").content.decode()
    # No signal yet: the ranking keeps the arrival order.
    assert _titles(page, *names) == {"paper 0", "paper 1"}
    assert f'hx-get="?{query.replace("&", "&amp;")}offset=2"' in page
    assert "hx-include=\"input[name='shown']\"" in page
    assert page.count('<input type="hidden" name="shown"') == 2

    # A rating refits the ranking and takes the row out of it: an offset into the new
    # ranking would pass over paper 2. The rows on the page are sent instead.
    client.post(f"/inbox/papers/{papers[0].pk}/rate/", {"value": "4"}, HTTP_HX_REQUEST="true")
    shown = f"shown={papers[0].pk}&shown={papers[1].pk}"
    fragment = client.get(
        f"/inbox/?{query}offset=2&{shown}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert _titles(fragment, *names) == {"paper 2", "paper 3"}
    assert 'data-total="4"' in fragment and "<html" not in fragment
    shown += f"&shown={papers[2].pk}&shown={papers[3].pk}"
    last = client.get(f"/inbox/?{query}offset=4&{shown}", HTTP_HX_REQUEST="true").content.decode()
    assert _titles(last, *names) == {"paper 4"}
    assert "Load more" not in last
    # Without JavaScript the link is a page of its own, from that rank on.
    plain = client.get(f"/inbox/?{query}offset=2").content.decode()
    assert _titles(plain, *names) == {"paper 3", "paper 4"}


def test_a_row_shows_its_abstract_with_its_latex_for_the_x_key(cast) -> None:  # type: ignore[no-untyped-def]
    paper_in(
        topic("RL"),
        title="Top-$k$ routing",
        abstract="We route to the top-$k$ experts <b>and</b> keep the rest idle.",
    )
    page = client_for(cast.ben).get("/inbox/").content.decode()
    # The whole abstract is in the row, clamped to its first lines by CSS until x opens it;
    # math.js renders the LaTeX of title and abstract alike.
    assert (
        '<p class="lead" data-math data-abstract>We route to the top-$k$ experts '
        "&lt;b&gt;and&lt;/b&gt; keep the rest idle.</p>"
    ) in page
    assert 'data-math href="/papers/' in page
    assert "<kbd>x</kbd> abstract" in page
