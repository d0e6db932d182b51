"""Bad input on the portal's pages gets a clear 400 or a form error, never a 500, and
stores nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import Cast, client_for
from tests.factories import PaperFactory
from tracker.papers.embeddings import embed_papers
from tracker.teams.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fmt", ["", "csv", "bibtex"])
@pytest.mark.parametrize(
    "dates",
    [
        {"date_to": "9999-12-31"},
        {"date_from": "9999-12-31"},
        {"date_from": "0001-01-01"},
        {"date_to": "0001-01-01"},
        {"date_from": "2024-01-01", "date_to": "9999-12-31"},
    ],
)
def test_search_with_an_absurd_date_is_a_form_error(
    dates: dict[str, str], fmt: str, cast: Cast
) -> None:
    PaperFactory(title="Zebra stripes", abstract="zebra stripes")
    query = {"q": "zebra", **dates, **({"format": fmt} if fmt else {})}

    response = client_for(cast.ada).get(reverse("search:search"), query)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    errors = response.context["form"].errors
    assert set(errors) == {field for field, day in dates.items() if not day.startswith("2024")}
    assert "Pick a day" in response.content.decode()


def test_search_within_sane_dates_still_answers(cast: Cast) -> None:
    paper = PaperFactory(title="Zebra stripes", abstract="zebra stripes")
    embed_papers([paper.pk], owner="test")
    query = {"q": "zebra", "date_from": "1900-01-01", "date_to": "2199-12-31", "format": "csv"}
    response = client_for(cast.ada).get(reverse("search:search"), query)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize("name", ["lap\x00top", "\x00", "x" * 101, "   "])
def test_a_token_name_that_cannot_be_stored_is_refused_with_a_message(
    name: str, cast: Cast
) -> None:
    response = client_for(cast.ben).post(reverse("tokens"), {"name": name}, follow=False)
    assert response.status_code == 400
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and shown[0]
    assert "pt_" not in response.content.decode()
    assert not ApiToken.objects.exists()
