"""The inbox's ranked orders: "for you" (the default), team value, and newest."""

from __future__ import annotations

import re

import numpy as np

from tests.conftest import client_for
from tests.portal.helpers import paper_in
from tracker.papers.embeddings import stored_model_name
from tracker.papers.models import Embedding, Paper
from tracker.triage.services import rating_set

FIELDS = {
    "robot": ("Robot grasping with dexterous hands", "manipulation policy for a robot arm"),
    "speech": ("Speech recognition of spoken language", "audio tokens for speaker voice"),
}


def _papers() -> dict[str, list[Paper]]:
    """Twelve robot and twelve speech papers, alternating by date (newest first: robot,
    speech, robot ...), each with a vector in its field's direction."""
    rng = np.random.default_rng(1)
    papers: dict[str, list[Paper]] = {"robot": [], "speech": []}
    for n in range(24):
        field = "robot" if n % 2 == 0 else "speech"
        title, abstract = FIELDS[field]
        paper = paper_in(
            None, days_ago=n / 10, title=f"{title} {n}", abstract=f"We study {abstract}. {n}"
        )
        vector = np.zeros(8, dtype="<f4")
        vector[0 if field == "robot" else 1] = 1.0
        vector += rng.normal(0, 0.1, size=8).astype("<f4")
        vector /= np.linalg.norm(vector)
        Embedding.objects.create(
            paper=paper, model_name=stored_model_name(), dimension=8, vector=vector.tobytes()
        )
        papers[field].append(paper)
    return papers


def _row_ids(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article class="paper-row" id="paper-(\d+)"', page)]


def test_rating_ten_papers_reorders_the_inbox(cast) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    robot = {p.pk for p in papers["robot"]}
    client = client_for(cast.ben)
    before = _row_ids(client.get("/inbox/").content.decode())
    # No signal yet: "for you" is newest first.
    assert [pk in robot for pk in before[:4]] == [True, False, True, False]

    for paper in papers["robot"][:5]:
        rating_set(team=cast.vision, paper=paper, user=cast.ben, value=5)
    for paper in papers["speech"][:5]:
        rating_set(team=cast.vision, paper=paper, user=cast.ben, value=1)

    page = client.get("/inbox/").content.decode()
    after = _row_ids(page)
    assert len(after) == 14
    assert all(pk in robot for pk in after[:7])
    assert not any(pk in robot for pk in after[7:])
    # Each ranked row says why.
    top = page.split(f'id="paper-{after[0]}"', 1)[1].split("</article>", 1)[0]
    assert re.search(r'<div class="why">(like “Robot grasping|words: )', top)
    # Newest keeps the dates' order.
    newest = _row_ids(client.get("/inbox/?order=newest").content.decode())
    assert [pk in robot for pk in newest[:4]] == [True, False, True, False]


def test_team_value_orders_by_what_the_team_would_rate(cast) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    for paper in papers["speech"][:3]:
        rating_set(team=cast.vision, paper=paper, user=cast.ada, value=5)
    for paper in papers["robot"][:3]:
        rating_set(team=cast.vision, paper=paper, user=cast.ada, value=1)

    page = client_for(cast.ben).get("/inbox/?order=team").content.decode()
    rows = _row_ids(page)
    speech = {p.pk for p in papers["speech"]}
    assert all(pk in speech for pk in rows[:12])
    assert "the team would rate this about" in page
    assert '<a href="?order=team" aria-current="true">Team value</a>' in page


def test_next_in_the_for_you_order_is_the_best_of_what_is_left(cast) -> None:  # type: ignore[no-untyped-def]
    papers = _papers()
    client = client_for(cast.ben)
    for paper in papers["speech"][:3]:
        rating_set(team=cast.vision, paper=paper, user=cast.ben, value=5)
    first = client.get("/inbox/next/")["Location"]
    assert int(first.split("/")[2]) in {p.pk for p in papers["speech"]}
    second = client.get(f"/inbox/next/?after={first.split('/')[2]}")["Location"]
    assert int(second.split("/")[2]) in {p.pk for p in papers["speech"]}
    assert second != first


def test_sort_links_keep_the_other_filters(cast) -> None:  # type: ignore[no-untyped-def]
    page = client_for(cast.ben).get("/inbox/?category=cs.CL").content.decode()
    assert '<a href="?category=cs.CL" aria-current="true">For you</a>' in page
    assert '<a href="?category=cs.CL&amp;order=newest">Newest</a>' in page


def test_the_ranking_sees_each_papers_categories_primary_first(cast) -> None:  # type: ignore[no-untyped-def]
    from tracker.triage.ranking import _docs

    listed = paper_in(None, categories=["cs.CV", "cs.RO"], primary_category="cs.RO")
    report = paper_in(None, categories=[], primary_category="")
    docs, _ = _docs("", {listed.pk: None, report.pk: None}, 0)
    assert {doc.key: doc.categories for doc in docs} == {
        listed.pk: ("cs.RO", "cs.CV"),
        report.pk: (),
    }


def test_rating_a_categorys_papers_high_brings_its_other_papers_first(cast) -> None:  # type: ignore[no-untyped-def]
    """Thirty-six papers alike in words and vectors; every third is in cs.RO (primary or
    cross-listed). Rated by category, the inbox puts the unrated cs.RO papers first."""
    rng = np.random.default_rng(2)
    robotics: set[int] = set()
    papers = []
    for n in range(36):
        categories = ["cs.CV", "cs.LG"]
        if n % 3 == 0:
            categories = ["cs.RO", "cs.CV"] if n % 2 == 0 else ["cs.CV", "cs.RO"]
        paper = paper_in(
            None,
            days_ago=n / 10,
            title=f"A study of models, number {n}",
            abstract=f"We study models and data. {n}",
            categories=categories,
            primary_category=categories[0],
        )
        vector = rng.normal(size=8).astype("<f4")
        Embedding.objects.create(
            paper=paper, model_name=stored_model_name(), dimension=8, vector=vector.tobytes()
        )
        papers.append(paper)
        if n % 3 == 0:
            robotics.add(paper.pk)
    for paper in papers[::2]:
        rating_set(
            team=cast.vision, paper=paper, user=cast.ben, value=5 if paper.pk in robotics else 1
        )
    rows = _row_ids(client_for(cast.ben).get("/inbox/").content.decode())
    unrated = {p.pk for p in papers[1::2]}
    assert set(rows) == unrated
    wanted = robotics & unrated
    assert set(rows[: len(wanted)]) == wanted
