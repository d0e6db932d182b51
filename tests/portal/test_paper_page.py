from __future__ import annotations

import re

import numpy as np
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from tests.conftest import client_for
from tests.factories import (
    ClaimFactory,
    CommentFactory,
    MembershipFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    ResultLogFactory,
    SourceFactory,
    UserFactory,
)
from tests.portal.helpers import paper_in, session_queries
from tracker.papers.embeddings import embeddings_store, stored_model_name
from tracker.papers.links import code_links
from tracker.papers.models import PaperSource, PaperVersion
from tracker.papers.versions import version_changes
from tracker.reproductions.models import ClaimDraft
from tracker.search.backends import InProcessStore, vector_store
from tracker.topics.models import PaperTopic, Topic
from tracker.triage.models import Comment
from tracker.triage.selectors import rating_summary
from tracker.triage.services import rating_set


def test_code_repositories_are_found_in_the_abstract_and_comments(db: None) -> None:
    paper = PaperFactory.build(
        code_urls=["https://github.com/org/model"],
        abstract="Code: https://github.com/org/model. Weights at https://huggingface.co/org/model-7b).",
        comment="Data: https://gitlab.com/team/data.git and https://example.org/not-code",
    )
    assert code_links(paper) == [
        "https://github.com/org/model",
        "https://huggingface.co/org/model-7b",
        "https://gitlab.com/team/data",
    ]


def test_version_changes_say_what_changed(db: None) -> None:
    paper = PaperFactory(version=2)
    v1 = PaperVersion.objects.create(
        paper=paper, version=1, title="Old", abstract="a b c", authors=["A"]
    )
    v2 = PaperVersion.objects.create(
        paper=paper, version=2, title="New", abstract="a b c d e", authors=["A", "B"]
    )
    rows = version_changes([v1, v2])
    assert rows[0].version == v2
    assert rows[0].changes == ["title changed", "abstract changed (+2 words)", "authors: added B"]
    assert rows[1].changes == ["first version seen"]


