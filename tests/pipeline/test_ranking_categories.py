"""The ranking's categories score, on small made-up papers (no database).

A reader of a field follows its arXiv category, cross-listings included, which the words
of a paper need not say; a reader whose taste is about words gains nothing from the
categories and loses nothing by them; a paper without categories (a lab's report) is
ranked as it was.
"""

from __future__ import annotations

import numpy as np

from pipeline.ranking import MemberModel, PaperDoc, PaperSpace, Signals

# Words every paper draws from alike: they say nothing of a paper's category.
COMMON = ["model", "data", "learning", "method", "results", "training", "network", "task"]
ROBOT = ["robot grasping", "manipulation policy", "robot arm", "dexterous hands"]
SPEECH = ["speech recognition", "spoken language", "audio tokens", "speaker voice"]


def _category_space(n: int = 120, with_categories: bool = True) -> tuple[PaperSpace, list[str]]:
    """`n` papers of the same ordinary words and random vectors; a third are in cs.RO (as
    primary or cross-listed), the rest in cs.CV or cs.CL. Returns the space and the cs.RO
    papers' keys."""
    rng = np.random.default_rng(5)
    docs: list[PaperDoc] = []
    robotics: list[str] = []
    for i in range(n):
        words = rng.choice(COMMON, size=6)
        other = "cs.CV" if i % 2 else "cs.CL"
        if i % 3 == 0:
            categories: tuple[str, ...] = ("cs.RO", other) if i % 6 == 0 else (other, "cs.RO")
            robotics.append(f"p{i}")
        else:
            categories = (other, "cs.LG")
        docs.append(
            PaperDoc(
                key=f"p{i}",
                title=f"A {words[0]} {words[1]} study {i}",
                abstract=" ".join(words) + ".",
                authors=(f"Author {i % 17}",),
                categories=categories if with_categories else (),
            )
        )
    return PaperSpace(docs, rng.normal(size=(n, 16))), robotics


def test_a_member_who_rates_a_category_high_gets_its_unrated_papers_first() -> None:
    space, robotics = _category_space()
    rated = [f"p{i}" for i in range(60)]
    ratings = {key: 5 if key in robotics else 1 for key in rated}
    unrated = [f"p{i}" for i in range(60, 120)]
    model = MemberModel(space, Signals(ratings=ratings))
    assert model.weights["categories"] > max(
        weight for name, weight in model.weights.items() if name != "categories"
    )
    ranked = [r.key for r in model.rank(unrated)]
    wanted = [key for key in unrated if key in robotics]
    assert set(ranked[: len(wanted)]) == set(wanted)
    # The primary category counts more than a cross-listing.
    primary = {f"p{i}" for i in range(60, 120, 6)}
    assert set(ranked[: len(primary)]) == primary
    # Without categories the same ratings find nothing to go by.
    plain, _ = _category_space(with_categories=False)
    blind = [r.key for r in MemberModel(plain, Signals(ratings=ratings)).rank(unrated)]
    assert len(set(blind[: len(wanted)]) & set(wanted)) < len(wanted) * 0.7


