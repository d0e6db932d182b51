"""What a follow matches and how a webhook body is signed: pure, no database."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import follows as rules
from pipeline.follows import Follow, PaperFacts, follow_matches, signature, signature_valid


def paper(**fields: object) -> PaperFacts:
    base: dict[str, object] = {"title": "A title", "abstract": "An abstract."}
    return PaperFacts(**(base | fields))  # type: ignore[arg-type]


def follow(kind: str, value: str, vector: np.ndarray | None = None) -> Follow:
    return Follow(key=1, kind=kind, value=rules.normalize(kind, value), vector=vector)


@pytest.mark.parametrize("written", ["Yann LeCun", "yann  lecun", "YANN LECUN", " Yann LeCun "])
def test_an_author_is_one_follow_however_the_name_is_written(written: str) -> None:
    assert follow_matches(follow(rules.AUTHOR, written), paper(authors=("Yann LeCun",)))


def test_author_names_match_without_accents_or_initials_dots() -> None:
    assert follow_matches(follow(rules.AUTHOR, "Andre Martins"), paper(authors=("André Martins",)))
    assert follow_matches(follow(rules.AUTHOR, "J. Smith"), paper(authors=("J Smith",)))


def test_an_author_is_matched_by_the_whole_name_not_a_part() -> None:
    assert not follow_matches(follow(rules.AUTHOR, "Yann"), paper(authors=("Yann LeCun",)))
    assert not follow_matches(follow(rules.AUTHOR, "Yann LeCun"), paper(authors=()))


def test_a_keyword_matches_whole_words_in_title_or_abstract() -> None:
    rag = follow(rules.KEYWORD, "RAG")
    assert follow_matches(rag, paper(abstract="We study RAG pipelines."))
    assert not follow_matches(rag, paper(abstract="A fragment of storage."))
    phrase = follow(rules.KEYWORD, "speculative decoding")
    assert follow_matches(phrase, paper(title="Faster speculative\ndecoding"))
    assert not follow_matches(phrase, paper(title="Speculative sampling and decoding"))


def test_a_saved_search_needs_every_word_and_keeps_quoted_phrases_whole() -> None:
    search = follow(rules.SEARCH, 'hallucination "vision-language" models')
    assert follow_matches(
        search, paper(title="Less hallucination", abstract="in vision-language models")
    )
    assert not follow_matches(search, paper(title="Less hallucination in language models"))
    assert rules.search_terms('"  " -- .') == []
    assert not follow_matches(follow(rules.SEARCH, '"  "'), paper())


def test_labs_sources_and_topics_match_their_own_ids_only() -> None:
    facts = paper(lab="Google DeepMind", source_ids=frozenset({"3"}), topic_ids=frozenset({"7"}))
    assert follow_matches(follow(rules.LAB, "google deepmind"), facts)
    assert not follow_matches(follow(rules.LAB, "DeepMind"), facts)
    assert follow_matches(follow(rules.SOURCE, "3"), facts)
    assert not follow_matches(follow(rules.SOURCE, "30"), facts)
    assert follow_matches(follow(rules.TOPIC, "7"), facts)
    assert not follow_matches(follow(rules.TOPIC, "8"), facts)
    assert not follow_matches(follow(rules.LAB, "x"), paper(lab=""))


def test_a_seed_paper_matches_close_vectors_never_itself_nor_another_models() -> None:
    seed = np.array([1.0, 0.0, 0.0], dtype="<f4")
    near = np.array([0.8, 0.6, 0.0], dtype="<f4")
    far = np.array([0.0, 1.0, 0.0], dtype="<f4")
    more = Follow(key=1, kind=rules.PAPER, value="5", vector=seed)
    assert follow_matches(more, paper(vector=near, paper_id="6"))
    assert not follow_matches(more, paper(vector=far, paper_id="6"))
    assert not follow_matches(more, paper(vector=seed, paper_id="5"))
    assert not follow_matches(more, paper(vector=np.ones(4, dtype="<f4") / 2, paper_id="6"))
    assert not follow_matches(more, paper(vector=None, paper_id="6"))


def test_a_signature_verifies_and_any_change_breaks_it() -> None:
    body = b'{"text":"hi"}'
    header = signature("s3cret", 1_765_000_000, body)
    assert header.startswith("t=1765000000,v1=")
    assert signature_valid("s3cret", header, body, now=1_765_000_010)
    assert not signature_valid("other", header, body, now=1_765_000_010)
    assert not signature_valid("s3cret", header, body + b" ", now=1_765_000_010)
    forged_time = header.replace("t=1765000000", "t=1765000005")
    assert not signature_valid("s3cret", forged_time, body, now=1_765_000_010)


@pytest.mark.parametrize("header", ["", "t=x,v1=ab", "v1=ab", "garbage"])
def test_a_malformed_signature_header_is_refused(header: str) -> None:
    assert not signature_valid("s3cret", header, b"{}", now=0)


def test_an_old_signature_is_refused_as_a_replay() -> None:
    header = signature("s3cret", 1_000, b"{}")
    assert signature_valid("s3cret", header, b"{}", now=1_000 + 299)
    assert not signature_valid("s3cret", header, b"{}", now=1_000 + 301)
