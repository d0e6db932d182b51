"""The `among` lookup (tracker.core.db.Among): a field is one of many values, ids or
names, as one array on PostgreSQL and as `in` elsewhere."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PaperFactory, RatingFactory
from tracker.papers.models import AuthorLab, Paper
from tracker.triage.models import Rating

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.mark.parametrize(
    "ids",
    [[], [1], [3, 1, 3], [2, 2**40], range(1, 4)],
    ids=["none", "one", "repeated", "past 32 bits", "a range"],
)
def test_the_rows_kept_are_those_whose_id_is_among_the_ids_given(ids) -> None:  # type: ignore[no-untyped-def]
    papers = [PaperFactory() for _ in range(3)]
    # 1-3 name the papers made here, any other number an id no paper has.
    given = [papers[pk - 1].pk if pk <= 3 else pk for pk in ids]
    with CaptureQueriesContext(connection) as queries:
        kept = sorted(Paper.objects.filter(pk__among=iter(given)).values_list("pk", flat=True))
    assert kept == sorted({pk for pk in given if pk in {p.pk for p in papers}})
    if not given:
        # As `in`: no ids, no query.
        assert not queries.captured_queries
    elif ON_POSTGRESQL:
        # One array parameter, whatever the number of ids.
        assert "= ANY(" in queries[0]["sql"] and "::bigint[]" in queries[0]["sql"]


def test_a_foreign_key_is_among_ids_and_a_subquery_is_asked_as_in() -> None:
    kept, other = RatingFactory(), RatingFactory()
    assert list(Rating.objects.filter(paper_id__among=[kept.paper_id])) == [kept]
    assert list(Rating.objects.filter(paper__among=[other.paper_id])) == [other]
    newest = Paper.objects.filter(pk=other.paper_id).values("pk")
    assert list(Rating.objects.filter(paper_id__among=newest)) == [other]


def test_ids_that_are_not_integers_are_refused() -> None:
    with pytest.raises(ValueError):
        Paper.objects.filter(pk__among=["1; DROP TABLE papers_paper"])


def test_strings_are_among_strings_written_as_any_name_is() -> None:
    """Quotes, commas, braces, backslashes and accents: one parameter, never part of the
    query's text."""
    names = ["O'Brien", "Smith, J.", "{Anon}", "back\\slash", "Zoë Ø", 'say "hi"', "x') OR 1=1 --"]
    for name in names:
        AuthorLab.objects.create(author=name, lab="Lab", confirmed=True)
    AuthorLab.objects.create(author="Someone else", lab="Lab", confirmed=True)
    with CaptureQueriesContext(connection) as queries:
        found = set(AuthorLab.objects.filter(author__among=names).values_list("author", flat=True))
    assert found == set(names)
    if ON_POSTGRESQL:
        assert "::text[]" in queries[0]["sql"]
    assert not AuthorLab.objects.filter(author__among=["nobody"]).exists()
    # None is no name, as with `in`: not the text "None".
    AuthorLab.objects.create(author="None", lab="Lab", confirmed=True)
    assert not AuthorLab.objects.filter(author__among=[None]).exists()
    assert list(AuthorLab.objects.filter(author__among=[None, "O'Brien"])) == [
        AuthorLab.objects.get(author="O'Brien")
    ]
    assert list(Paper.objects.filter(pk__among=[None])) == []
