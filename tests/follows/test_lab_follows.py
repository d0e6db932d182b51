"""Following a lab covers arXiv papers too: a paper's lab is the one stats by lab give it
(its record's, else its arXiv affiliations', else the curators' author table's), the
inbox and the alerts both see it, and the reason says how the lab was attributed."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import PaperFactory
from tests.follows.conftest import member
from tests.portal.helpers import paper_in
from tracker.follows.models import Alert, FollowKind
from tracker.follows.selectors import ROW_FIELDS, followed_reasons, inbox_follows, paper_facts
from tracker.follows.services import alerts_create, follow_add
from tracker.papers.models import AuthorLab, Paper

pytestmark = pytest.mark.django_db

TWO = ["Oriol Vinyals", "Hervé Jégou"]


def _new_paper(**fields: object) -> Paper:
    return PaperFactory(created_at=timezone.now(), **fields)


def _table(**rows: str) -> None:
    for author, lab in rows.items():
        AuthorLab.objects.create(author=author.replace("_", " "), lab=lab, confirmed=True)


def _follow_lab(cast, label: str) -> None:  # type: ignore[no-untyped-def]
    follow_add(member(cast.ben, cast.vision), FollowKind.LAB, label)


def _inbox_reasons(cast) -> dict[int, str]:  # type: ignore[no-untyped-def]
    follows = inbox_follows(member(cast.ben, cast.vision))
    return followed_reasons(follows, Paper.objects.all())


def _alert_reasons() -> dict[int, str]:
    return dict(Alert.objects.values_list("paper_id", "reason"))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"lab": "Google DeepMind"}, "you follow Google DeepMind"),
        (
            {"authors": TWO, "affiliations": [["Google DeepMind"], ["Meta AI"]]},
            "you follow Google DeepMind, by arXiv affiliation",
        ),
        # The author table: the first author's lab breaks the tie.
        ({"authors": TWO}, "you follow Google DeepMind, by author table"),
    ],
    ids=["record", "affiliation", "author-table"],
)
def test_a_followed_lab_is_matched_by_each_attribution_in_inbox_and_alerts(  # type: ignore[no-untyped-def]
    cast, frozen, fields: dict[str, object], reason: str
) -> None:
    _table(Oriol_Vinyals="Google DeepMind", **{"Hervé Jégou": "Meta AI"})
    _follow_lab(cast, "Google DeepMind")
    frozen.shift(60)
    paper = _new_paper(**fields)
    other = _new_paper(authors=["Nobody Known"])

    assert _inbox_reasons(cast) == {paper.pk: reason}
    assert alerts_create([paper.pk, other.pk]) == 1
    assert _alert_reasons() == {paper.pk: reason}


def test_lab_names_with_accents_match_on_every_database(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    # SQLite keeps JSON text with non-ASCII letters escaped: the narrowing must find both.
    _table(**{"Hervé Jégou": "Université de Montréal"})
    _follow_lab(cast, "Université de Montréal")
    frozen.shift(60)
    affiliated = _new_paper(authors=["Émilie Roy"], affiliations=[["Université de Montréal"]])
    by_table = _new_paper(authors=["Hervé Jégou"])
    assert _inbox_reasons(cast) == {
        affiliated.pk: "you follow Université de Montréal, by arXiv affiliation",
        by_table.pk: "you follow Université de Montréal, by author table",
    }


def test_near_misses_of_a_followed_lab_do_not_match(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    _table(Grace_Hopper="OpenAI", Ken_Ito="Meta AI", Ann_Lee="Meta AI")
    AuthorLab.objects.create(author="Zoe Unconfirmed", lab="Meta", confirmed=False)
    _follow_lab(cast, "Meta")
    frozen.shift(60)
    misses = [
        # The lab's name inside another word, and inside another lab's name.
        _new_paper(authors=["A B"], affiliations=[["Metaculus"]]),
        _new_paper(authors=["A B"], affiliations=[["Meta AI"]]),
        # Another lab, by the author table; a suggestion no curator confirmed.
        _new_paper(authors=["Grace Hopper"]),
        _new_paper(authors=["Ken Ito", "Ann Lee"]),
        _new_paper(authors=["Zoe Unconfirmed"]),
        # Most of the authors give another affiliation.
        _new_paper(authors=["A", "B", "C"], affiliations=[["Meta"], ["OpenAI"], ["OpenAI"]]),
        # The record's own lab comes before the affiliations.
        _new_paper(lab="Qwen", authors=["A"], affiliations=[["Meta"]]),
    ]
    hit = _new_paper(authors=["A", "B"], affiliations=[["META"], ["Other"]])
    assert _inbox_reasons(cast) == {hit.pk: "you follow Meta, by arXiv affiliation"}
    assert alerts_create([hit.pk, *(p.pk for p in misses)]) == 1
    assert list(_alert_reasons()) == [hit.pk]


def test_a_lab_matched_by_affiliation_rises_to_the_top_of_the_inbox_page(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    for n in range(4):
        paper_in(None, days_ago=n / 10, title=f"Paper {n}")
    followed = paper_in(
        None,
        days_ago=3,
        title="Old but from the lab",
        authors=["Oriol Vinyals"],
        affiliations=[["Google DeepMind"]],
    )
    _follow_lab(cast, "Google DeepMind")
    page = client_for(cast.ben).get("/inbox/").content.decode()
    rows = re.findall(r'<article class="paper-row" id="paper-(\d+)"', page)
    assert int(rows[0]) == followed.pk
    top = page.split(f'id="paper-{followed.pk}"', 1)[1].split("</article>", 1)[0]
    assert "you follow Google DeepMind, by arXiv affiliation" in top


@pytest.mark.parametrize("papers", [1, 12])
def test_matching_a_lab_follow_spends_a_fixed_number_of_queries(  # type: ignore[no-untyped-def]
    cast, frozen, django_assert_num_queries, papers: int
) -> None:
    _table(Oriol_Vinyals="Google DeepMind")
    _follow_lab(cast, "Google DeepMind")
    follows = inbox_follows(member(cast.ben, cast.vision))
    frozen.shift(60)
    for n in range(papers):
        _new_paper(lab="Google DeepMind" if n % 3 == 0 else "")
        _new_paper(authors=["A"], affiliations=[["Google DeepMind"]])
        _new_paper(authors=["Oriol Vinyals"])
    # The followed lab's table authors, the matches' rows, the table rows of their authors.
    with django_assert_num_queries(3):
        reasons = followed_reasons(follows, Paper.objects.all())
    # Each round's paper by affiliation and by the table; its record's lab one round in three.
    assert len(reasons) == 2 * papers + len(range(0, papers, 3))
    # What the alerts' matching adds to reading the papers: the table rows of their authors.
    rows = list(Paper.objects.values_list(*ROW_FIELDS))
    with django_assert_num_queries(1):
        facts = paper_facts(rows, Paper.objects.all(), follows)
    assert sum(f.lab == "Google DeepMind" for f in facts.values()) == len(reasons)
