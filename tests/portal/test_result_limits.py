"""The portal's result form: compute past what the database can hold is a form error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import client_for
from tests.portal.helpers import reproduction_underway
from tracker.reproductions.models import Claim, ResultLog


def test_compute_that_would_overflow_the_total_is_an_error_and_later_results_still_log(
    cast,  # type: ignore[no-untyped-def]
) -> None:
    repro = reproduction_underway(cast, compute_spent_gpu_hours=Decimal("3"))
    claim = Claim.objects.get(paper=repro.paper)
    ben = client_for(cast.ben)
    url = f"/reproductions/{repro.pk}/results/"
    response = ben.post(
        url, {"claim": claim.pk, "reproduced_value": "70", "compute_gpu_hours": "99999999.99"}
    )
    assert response.status_code == 302
    page = ben.get(f"/reproductions/{repro.pk}/").content.decode()
    assert "GPU-hours" in page
    repro.refresh_from_db()
    assert repro.compute_spent_gpu_hours == Decimal("3") and not ResultLog.objects.exists()
    ben.post(url, {"claim": claim.pk, "reproduced_value": "70", "compute_gpu_hours": "2"})
    repro.refresh_from_db()
    assert repro.compute_spent_gpu_hours == Decimal("5") and ResultLog.objects.count() == 1


@pytest.mark.parametrize("field", ["reproduced_value", "spread"])
def test_a_number_too_large_for_a_float_is_a_form_error(cast, field) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    claim = Claim.objects.get(paper=repro.paper)
    data = {"claim": claim.pk, "reproduced_value": "70", "spread": "0.1"}
    data[field] = "1" + "0" * 400
    response = client_for(cast.ben).post(f"/reproductions/{repro.pk}/results/", data)
    assert response.status_code == 302
    assert not ResultLog.objects.exists()