def test_rating_summary_marks_disagreement_as_disputed(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    RatingFactory(team=cast.vision, user=cast.ada, paper=paper, value=5)
    RatingFactory(team=cast.vision, user=cast.ben, paper=paper, value=2)
    RatingFactory(team=cast.language, user=cast.carol, paper=paper, value=5)
    summary = rating_summary(cast.vision, paper, cast.ben)
    assert (summary.count, summary.mean, summary.low, summary.high) == (2, 3.5, 2, 5)
    assert summary.disputed and summary.spread == 1.5
    assert summary.mine.value == 2
    RatingFactory(team=cast.language, user=cast.ada, paper=paper, value=4)
    assert not rating_summary(cast.language, paper, cast.ada).disputed


def test_paper_page_shows_everything_about_the_paper(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(
        title="Sparse mixtures at scale",
        abstract="We train $N=10^{12}$ parameters. https://github.com/moe/sparse",
        pdf_url="https://arxiv.org/pdf/2501.00001",
        version=2,
    )
    PaperVersion.objects.create(paper=paper, version=1, title="Sparse mixtures", abstract="x")
    PaperVersion.objects.create(paper=paper, version=2, title=paper.title, abstract=paper.abstract)
    PaperSource.objects.create(
        paper=paper, source=SourceFactory(name="arXiv cs.LG"), url=paper.canonical_url
    )
    PaperSource.objects.create(
        paper=paper, url="https://moe.example/blog/sparse", title="Our MoE post"
    )
    topic = Topic.objects.create(label="Mixture of experts")
    PaperTopic.objects.create(paper=paper, topic=topic)
    RatingFactory(team=cast.vision, user=cast.ada, paper=paper, value=5)
    RatingFactory(team=cast.vision, user=cast.ben, paper=paper, value=1)
    CommentFactory(team=cast.vision, user=cast.ada, paper=paper, body="Try the 8-expert config.")

    page = client_for(cast.ben).get(f"/papers/{paper.pk}/").content.decode()

    for text in (
        "Sparse mixtures at scale",
        "Ada Lovelace",
        "arXiv:2501.",
        "cs.CL",
        f'href="/topics/{topic.pk}/" class="topic-link"><strong>Mixture of experts</strong>',
        'href="https://arxiv.org/pdf/2501.00001"',
        "github.com/moe/sparse",
        "arXiv cs.LG",
        "https://moe.example/blog/sparse",
        "Our MoE post",
        "title changed",
        "disputed",
        "mean of 2",
        "Try the 8-expert config.",
        "data-math",
    ):
        assert text in page, text


def test_rating_from_the_paper_page_updates_the_panel(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    client = client_for(cast.ben)
    client.post(
        f"/inbox/papers/{paper.pk}/rate/",
        {"value": "2", "context": "panel"},
        HTTP_HX_REQUEST="true",
    )
    response = client.post(
        f"/inbox/papers/{paper.pk}/rate/",
        {"value": "4", "note": "changed my mind", "context": "panel"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert 'id="ratings-panel"' in html and "changed my mind" in html
    assert "Rating history (1)" in html


def test_comments_are_posted_to_the_current_team(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    client_for(cast.carol).post(f"/inbox/papers/{paper.pk}/comment/", {"body": "language note"})
    assert "language note" not in client_for(cast.ben).get(f"/papers/{paper.pk}/").content.decode()
    assert "language note" in client_for(cast.carol).get(f"/papers/{paper.pk}/").content.decode()


def test_an_author_edits_and_deletes_their_own_comment(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    mine = CommentFactory(team=cast.vision, user=cast.ben, paper=paper, body="first $x^2$ try")
    ada_s = CommentFactory(team=cast.vision, user=cast.ada, paper=paper, body="ada's view")
    ben = client_for(cast.ben)
    url = f"/comments/{mine.pk}/"

    page = ben.get(f"/papers/{paper.pk}/").content.decode()
    # An edit form under my comment only; the body is marked for LaTeX like the abstract.
    assert f'action="{url}"' in page and f'action="/comments/{ada_s.pk}/"' not in page
    assert '<div class="comment-body" data-math>first $x^2$ try</div>' in page

    response = ben.post(url, {"body": "  second try  "})
    assert response.status_code == 302
    assert response["Location"] == f"/papers/{paper.pk}/#comments"
    mine.refresh_from_db()
    assert mine.body == "second try" and mine.edited_at is not None
    assert " · edited " in ben.get(f"/papers/{paper.pk}/").content.decode()

    # An empty edit is refused with a message, and the comment stays as it was.
    refused = ben.post(url, {"body": "   "}, follow=True).content.decode()
    assert "A comment needs some text" in refused
    mine.refresh_from_db()
    assert mine.body == "second try"

    ben.post(url, {"delete": "1"})
    assert not Comment.objects.filter(pk=mine.pk).exists()
    assert Comment.objects.filter(pk=ada_s.pk).exists()


def test_nobody_else_edits_or_deletes_a_comment(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    comment = CommentFactory(team=cast.vision, user=cast.ben, paper=paper, body="ben's")
    url = f"/comments/{comment.pk}/"
    # Ada is in Ben's team and a curator; Carol is in another team. Both get 404.
    for user in (cast.ada, cast.carol):
        client = client_for(user)
        assert client.post(url, {"body": "rewritten"}).status_code == 404
        assert client.post(url, {"delete": "1"}).status_code == 404
    assert client_for(cast.ben).get(url).status_code == 405
    comment.refresh_from_db()
    assert comment.body == "ben's" and comment.edited_at is None


def test_a_paper_gives_its_bibtex_entry_to_copy(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(title="Scaling {laws} & $x_1$", arxiv_id="2599.00042")
    duplicate = PaperFactory(merged_into=paper)
    client = client_for(cast.ben)
    url = f"/papers/{paper.pk}/bibtex/"
    assert f'<a href="{url}"' in client.get(f"/papers/{paper.pk}/").content.decode()

    response = client.get(url)
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("@misc{arxiv:2599.00042,")
    assert r"title = {{Scaling \{laws\} \& \$x\_1\$}}" in text
    assert "eprint = {2599.00042}" in text
    # An old link to a merged duplicate gives the survivor's entry; strangers log in first.
    assert client.get(f"/papers/{duplicate.pk}/bibtex/")["Location"] == url
    assert Client().get(url).status_code == 302


def test_a_merged_paper_redirects_to_its_survivor(cast) -> None:  # type: ignore[no-untyped-def]
    survivor = PaperFactory()
    merged = PaperFactory(merged_into=survivor)
    response = client_for(cast.ben).get(f"/papers/{merged.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/papers/{survivor.pk}/"


def test_titles_are_marked_for_latex_on_every_list_and_katex_is_served(cast) -> None:  # type: ignore[no-untyped-def]
    paper = paper_in(None, title="Regret $O(\\sqrt{T})$ bounds")
    client = client_for(cast.ben)
    inbox = client.get("/inbox/").content.decode()
    assert 'class="title" data-math' in inbox and "Regret $O(\\sqrt{T})$ bounds" in inbox
    assert "data-math" in client.get(f"/papers/{paper.pk}/").content.decode()
    # math.js fetches KaTeX only when a page holds math; it finds the files here.
    tag = re.search(r'<script src="[^"]*math[^"]*"([^>]*)>', inbox)
    assert tag is not None
    assets = dict(re.findall(r'data-(katex[\w-]*)="([^"]+)"', tag.group(1)))
    assert set(assets) == {"katex", "katex-render", "katex-css"}
    for url in assets.values():
        assert url.startswith(settings.STATIC_URL)
        assert finders.find(url.removeprefix(settings.STATIC_URL)), url


@pytest.mark.parametrize("rows", [1, 8])
def test_paper_page_query_count_is_fixed(cast, rows: int, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(version=rows)
    PaperTopic.objects.create(paper=paper, topic=Topic.objects.create(label="Agents"))
    for i in range(rows):
        PaperVersion.objects.create(paper=paper, version=i + 1, title=f"v{i}", abstract="x")
        PaperSource.objects.create(paper=paper, source=SourceFactory(), url=f"https://e.org/{i}")
        rater = UserFactory()
        MembershipFactory(team=cast.vision, user=rater)
        rating_set(team=cast.vision, paper=paper, user=rater, value=1 + i % 5)
        rating_set(team=cast.vision, paper=paper, user=rater, value=5 - i % 4)
        CommentFactory(team=cast.vision, user=rater, paper=paper)
        repro = ReproductionFactory(team=cast.vision, paper=paper, proposed_by=rater)
        repro.assignees.add(rater, cast.ben)
        claim = ClaimFactory(team=cast.vision, paper=paper, created_by=rater)
        ResultLogFactory(reproduction=repro, claim=claim, logged_by=rater)
        ClaimDraft.objects.create(paper=paper, position=i, value=1.0 + i, quote=f"{1.0 + i}%")
    others = PaperFactory.create_batch(rows)
    vectors = np.eye(rows + 1, dtype="<f4") + 0.5
    embeddings_store(stored_model_name(), [paper.pk] + [p.pk for p in others], vectors)
    client = client_for(cast.ben)
    client.get(f"/papers/{paper.pk}/")  # which model search reads is settled once
    # (session), user, membership, the paper and its topic, versions, sources with their
    # feeds, the newest vector, the similar papers, whether its ratings are hidden from
    # the member, ratings, rating history, comments, reproductions and their assignees,
    # claims, results, drafted claims, watched code links, the lab posts and author table
    # that give its lab, the member's follows (its follow buttons). On pgvector the newest
    # vector gives way to the paper's own vector, and the similar papers are read in a
    # savepoint that scopes the index scan's settings (SAVEPOINT, the settings, the settings
    # set back as they were inside this test's transaction, RELEASE).
    similar = 0 if vector_store().name == InProcessStore.name else 4
    with django_assert_num_queries(session_queries() + 20 + similar):
        response = client.get(f"/papers/{paper.pk}/")
    context = response.context
    assert len(context["comments"]) == len(context["similar"]) == rows
