"""A claim's provenance and protocol, each result's protocol match, and verdicts that
respect the spread of seeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import ClaimFactory, ResultLogFactory
from tests.portal.helpers import reproduction_underway
from tracker.digests.emails import digest_render
from tracker.digests.selectors import digest_for
from tracker.reproductions.models import Claim, Status
from tracker.reproductions.services import claim_create, result_log
from tracker.reproductions.stats import team_stats
from tracker.reproductions.verdicts import (
    INCONCLUSIVE,
    Match,
    claim_judgement,
    pooled_estimate,
    protocol_match,
)
from tracker.teams.models import Membership
from tracker.teams.services import api_token_create


def _result(claim: Claim, value: float, **fields: object):  # type: ignore[no-untyped-def]
    return ResultLogFactory.build(claim=claim, reproduced_value=value, **fields)


def test_protocol_match_is_exact_deviated_naming_fields_or_unknown(db: None) -> None:
    claim = ClaimFactory(shots=0, harness="lm-eval-harness", decoding="greedy")
    exact = _result(claim, 70, shots=0, harness="LM-Eval-Harness", decoding="greedy")
    deviated = _result(claim, 70, shots=5, harness="lm-eval-harness", decoding="greedy")
    partial = _result(claim, 70, shots=0)
    assert protocol_match(claim, exact).kind == Match.EXACT
    match = protocol_match(claim, deviated)
    assert match.kind == Match.DEVIATED and match.summary == "shots 5 vs 0"
    assert match.label == "deviated: shots 5 vs 0"
    assert protocol_match(claim, partial).kind == Match.UNKNOWN
    # Another dataset than the claim's is a deviation too.
    other = _result(claim, 70, shots=0, harness="lm-eval-harness", decoding="greedy", dataset="X")
    assert protocol_match(claim, other).summary == "dataset X vs MMLU"
    # A claim that states no protocol cannot be matched.
    assert protocol_match(ClaimFactory(), _result(claim, 70, shots=0)).kind == Match.UNKNOWN


def test_not_reproduced_only_on_an_exact_protocol(db: None) -> None:
    claim = ClaimFactory(claimed_value=71.3, tolerance=0.5, shots=0, harness="lm-eval")
    exact = claim_judgement(claim, [_result(claim, 60.0, shots=0, harness="lm-eval")])
    assert exact is not None and exact.status == Status.NOT_REPRODUCED
    deviated = claim_judgement(claim, [_result(claim, 60.0, shots=5, harness="lm-eval")])
    assert deviated is not None and deviated.status == INCONCLUSIVE
    assert deviated.label == "Inconclusive: protocol differs (shots 5 vs 0)"
    unstated = claim_judgement(claim, [_result(claim, 60.0)])
    assert unstated is not None and unstated.status == INCONCLUSIVE
    # Meeting the claim needs no protocol: a reproduction is a reproduction.
    met = claim_judgement(claim, [_result(claim, 71.0, shots=5)])
    assert met is not None and met.status == Status.REPRODUCED


def test_seeds_make_a_mean_a_spread_and_n(db: None) -> None:
    claim = ClaimFactory()
    one = pooled_estimate([_result(claim, 58.9, seeds=[0, 1, 2], spread=1.2)])
    assert one is not None and (one.mean, one.std, one.n) == (58.9, 1.2, 3)
    # Two results of 2 and 1 seeds: the runs pooled as one sample would give.
    two = pooled_estimate(
        [_result(claim, 10.0, seeds=[0, 1], spread=2**0.5), _result(claim, 13.0, seeds=[2])]
    )
    # Runs 9, 11 and 13: mean 11, sample std 2.
    assert two is not None and two.n == 3
    assert two.mean == pytest.approx(11.0) and two.std == pytest.approx(2.0)


def test_spread_aware_verdict_reproduced_inconclusive_or_not(db: None) -> None:
    claim = ClaimFactory(claimed_value=60.0, tolerance=0.5, shots=0)
    # Mean within tolerance: reproduced, whatever the spread.
    held = claim_judgement(claim, [_result(claim, 59.6, seeds=[0, 1, 2], spread=3.0, shots=0)])
    assert held is not None and held.status == Status.REPRODUCED
    # Mean 1.1 below, but the 95% interval (t=4.30, +-3.0) reaches the tolerance.
    wide = claim_judgement(claim, [_result(claim, 58.9, seeds=[0, 1, 2], spread=1.2, shots=0)])
    assert wide is not None and wide.status == INCONCLUSIVE
    assert wide.half_width == pytest.approx(4.303 * 1.2 / 3**0.5, rel=1e-3)
    assert wide.seeds_needed is not None and wide.seeds_needed > 3
    assert f"about {wide.seeds_needed} seeds would decide" in wide.label
    # That many seeds with the same spread would decide it.
    decided = claim_judgement(
        claim,
        [_result(claim, 58.9, seeds=list(range(wide.seeds_needed)), spread=1.2, shots=0)],
    )
    assert decided is not None and decided.status == Status.NOT_REPRODUCED
    # A single run without a spread is taken at its value.
    point = claim_judgement(claim, [_result(claim, 58.9, shots=0)])
    assert point is not None and point.status == Status.NOT_REPRODUCED


def test_claims_and_results_say_which_version_and_protocol(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    repro.paper.version = 2
    repro.paper.save(update_fields=["version"])
    ben = Membership.objects.get(user=cast.ben, team=cast.vision)
    claim = claim_create(
        membership=ben,
        paper=repro.paper,
        metric="accuracy",
        dataset="GSM8K",
        claimed_value=80.0,
        location="table",
        location_ref="Table 2",
        quote="reaches 80.0% on GSM8K",
        split="test",
        shots=8,
        harness="lm-eval-harness",
        harness_version="0.4.2",
    )
    assert claim.paper_version == 2 and claim.location_ref == "Table 2"
    result = result_log(
        reproduction=repro, membership=ben, claim=claim, reproduced_value=79.0, shots=8
    )
    assert result.paper_version == 2 and result.shots == 8
    with pytest.raises(TypeError):
        result_log(reproduction=repro, membership=ben, claim=claim, reproduced_value=1, foo="x")


def test_the_page_shows_mean_spread_and_seeds_not_n_equals_one(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    claim = Claim.objects.get(paper=repro.paper)
    Claim.objects.filter(pk=claim.pk).update(claimed_value=60.0, shots=0, location="abstract")
    client = client_for(cast.ben)
    response = client.post(
        f"/reproductions/{repro.pk}/results/",
        {
            "claim": claim.pk,
            "reproduced_value": "58.9",
            "seeds": "0, 1, 2",
            "spread": "1.2",
            "shots": "5",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/reproductions/{repro.pk}/").content.decode()
    assert "58.9 ± 1.2 (n=3)" in page and "n=1" not in page
    assert "Inconclusive: protocol differs (shots 5 vs 0)" not in page  # the spread decides first
    assert "Inconclusive: the 95% interval reaches the tolerance" in page
    assert "deviated: shots 5 vs 0" in page
    # One unit: the gap reads the same on the page and in the stats (percent of the claim).
    assert "\u22121.8%" in page
    stats = client.get("/stats/").content.decode()
    assert "\u22121.8%" in stats and "claims inconclusive" in stats
    assert team_stats(cast.vision).by_lab[0].inconclusive == 1


def test_the_api_takes_a_protocol_and_answers_the_spread_aware_verdict(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    claim = Claim.objects.get(paper=repro.paper)
    Claim.objects.filter(pk=claim.pk).update(claimed_value=60.0, shots=0)
    _, token = api_token_create(user=cast.ben, team=cast.vision, name="cluster")
    client = client_for(cast.ben)
    response = client.post(
        f"/api/reproductions/{repro.pk}/results/",
        json.dumps(
            {
                "claim": claim.pk,
                "reproduced_value": 50.0,
                "seeds": [0, 1, 2],
                "spread": 0.5,
                "shots": 5,
                "harness": "lm-eval",
            }
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.content
    out = response.json()["reproduction"]["claims"][0]
    assert out["verdict"] == "inconclusive"
    assert out["verdict_reason"] == "protocol differs (shots 5 vs 0)"
    assert (out["mean"], out["std"], out["n"]) == (50.0, 0.5, 3)
    assert out["gap_pct"] == pytest.approx(100 * 10 / 60)
    match = out["result_list"][0]["protocol_match"]
    assert match == {
        "match": "deviated",
        "differences": [{"field": "shots", "result": "5", "claim": "0"}],
    }
    assert response.json()["reproduction"]["outcome_from_claims"] is None
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert "shots" in schema["ResultIn"]["properties"]
    assert "inconclusive" in json.dumps(schema["ClaimOut"]["properties"]["verdict"])


def test_a_claim_without_a_protocol_is_never_counted_not_reproduced(cast) -> None:  # type: ignore[no-untyped-def]
    """A clear miss (three seeds, tight spread, far off) of a claim that states no protocol
    is inconclusive wherever verdicts are counted: the claim's own verdict, the suggested
    outcome, stats by lab, topic and category, the API and the digest."""
    with time_machine.travel(datetime(2026, 11, 30, 8, 0, tzinfo=UTC)):
        repro = reproduction_underway(cast, paper__lab="")
        claim = Claim.objects.get(paper=repro.paper)
        assert claim.shots is None and not claim.harness  # the factory's claim: no protocol
        result = _result(claim, 40.0, seeds=[0, 1, 2], spread=0.1, shots=5)
        result.reproduction = repro
        result.save()
        judgement = claim_judgement(claim, [result])
        assert judgement is not None and judgement.status == INCONCLUSIVE
        assert judgement.label == "Inconclusive: protocol not stated for the claim"
        # The same miss against a stated, matching protocol decides it.
        Claim.objects.filter(pk=claim.pk).update(shots=5)
        claim.refresh_from_db()
        assert claim_judgement(claim, [result]).status == Status.NOT_REPRODUCED  # type: ignore[union-attr]
        Claim.objects.filter(pk=claim.pk).update(shots=None)

        stats = team_stats(cast.vision)
        assert [c.verdict for c in stats.claims] == [INCONCLUSIVE] and stats.inconclusive == 1
        for groups in (stats.by_lab, stats.by_topic, stats.by_category):
            assert [(g.tested, g.reproduced, g.inconclusive) for g in groups] == [(0, 0, 1)]

        client = client_for(cast.ben)
        page = client.get(f"/reproductions/{repro.pk}/").content.decode()
        assert "Inconclusive: protocol not stated for the claim" in page

        _, token = api_token_create(user=cast.ben, team=cast.vision, name="cluster")
        api = client.get(
            f"/api/reproductions/{repro.pk}/", headers={"Authorization": f"Bearer {token}"}
        ).json()
        out = api["claims"][0]
        assert out["verdict"] == "inconclusive" and api["outcome_from_claims"] is None
        assert out["verdict_reason"] == "protocol not stated for the claim"

        # Finished by hand as not reproduced: the digest still shows the claim as undecided.
        repro.status = Status.NOT_REPRODUCED
        repro.finished_at = timezone.now() - timedelta(days=1)
        repro.save(update_fields=["status", "finished_at"])
        (finished,) = digest_for(cast.ben, timezone.now()).teams[0].finished
        (row,) = finished.claims
        assert row.inconclusive and not row.failed
        text = digest_render(digest_for(cast.ben, timezone.now()), "UTC").text
        assert "inconclusive: protocol not stated for the claim" in text