def _field_space(with_categories: bool) -> PaperSpace:
    """Robot and speech papers, told apart by their words and vectors; their categories
    are drawn at random, unrelated to the field."""
    rng = np.random.default_rng(8)
    docs: list[PaperDoc] = []
    vectors: list[np.ndarray] = []
    for i in range(120):
        field, phrases = ("robot", ROBOT) if i % 2 == 0 else ("speech", SPEECH)
        a, b = phrases[i % 4], phrases[(i // 2 + 1) % 4]
        categories = tuple(rng.choice(["cs.RO", "cs.CL", "cs.CV", "cs.LG"], 2, replace=False))
        docs.append(
            PaperDoc(
                key=f"{field}-{i}",
                title=f"{a.title()} with {b}, part {i}",
                abstract=f"We study {a} and {b} in {rng.choice(COMMON)}.",
                authors=(f"Author {i % 13}",),
                categories=categories if with_categories else (),
            )
        )
        direction = np.zeros(8)
        direction[0 if field == "robot" else 1] = 1.0
        vectors.append(direction + rng.normal(0, 0.3, size=8))
    return PaperSpace(docs, np.array(vectors))


def test_a_member_whose_ratings_do_not_follow_categories_is_ranked_as_without_them() -> None:
    keys = [doc.key for doc in _field_space(False).docs]
    rated, unrated = keys[:50], keys[50:]
    ratings = {key: 5 if key.startswith("robot") else 1 for key in rated}
    with_categories = MemberModel(_field_space(True), Signals(ratings=ratings))
    without = MemberModel(_field_space(False), Signals(ratings=ratings))
    # The categories rank the held-out ratings no better than chance: they weigh nothing
    # beside the scores that do.
    assert with_categories.weights["categories"] < 0.02 * max(
        weight for name, weight in with_categories.weights.items() if name != "categories"
    )
    ranked = [r.key for r in with_categories.rank(unrated)]
    before = {r.key: n for n, r in enumerate(without.rank(unrated))}
    robots = sum(key.startswith("robot") for key in unrated)
    assert all(key.startswith("robot") for key in ranked[:robots])
    # At most a near tie changes places.
    assert max(abs(n - before[key]) for n, key in enumerate(ranked)) <= 2


def test_a_paper_without_categories_is_neither_lifted_nor_lowered_by_them() -> None:
    space, robotics = _category_space()
    # Two lab reports without categories join the space.
    reports = [PaperDoc(key=f"lab-{n}", title=f"A model report {n}") for n in range(2)]
    space = space.extended(reports, np.random.default_rng(1).normal(size=(2, 16)))
    ratings = {f"p{i}": 5 if f"p{i}" in robotics else 1 for i in range(60)}
    model = MemberModel(space, Signals(ratings=ratings))
    rows = space.rows([f"p{i}" for i in range(60, 120)] + ["lab-0", "lab-1"])
    scores = model.components(rows)["categories"]
    assert np.allclose(scores[-2:], scores[:-2].mean())


def test_a_space_without_categories_has_no_categories_score() -> None:
    space, _ = _category_space(with_categories=False)
    assert space.x_categories is None
    model = MemberModel(space, Signals(ratings={f"p{i}": 5 - i % 5 for i in range(30)}))
    assert "categories" not in model.components(space.rows(["p40", "p41"]))


def test_an_extended_space_knows_the_categories_of_its_added_papers() -> None:
    space, robotics = _category_space()
    added = [
        PaperDoc(key="new-ro", title="A new one", categories=("cs.RO",)),
        PaperDoc(key="new-cv", title="Another new one", categories=("cs.CV", "q-bio.NC")),
    ]
    space = space.extended(added, np.zeros((2, 16)))
    ratings = {f"p{i}": 5 if f"p{i}" in robotics else 1 for i in range(60)}
    ranked = MemberModel(space, Signals(ratings=ratings)).rank(["new-cv", "new-ro"])
    assert [r.key for r in ranked] == ["new-ro", "new-cv"]


def test_a_paper_its_category_lifted_says_which_category() -> None:
    space, robotics = _category_space()
    ratings = {f"p{i}": 5 if f"p{i}" in robotics else 1 for i in range(60)}
    unrated = [f"p{i}" for i in range(60, 120)]
    ranked = MemberModel(space, Signals(ratings=ratings)).rank(unrated, explain=5)
    assert [r.reason for r in ranked[:5]] == ["in cs.RO, a category you rate highly"] * 5
    # A member whose ratings do not follow the categories is never told about them.
    words_only = {f"p{i}": 5 if i % 5 == 0 else 1 for i in range(60)}
    ranked = MemberModel(space, Signals(ratings=words_only)).rank(unrated)
    assert not any("category" in r.reason for r in ranked)
