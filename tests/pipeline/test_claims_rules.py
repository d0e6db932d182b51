"""The deterministic extractor on small handwritten texts."""

from __future__ import annotations

import pytest

from pipeline.claims import Kind, extract_claims


def _only(text: str):  # type: ignore[no-untyped-def]
    claims = extract_claims(text)
    assert len(claims) == 1, claims
    return claims[0]


def test_absolute_score_with_metric_and_dataset() -> None:
    text = "We propose Foo. Foo achieves 84.2% top-1 accuracy on ImageNet-1K."
    claim = _only(text)
    assert (claim.value, claim.unit, claim.kind, claim.direction) == (
        84.2,
        "%",
        Kind.ABSOLUTE,
        "higher",
    )
    assert claim.metric == "top-1 accuracy"
    assert claim.dataset == "ImageNet-1K"
    assert claim.quote == "Foo achieves 84.2% top-1 accuracy on ImageNet-1K."
    assert claim.quote in text


def test_improvement_by_points_names_the_metric_before_by() -> None:
    claim = _only("Our method improves BLEU by 2.1 points on WMT over the strongest baseline.")
    assert (claim.value, claim.unit, claim.kind) == (2.1, "points", Kind.IMPROVEMENT)
    assert claim.metric == "BLEU"
    assert claim.dataset == "WMT"


def test_ratio_faster_is_a_speedup() -> None:
    claim = _only("In experiments, the kernel runs 3.2x faster than FlashAttention.")
    assert (claim.value, claim.unit, claim.kind, claim.metric) == (3.2, "x", Kind.RATIO, "speedup")


@pytest.mark.parametrize(
    "text", ["It reduces latency by 35% while keeping quality.", "It cuts latency by 35%."]
)
def test_reduction_of_a_cost_metric_is_lower_is_better(text: str) -> None:
    claim = _only(text)
    assert (claim.value, claim.kind, claim.direction, claim.metric) == (
        35.0,
        Kind.IMPROVEMENT,
        "lower",
        "latency",
    )


def test_plain_score_after_a_metric_is_a_claim_but_versions_are_not() -> None:
    claims = extract_claims(
        "Built on Qwen2.5 and GPT-4.1, our model obtains an F1 score of 0.91 and an FID of 7.5."
    )
    assert [(c.value, c.metric) for c in claims] == [(0.91, "F1 score"), (7.5, "FID")]
    assert claims[1].direction == "lower"


@pytest.mark.parametrize(
    "text",
    [
        "We train a 7B model on 2T tokens from 12 datasets collected in 2024.",
        "A recent survey revealed that nearly 30% of students use chatbots.",
        "LoRA updates less than 1.5% of model parameters.",
        "The corpus has 1,063 dialogues and 21 entity types.",
        "We render 2D and 3D views at 4 x 16 x 16 compression.",
    ],
)
def test_setup_and_background_numbers_are_not_claims(text: str) -> None:
    assert extract_claims(text) == []


def test_numbers_for_other_work_are_left_out() -> None:
    claims = extract_claims(
        "Our agent reaches 78.5% vs. 65.0% success rate, whereas the previous method "
        "recorded an accuracy of 0.41."
    )
    assert [c.value for c in claims] == [78.5]


def test_ranges_and_lists_share_the_last_unit() -> None:
    claims = extract_claims(
        "It delivers 1.5--2.3x speedups and gains of 17.9, 15.8, and 12.3 points in accuracy."
    )
    assert [(c.value, c.unit) for c in claims] == [
        (1.5, "x"),
        (2.3, "x"),
        (17.9, "points"),
        (15.8, "points"),
        (12.3, "points"),
    ]


def test_fractions_and_fold_words_are_ratios() -> None:
    claims = extract_claims(
        "We outperform it using just 1/3 the GFLOPs, and cut the dose four-fold."
    )
    assert {(c.value, c.unit, c.kind) for c in claims} == {
        (3.0, "x", Kind.RATIO),
        (4.0, "x", Kind.RATIO),
    }


def test_sentences_split_on_stops_but_not_on_abbreviations_or_decimals() -> None:
    text = "Results, e.g. on COCO, improve. We obtain 41.5 mAP. Next sentence has none."
    claims = extract_claims(text)
    assert [c.quote for c in claims] == ["We obtain 41.5 mAP."]


def test_a_number_said_twice_is_drafted_once_from_all_texts() -> None:
    claims = extract_claims(
        "Fast Foo: 2x faster decoding", "Foo decodes 2x faster than the baseline.", ""
    )
    assert len(claims) == 1
    assert claims[0].quote == "Fast Foo: 2x faster decoding"


def test_empty_and_missing_texts_give_nothing() -> None:
    assert extract_claims("", "   ") == []


def test_respectively_pairs_each_number_with_its_dataset_and_metric() -> None:
    claims = extract_claims(
        "On HMDB51, UCF-101, and Kinetics-400, our model achieves 67.2%, 94.1%, and 78.9% "
        "accuracy, respectively. It improves Rel and accuracy by 27% and 18%, respectively."
    )
    assert [(c.value, c.dataset) for c in claims[:3]] == [
        (67.2, "HMDB51"),
        (94.1, "UCF-101"),
        (78.9, "Kinetics-400"),
    ]
    assert [(c.value, c.metric, c.direction) for c in claims[3:]] == [
        (27.0, "Rel", "lower"),
        (18.0, "accuracy", "higher"),
    ]
