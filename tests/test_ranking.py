"""The per-member ranking and the team's prediction, on small made-up papers (no database).

Three fields with their own words and their own direction in a small embedding space:
robots, speech and proteins. Vectors are the field's direction plus a little noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.ranking import (
    WORD_MAX_DF,
    MemberModel,
    PaperDoc,
    PaperSpace,
    Signals,
    TeamPredictor,
    TeamRating,
    rank_for_member,
    team_predict,
)

FIELDS = {
    "robot": ["robot grasping", "manipulation policy", "robot arm", "dexterous hands"],
    "speech": ["speech recognition", "spoken language", "audio tokens", "speaker voice"],
    "protein": ["protein folding", "molecule docking", "protein structure", "enzyme design"],
}
PER_FIELD = 12


def _corpus(with_vectors: bool = True) -> tuple[PaperSpace, dict[str, list[str]]]:
    rng = np.random.default_rng(0)
    docs: list[PaperDoc] = []
    vectors: list[np.ndarray] = []
    keys: dict[str, list[str]] = {}
    for f, (field, phrases) in enumerate(FIELDS.items()):
        keys[field] = []
        for n in range(PER_FIELD):
            a, b = phrases[n % 4], phrases[(n + 1) % 4]
            key = f"{field}-{n}"
            keys[field].append(key)
            docs.append(
                PaperDoc(
                    key=key,
                    title=f"{a.title()} with {b} number {n}",
                    abstract=f"We study {a} and {b}. Results improve on baselines {n}.",
                    authors=(f"Author {field} {n % 3}", "Common Person"),
                    labels=frozenset({f"topic:{field}"}),
                )
            )
            direction = np.zeros(8)
            direction[f] = 1.0
            vectors.append(direction + rng.normal(0, 0.15, size=8))
    return PaperSpace(docs, np.array(vectors) if with_vectors else None), keys


def _unseen(keys: dict[str, list[str]], seen: set[str]) -> list[str]:
    return [k for field in keys.values() for k in field if k not in seen]


def _fields(ranked: list, n: int) -> set[str]:
    return {r.key.split("-")[0] for r in ranked[:n]}


@pytest.mark.parametrize("with_vectors", [True, False])
def test_high_ratings_of_one_field_bring_that_field_first(with_vectors: bool) -> None:
    space, keys = _corpus(with_vectors)
    ratings = {k: 5 for k in keys["robot"][:3]} | {k: 1 for k in keys["protein"][:3]}
    ranked = rank_for_member(space, _unseen(keys, set(ratings)), Signals(ratings=ratings))
    assert _fields(ranked, PER_FIELD - 3) == {"robot"}
    assert _fields(ranked[-6:], 6) == {"protein"}


def test_two_interests_are_both_served_not_their_average() -> None:
    space, keys = _corpus()
    ratings = {keys["robot"][0]: 5, keys["speech"][0]: 5, keys["protein"][0]: 1}
    ranked = rank_for_member(space, _unseen(keys, set(ratings)), Signals(ratings=ratings))
    top = [r.key.split("-")[0] for r in ranked[: 2 * (PER_FIELD - 1)]]
    assert sorted(set(top)) == ["robot", "speech"]
    assert ranked[-1].key.startswith("protein")


def test_interests_are_kept_apart_as_prototypes() -> None:
    space, keys = _corpus()
    ratings = {keys["robot"][0]: 5, keys["robot"][1]: 5, keys["speech"][0]: 4}
    model = MemberModel(space, Signals(ratings=ratings))
    assert model.prototypes is not None
    assert len(model.prototypes) == 2


def test_not_interested_and_skips_push_a_field_down() -> None:
    space, keys = _corpus()
    signals = Signals(
        ratings={keys["robot"][0]: 5},
        not_interested={keys["speech"][0]},
        skipped={keys["speech"][1]},
    )
    seen = {keys["robot"][0], keys["speech"][0], keys["speech"][1]}
    ranked = rank_for_member(space, _unseen(keys, seen), signals)
    assert all(r.key.startswith("speech") for r in ranked[-(PER_FIELD - 2) :])


def test_a_new_rating_changes_the_next_ranking() -> None:
    space, keys = _corpus()
    candidates = _unseen(keys, {keys["robot"][0], keys["speech"][0]})
    before = rank_for_member(space, candidates, Signals(ratings={keys["robot"][0]: 5}))
    after = rank_for_member(
        space, candidates, Signals(ratings={keys["robot"][0]: 1, keys["speech"][0]: 5})
    )
    assert before[0].key.startswith("robot")
    assert after[0].key.startswith("speech")


def test_followed_author_rises_to_the_top_and_says_why() -> None:
    space, keys = _corpus()
    signals = Signals(ratings={keys["robot"][0]: 5}, authors={"Author protein 1"})
    ranked = rank_for_member(space, _unseen(keys, {keys["robot"][0]}), signals)
    followed = {k for k in keys["protein"] if int(k.split("-")[1]) % 3 == 1}
    assert {r.key for r in ranked[: len(followed)]} == followed
    assert ranked[0].reason == "by Author protein 1, whom you follow"


def test_followed_keyword_and_topic_lift_their_papers() -> None:
    space, keys = _corpus()
    by_keyword = rank_for_member(space, _unseen(keys, set()), Signals(keywords={"enzyme design"}))
    assert "enzyme design" in by_keyword[0].reason
    assert "enzyme" in space.docs[space.row[by_keyword[0].key]].title.lower() + (
        space.docs[space.row[by_keyword[0].key]].abstract.lower()
    )
    by_topic = rank_for_member(space, _unseen(keys, set()), Signals(labels={"topic:speech"}))
    assert _fields(by_topic, PER_FIELD) == {"speech"}
    assert by_topic[0].reason == "in topic:speech, which you follow"


def test_seed_paper_starts_a_member_with_no_ratings() -> None:
    space, keys = _corpus()
    seed = keys["speech"][0]
    ranked = rank_for_member(space, _unseen(keys, {seed}), Signals(seeds={seed}))
    assert _fields(ranked, PER_FIELD - 1) == {"speech"}
    assert any("which you asked for more like" in r.reason for r in ranked[: PER_FIELD - 1])


def test_team_ratings_are_the_prior_of_a_member_with_none() -> None:
    space, keys = _corpus()
    team = [TeamRating("ada", k, 5) for k in keys["protein"][:3]] + [
        TeamRating("ben", k, 1) for k in keys["robot"][:3]
    ]
    ranked = rank_for_member(space, _unseen(keys, set()), Signals(), team)
    assert ranked[0].key.startswith("protein")
    assert ranked[-1].key.startswith("robot")


def test_own_ratings_outweigh_the_team_prior() -> None:
    space, keys = _corpus()
    team = [TeamRating("ada", k, 5) for k in keys["protein"][:2]]
    own = {k: 5 for k in keys["speech"][:4]} | {k: 1 for k in keys["protein"][2:6]}
    ranked = rank_for_member(space, _unseen(keys, set(own)), Signals(ratings=own), team)
    assert ranked[0].key.startswith("speech")


def test_reason_names_a_paper_the_member_rated_five() -> None:
    space, keys = _corpus()
    liked = keys["robot"][0]
    ranked = rank_for_member(space, _unseen(keys, {liked}), Signals(ratings={liked: 5}))
    title = space.docs[space.row[liked]].title
    assert any(r.reason == f"like “{title}”, which you rated 5" for r in ranked[:5])


def test_reason_names_the_words_that_weighed_most_without_vectors() -> None:
    space, keys = _corpus(with_vectors=False)
    ratings = {k: 5 for k in keys["robot"][:3]} | {k: 1 for k in keys["speech"][:3]}
    ranked = rank_for_member(space, _unseen(keys, set(ratings)), Signals(ratings=ratings))
    assert ranked[0].reason.startswith("words: ")
    words = ranked[0].reason.removeprefix("words: ").split(", ")
    assert 1 <= len(words) <= 3
    robot_words = {w for p in FIELDS["robot"] for w in [p, *p.split()]}
    assert set(words) & robot_words


def test_no_signal_keeps_the_given_order() -> None:
    space, keys = _corpus()
    candidates = _unseen(keys, set())
    ranked = rank_for_member(space, candidates, Signals())
    assert [r.key for r in ranked] == candidates
    assert all(r.reason == "" for r in ranked)


def test_team_prediction_follows_the_ratings_of_similar_papers() -> None:
    space, keys = _corpus()
    ratings = [TeamRating("ada", k, 5) for k in keys["robot"][:3]] + [
        TeamRating("ben", k, 2) for k in keys["speech"][:3]
    ]
    predicted = team_predict(
        space, ratings, [keys["robot"][5], keys["speech"][5], keys["robot"][0]]
    )
    assert predicted[keys["robot"][5]] > 4.0
    assert predicted[keys["speech"][5]] < 3.0
    # A rated paper: its raters' mean, pulled a little towards the team's 3.5.
    assert predicted[keys["robot"][0]] == pytest.approx((5 + 3.5) / 2)


@pytest.mark.parametrize("with_vectors", [True, False])
def test_a_kept_team_predictor_answers_each_question_as_a_fresh_one(with_vectors: bool) -> None:
    space, keys = _corpus(with_vectors)
    ratings = [TeamRating("ada", k, 5) for k in keys["robot"][:3]] + [
        TeamRating("ben", k, 1) for k in keys["speech"][:2] + keys["robot"][:1]
    ]
    predictor = TeamPredictor(space, ratings)
    for question in (keys["robot"][2:6], keys["protein"][:4] + keys["speech"][:3], []):
        assert predictor(question) == pytest.approx(team_predict(space, ratings, question))
    assert list(predictor(keys["protein"][:4])) == keys["protein"][:4]
    assert TeamPredictor(space, [])(keys["robot"][:2]) == {}


def test_team_prediction_of_a_paper_like_nothing_rated_is_the_team_mean() -> None:
    space, keys = _corpus()
    ratings = [TeamRating("ada", keys["robot"][0], 5), TeamRating("ben", keys["robot"][1], 3)]
    predicted = team_predict(space, ratings, [keys["protein"][0]])
    assert predicted[keys["protein"][0]] == pytest.approx(4.0, abs=0.1)


def test_team_prediction_without_ratings_is_empty() -> None:
    space, keys = _corpus()
    assert team_predict(space, [], keys["robot"]) == {}


def test_vectors_must_match_the_papers() -> None:
    with pytest.raises(ValueError, match="3 vectors for 1 papers"):
        PaperSpace([PaperDoc(key=1, title="A paper")], np.zeros((3, 4)))


def test_a_member_leans_on_the_score_that_ranked_their_own_ratings_best() -> None:
    # Taste by author alone, on vectors that say nothing: held-out ratings show the words
    # (authors) rank them and the embeddings do not.
    rng = np.random.default_rng(3)
    docs = [
        PaperDoc(key=n, title=f"Paper {n} on things", authors=(f"Person {n % 4}",))
        for n in range(80)
    ]
    space = PaperSpace(docs, rng.normal(size=(80, 16)))
    ratings = {n: 5 if n % 4 == 0 else 1 for n in range(40)}
    model = MemberModel(space, Signals(ratings=ratings))
    assert model.weights["lexical"] > 2 * max(
        model.weights["interests"], model.weights["neighbours"], model.weights["embedding"]
    )
    ranked = model.rank(list(range(40, 80)), explain=5)
    assert sum(r.key % 4 == 0 for r in ranked[:10]) >= 8
    assert all(r.reason for r in ranked[:5]) and not any(r.reason for r in ranked[5:])


def test_words_in_more_than_a_tenth_of_a_large_space_are_not_features() -> None:
    # One paper in three says "transformer": it names no one's particular taste.
    docs = [
        PaperDoc(key=n, title=f"{'Transformer' if n % 3 == 0 else 'Study'} topic{n % 20} item")
        for n in range(120)
    ]
    names = set(PaperSpace(docs).feature_names)
    assert "w:transformer" not in names
    assert "w:topic7" in names  # in 6 of 120 papers: under the cut
    assert WORD_MAX_DF == 0.1


def test_embedding_direction_ranks_the_liked_field_above_the_disliked_one() -> None:
    space, keys = _corpus()
    ratings = {k: 5 for k in keys["robot"][:3]} | {k: 1 for k in keys["protein"][:3]}
    model = MemberModel(space, Signals(ratings=ratings))
    unseen = _unseen(keys, set(ratings))
    scores = model.components(space.rows(unseen))["embedding"]
    field_of = [k.split("-")[0] for k in unseen]
    by_field = {f: scores[[g == f for g in field_of]].mean() for f in FIELDS}
    assert by_field["robot"] > by_field["speech"] > by_field["protein"]


def test_every_unrated_paper_is_a_mild_negative_for_the_word_model() -> None:
    # A liked paper shares one word with its field and one with every other paper: the
    # papers nobody rated teach the model that the common word says nothing.
    docs = [PaperDoc(key="liked", title="Robot grasping results")]
    docs += [PaperDoc(key=f"robot-{n}", title=f"Robot arm {n}") for n in range(5)]
    docs += [PaperDoc(key=f"other-{n}", title=f"Speech results {n}") for n in range(40)]
    space = PaperSpace(docs)
    model = MemberModel(space, Signals(ratings={"liked": 5}))
    assert model.coef is not None
    weight = dict(zip(space.feature_names, model.coef, strict=True))
    assert weight["w:robot"] > 0 > weight["w:results"]


def _words_score(model: MemberModel, space: PaperSpace, keys: list[str]) -> dict[str, float]:
    scores = model.components(space.rows(keys))["words"]
    return dict(zip(keys, scores.tolist(), strict=True))


def test_words_direction_follows_the_liked_words_and_weighs_titles_most() -> None:
    # Both candidates say "grasping" once; in one it is the title.
    docs = [PaperDoc(key="liked", title="Grasping", abstract="We grasp cups.")]
    docs += [PaperDoc(key=f"other-{n}", title=f"Speech study {n}") for n in range(20)]
    docs += [
        PaperDoc(key="in-title", title="Grasping", abstract="A study of hands."),
        PaperDoc(key="in-abstract", title="Hands", abstract="A study of grasping."),
        PaperDoc(key="unrelated", title="Speech", abstract="A study of voices."),
    ]
    space = PaperSpace(docs)
    model = MemberModel(space, Signals(ratings={"liked": 5}))
    got = _words_score(model, space, ["in-title", "in-abstract", "unrelated"])
    assert got["in-title"] > got["in-abstract"] > got["unrelated"]


def test_words_direction_weighs_a_five_above_a_two_and_a_one_not_at_all() -> None:
    docs = [
        PaperDoc(key="five", title="Grasping robots"),
        PaperDoc(key="two", title="Speech tokens"),
        PaperDoc(key="one", title="Protein folding"),
    ]
    docs += [PaperDoc(key=f"bg-{n}", title=f"Background {n}") for n in range(20)]
    docs += [
        PaperDoc(key="robots", title="Grasping robots again"),
        PaperDoc(key="speech", title="Speech tokens again"),
        PaperDoc(key="protein", title="Protein folding again"),
        PaperDoc(key="nothing", title="Something else"),
    ]
    space = PaperSpace(docs)
    model = MemberModel(space, Signals(ratings={"five": 5, "two": 2, "one": 1}))
    got = _words_score(model, space, ["robots", "speech", "protein", "nothing"])
    assert got["robots"] > got["speech"] > got["nothing"]
    # A 1 lifts nothing: its words sit no higher than those of a paper like no other.
    assert got["protein"] <= got["nothing"]


def test_not_interested_pulls_the_words_direction_away() -> None:
    space, keys = _corpus(with_vectors=False)
    liked = {keys["robot"][0]: 5}
    unseen = _unseen(keys, {keys["robot"][0], keys["speech"][0]})
    plain = MemberModel(space, Signals(ratings=liked))
    marked = MemberModel(space, Signals(ratings=liked, not_interested={keys["speech"][0]}))
    speech = [k for k in unseen if k.startswith("speech")]
    assert sum(_words_score(marked, space, speech).values()) < sum(
        _words_score(plain, space, speech).values()
    )


def test_words_direction_starts_from_the_team_without_own_ratings() -> None:
    space, keys = _corpus(with_vectors=False)
    team = [TeamRating("carol", k, 5) for k in keys["speech"][:3]]
    model = MemberModel(space, Signals(), team)
    unseen = _unseen(keys, set(keys["speech"][:3]))
    got = _words_score(model, space, unseen)
    best = max(got, key=got.__getitem__)
    assert best.startswith("speech")


@pytest.mark.parametrize("with_vectors", [True, False])
def test_an_extended_space_ranks_its_added_papers_through_the_kept_vocabulary(
    with_vectors: bool,
) -> None:
    full, keys = _corpus(with_vectors)
    held = [d for d in full.docs if not d.key.endswith(("-10", "-11"))]
    added = [d for d in full.docs if d.key.endswith(("-10", "-11"))]
    rows = full.rows([d.key for d in added])
    base = PaperSpace(
        held, full.vectors[full.rows([d.key for d in held])] if with_vectors else None
    )

    space = base.extended(added, full.vectors[rows] if with_vectors else None)

    assert len(space.docs) == len(full.docs) and base.docs == held
    # The papers held keep their features; the vocabulary and background are the base's.
    assert (space.x[: len(held)] != base.x).nnz == 0
    assert list(space.feature_names) == list(base.feature_names)
    assert np.array_equal(space.mean_x, base.mean_x)
    signals = Signals(
        ratings={k: 5 for k in keys["robot"][:4]} | {k: 1 for k in keys["speech"][:4]}
    )
    ranked = MemberModel(space, signals).rank([d.key for d in added])
    assert _fields(ranked, 2) == {"robot"}
    assert _fields(ranked[-2:], 2) != {"robot"}


def test_an_extended_space_refuses_papers_it_holds_and_papers_without_vectors() -> None:
    space, _ = _corpus()
    with pytest.raises(ValueError, match="already holds"):
        space.extended(space.docs[:1], space.vectors[:1])
    new = PaperDoc(key="new", title="Robot grasping with robot arm")
    with pytest.raises(ValueError, match="vectors for 1 papers"):
        space.extended([new])
    assert len(space.extended([]).docs) == len(space.docs)


def _fields_space() -> tuple[PaperSpace, list[str], list[str], list[str]]:
    """Eight fields of thirty papers, each paper saying two of its field's six words.
    Four security papers (to be liked) each carry a rare word in their title, which a
    paper of another field (a decoy) also carries in its own."""
    fields = {
        "security": "attack privacy malware defense threat intrusion",
        "cooking": "recipe flavour baking kitchen spice dough",
        "music": "melody rhythm chord tempo harmony lyric",
        "farming": "harvest soil irrigation crop tractor seed",
        "sailing": "wind hull mast anchor tide keel",
        "chess": "opening endgame gambit pawn rook bishop",
        "weather": "rain cloud storm humidity pressure forecast",
        "pottery": "clay glaze kiln wheel porcelain vase",
    }
    docs: list[PaperDoc] = []
    for field, words in fields.items():
        vocabulary = words.split()
        for n in range(30):
            a, b = vocabulary[n % 6], vocabulary[(n // 6 + n + 1) % 6]
            rare = f"rare{n}" if field in ("security", "cooking") and n < 4 else ""
            docs.append(
                PaperDoc(
                    key=f"{field}-{n}",
                    title=f"{rare} {a} study".strip(),
                    abstract=f"We look at {a} and {b} in depth.",
                )
            )
    space = PaperSpace(docs)
    liked = [f"security-{n}" for n in range(4)]
    decoys = [f"cooking-{n}" for n in range(4)]
    field = [f"security-{n}" for n in range(4, 30)]
    return space, liked, decoys, field


def test_broad_score_learns_a_field_from_its_common_words_not_a_few_rare_ones() -> None:
    space, liked, decoys, field = _fields_space()
    ratings = {k: 5 for k in liked} | {f"music-{n}": 1 for n in range(4)}
    model = MemberModel(space, Signals(ratings=ratings))
    parts = model.components(space.rows(field + decoys))
    broad = dict(zip(field + decoys, parts["broad"].tolist(), strict=True))
    words = dict(zip(field + decoys, parts["words"].tolist(), strict=True))
    # The words score follows the liked titles' rare words to the decoys of another field;
    # the broad score leaves words of fewer than five papers out and keeps to the field.
    assert max(words[k] for k in decoys) > min(words[k] for k in field)
    assert min(broad[k] for k in field) > max(broad[k] for k in decoys)
    assert "broad" in model.weights


def _pair_words(i: int) -> str:
    """Three words that paper i and its neighbour i ± 1 alone say."""
    return f"Pair{i // 2}a pair{i // 2}b pair{i // 2}c."


def test_broad_score_does_not_mark_down_a_field_paper_for_its_rare_words() -> None:
    # The same security papers, once plain and once with three words in each abstract that
    # only it and one other paper say: left out of the broad features (said by fewer than
    # five papers), those words must not shorten the others.
    space, liked, _, field = _fields_space()
    odd = PaperSpace(
        [
            PaperDoc(key=d.key, title=d.title, abstract=f"{d.abstract} {_pair_words(i)}")
            if d.key in field
            else d
            for i, d in enumerate(space.docs)
        ]
    )
    ratings = {k: 5 for k in liked} | {f"music-{n}": 1 for n in range(4)}
    plain_scores = MemberModel(space, Signals(ratings=ratings)).components(space.rows(field))
    odd_scores = MemberModel(odd, Signals(ratings=ratings)).components(odd.rows(field))
    assert odd_scores["broad"] == pytest.approx(plain_scores["broad"], rel=0.05)


def _look_alike_space() -> PaperSpace:
    """Robot, music and cooking papers with words of their own, where the embeddings tell
    music from the rest but put robots and cooking in the same place."""
    rng = np.random.default_rng(5)
    words = {
        "robot": "grasping gripper actuator servo dexterous torque",
        "music": "melody rhythm chord tempo harmony lyric",
        "cooking": "recipe flavour baking kitchen spice dough",
    }
    docs: list[PaperDoc] = []
    vectors: list[np.ndarray] = []
    for field, count in (("robot", 30), ("music", 30), ("cooking", 120)):
        vocabulary = words[field].split()
        for n in range(count):
            a, b = vocabulary[n % 6], vocabulary[(n // 6 + n + 1) % 6]
            docs.append(PaperDoc(key=f"{field}-{n}", title=f"{a} study", abstract=f"{a} {b}."))
            direction = np.zeros(16)
            direction[1 if field == "music" else 0] = 1.0
            vectors.append(direction + rng.normal(0, 0.1, size=16))
    return PaperSpace(docs, np.array(vectors))


def test_scores_are_judged_on_finding_liked_papers_among_unrated_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Robots rated 5 and music 1: every score orders those held-out ratings right, but
    # only the words tell robots from the cooking papers nobody rated, which the
    # embeddings put beside robots.
    space = _look_alike_space()
    ratings = {f"robot-{n}": 5 for n in range(20)} | {f"music-{n}": 1 for n in range(20)}
    model = MemberModel(space, Signals(ratings=ratings))
    embedding = max(model.weights[n] for n in ("embedding", "interests", "neighbours"))
    assert model.weights["lexical"] > 3 * embedding
    unseen = [f"robot-{n}" for n in range(20, 30)] + [f"cooking-{n}" for n in range(120)]
    assert all(r.key.startswith("robot") for r in model.rank(unseen)[:10])
    # Judged on the rated papers alone, the embeddings' scores would weigh as much.
    monkeypatch.setattr("pipeline.ranking.CV_OWN_SHARE", 1.0)
    alone = MemberModel(space, Signals(ratings=ratings)).weights
    assert max(alone[n] for n in ("embedding", "interests", "neighbours")) > alone["lexical"] / 3


@pytest.mark.parametrize("authors", ["shared", "distinct", "none"])
def test_a_space_with_no_common_or_no_features_at_all_still_ranks(authors: str) -> None:
    """Two hundred papers with one abstract: every word is in every paper, so none is a
    feature; with distinct authors no feature is common enough for the broad score, and
    without authors there are no features at all. The ranking still answers, led by the
    embedding where there is one."""
    n = 220
    docs = [
        PaperDoc(
            key=f"p{i}",
            title="The same title",
            abstract="The same abstract for every paper in this space.",
            authors={"shared": ("One Author",), "distinct": (f"Author {i}",), "none": ()}[authors],
        )
        for i in range(n)
    ]
    vectors = np.zeros((n, 4))
    vectors[:, 0] = 1.0
    vectors[n // 2 :, 1] = 3.0  # the second half is another field
    space = PaperSpace(docs, vectors)
    signals = Signals(ratings={f"p{i}": 5 for i in range(n // 2, n // 2 + 5)})
    ranked = MemberModel(space, signals).rank([f"p{i}" for i in range(n)])
    assert len(ranked) == n
    assert all(int(r.key[1:]) >= n // 2 for r in ranked[:20])


def test_a_subset_keeps_the_order_it_has_among_all_and_gets_its_own_reasons() -> None:
    space, keys = _corpus()
    ratings = {keys["robot"][0]: 5, keys["speech"][0]: 4, keys["protein"][0]: 1}
    model = MemberModel(space, Signals(ratings=ratings))
    candidates = _unseen(keys, set(ratings))
    scored = model.scored(candidates)
    everything = model.ranked(scored)
    # A subset where speech and protein papers dominate: scored on its own, speech would be
    # standardised against far fewer robot papers; among all it keeps its place.
    subset = [k for k in candidates if not k.startswith("robot")] + keys["robot"][5:7]
    within = model.ranked(scored, explain=3, within=set(subset))
    assert [r.key for r in within] == [r.key for r in everything if r.key in set(subset)]
    assert [r.score for r in within] == [r.score for r in everything if r.key in set(subset)]
    # Reasons are worked out for the subset's own first three, whatever their rank among all.
    assert all(r.reason for r in within[:3])
    assert all(not r.reason for r in within[3:])
    assert (
        within[:3]
        == [r for r in model.ranked(scored, explain=len(candidates)) if r.key in set(subset)][:3]
    )
    assert model.ranked(scored, within=set()) == []
    assert model.ranked(scored, within={"not-a-candidate"}) == []
