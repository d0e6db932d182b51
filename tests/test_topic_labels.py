"""Topic labels are keyphrases: contiguous 1-3-grams, chosen for diversity, with no term
made only of corpus-wide words; on the real corpus few labels hold a generic word."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import clustering as clusterer


def test_phrases_never_jump_over_a_stop_word() -> None:
    phrases = clusterer.contiguous_phrases("Aligning language models with human preference")
    assert "aligning language" in phrases and "human preference" in phrases
    assert "aligning language human" not in phrases
    assert "models" not in phrases  # a stop word of every abstract


def test_mmr_keeps_diverse_phrases_and_drops_ones_inside_a_kept_one() -> None:
    candidates = [
        ("speech recognition", 1.0),
        ("speech", 0.9),
        ("automatic speech recognition", 0.85),
        ("acoustic", 0.6),
        ("asr", 0.5),
    ]
    assert clusterer.mmr_select(candidates, 3) == ["speech recognition", "acoustic", "asr"]


def test_a_term_of_corpus_wide_words_alone_is_left_out() -> None:
    # 30 topics, each with words of its own; "deep learning" is in every paper.
    texts, labels = [], []
    for topic in range(30):
        own = f"topic{chr(97 + topic % 26)}{topic} recognition{chr(97 + topic % 26)}{topic}"
        texts += [f"deep learning for {own} of accented {own} audio{topic}"] * 10
        labels += [topic] * 10
    terms = clusterer.keyphrase_terms(texts, np.array(labels), 30)
    assert terms[0][0] == "topica0 recognitiona0"
    assert not any(t in {"deep", "learning", "deep learning"} for ts in terms for t in ts)


def test_generic_share_counts_terms_made_only_of_generic_words() -> None:
    labels = ["deep learning / cancer / x", "reinforcement learning / reward / rl", "ai / agents"]
    assert clusterer.generic_share(labels) == 2 / 3


def test_few_labels_hold_a_generic_word_on_the_real_corpus(shared_data: Path) -> None:
    """Topics taken as the primary arXiv category (no embeddings needed): keyphrase labels
    hold a generic term far less often than single-word c-TF-IDF labels."""
    from tests.corpus import read_corpus

    records = read_corpus(shared_data)
    texts = [f"{r.title}. {r.abstract}" for r in records]
    names = sorted({r.categories[0] for r in records})
    labels = np.array([names.index(r.categories[0]) for r in records])
    k = len(names)
    before = [clusterer.label_from_terms(t) for t in clusterer.ctfidf_terms(texts, labels, k)]
    after = [clusterer.label_from_terms(t) for t in clusterer.keyphrase_terms(texts, labels, k)]
    assert clusterer.generic_share(after) <= 0.05
    assert clusterer.generic_share(after) < clusterer.generic_share(before)
