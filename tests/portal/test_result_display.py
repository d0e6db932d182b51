"""A result logged with several seeds reads as one mean ± std over n = its seeds."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import ClaimFactory, ReproductionFactory, ResultLogFactory

pytestmark = pytest.mark.django_db


def test_three_seeds_logged_at_once_show_mean_std_and_n_3(cast) -> None:  # type: ignore[no-untyped-def]
    repro = ReproductionFactory(team=cast.vision, proposed_by=cast.ben)
    claim = ClaimFactory(team=cast.vision, paper=repro.paper, claimed_value=60.0)
    ResultLogFactory(
        reproduction=repro, claim=claim, reproduced_value=58.9, spread=0.4, seeds=[0, 1, 2]
    )
    page = client_for(cast.ben).get(f"/reproductions/{repro.pk}/").content.decode()
    assert "58.9 ± 0.4 (n=3)" in page


def test_results_without_seeds_count_once_each(cast) -> None:  # type: ignore[no-untyped-def]
    repro = ReproductionFactory(team=cast.vision, proposed_by=cast.ben)
    claim = ClaimFactory(team=cast.vision, paper=repro.paper, claimed_value=60.0)
    ResultLogFactory(reproduction=repro, claim=claim, reproduced_value=58.0)
    ResultLogFactory(reproduction=repro, claim=claim, reproduced_value=60.0, seeds=[7, 8])
    page = client_for(cast.ben).get(f"/reproductions/{repro.pk}/").content.decode()
    # One run without seeds and one of two seeds: three runs in all, weighed by their seeds.
    assert "59.3333" in page and "(n=3)" in page
