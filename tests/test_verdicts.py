from __future__ import annotations

from tests.factories import ClaimFactory, ResultLogFactory
from tracker.reproductions.models import Status
from tracker.reproductions.verdicts import INCONCLUSIVE, claim_verdict, outcome_from_verdicts


def test_result_within_tolerance_reproduces_the_claim(db: None) -> None:
    claim = ClaimFactory(claimed_value=71.3, tolerance=0.5, higher_is_better=True)
    assert (
        claim_verdict(claim, [ResultLogFactory.build(claim=claim, reproduced_value=70.9)])
        == Status.REPRODUCED
    )


def test_result_below_tolerance_does_not(db: None) -> None:
    claim = ClaimFactory(claimed_value=71.3, tolerance=0.5, higher_is_better=True, shots=0)
    assert (
        claim_verdict(claim, [ResultLogFactory.build(claim=claim, reproduced_value=69.0, shots=0)])
        == Status.NOT_REPRODUCED
    )


def test_a_clear_miss_of_a_claim_without_a_protocol_is_inconclusive(db: None) -> None:
    # Nothing says the run matched how the paper measured: the miss may be the protocol's.
    claim = ClaimFactory(claimed_value=71.3, tolerance=0.5, higher_is_better=True)
    assert (
        claim_verdict(claim, [ResultLogFactory.build(claim=claim, reproduced_value=40.0, shots=0)])
        == INCONCLUSIVE
    )


def test_lower_is_better_claims_fail_when_the_value_is_higher(db: None) -> None:
    claim = ClaimFactory(
        metric="perplexity",
        claimed_value=10.0,
        tolerance=0.2,
        higher_is_better=False,
        decoding="greedy",
    )
    assert (
        claim_verdict(claim, [ResultLogFactory.build(claim=claim, reproduced_value=9.0)])
        == Status.REPRODUCED
    )
    assert (
        claim_verdict(
            claim,
            [ResultLogFactory.build(claim=claim, reproduced_value=10.5, decoding="greedy")],
        )
        == Status.NOT_REPRODUCED
    )


def test_no_results_no_verdict(db: None) -> None:
    assert claim_verdict(ClaimFactory(), []) is None


def test_outcome_follows_the_claims() -> None:
    assert outcome_from_verdicts([Status.REPRODUCED, Status.REPRODUCED]) == Status.REPRODUCED
    assert (
        outcome_from_verdicts([Status.REPRODUCED, Status.NOT_REPRODUCED])
        == Status.PARTLY_REPRODUCED
    )
    assert outcome_from_verdicts([Status.NOT_REPRODUCED, None]) == Status.NOT_REPRODUCED
    assert outcome_from_verdicts([None]) is None
