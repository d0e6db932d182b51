"""A ranking of papers for each member that learns, and the team's predicted rating.

Plain data in, plain data out. A `PaperSpace` holds the features of the papers in play
(the candidates and the papers anyone rated): weighted words and word pairs, authors,
arXiv categories, and the stored sentence embeddings. It is the costly part and the same
for every member of a team, so a caller builds it once and keeps it. A member's model is
then cheap enough to fit on every inbox load (a few milliseconds), which is what makes a
rating count on the very next load without any refit queue.

A member's model learns from their ratings (1-5), skips and "not interested" marks as
negatives, seed papers marked "more like this" as positives, and the team's ratings as a
prior that fades as the member's own ratings grow. Follows (authors, keywords, topics and
labs) lift the papers they match. It combines these scores, each standardised over the
candidates:

- lexical: a ridge regression on tf-idf words, word pairs and authors (the
  arxiv-sanity-lite idea, trained on graded ratings rather than one tag, with every paper
  in the space as a mild negative);
- words: the words alone, title weighing most, as a direction: the papers' mean
  weighted by how much the member liked them (a 5 four times a 2), less the mean paper.
  With a few dozen ratings this is what a linear SVM on tf-idf converges to under
  arxiv-sanity-lite's strong regularisation, and it is sharper than the ridge for a taste
  that a few words and phrases define;
- broad: the same direction over words and authors, without those of fewer than five
  papers (each paper's features scaled to unit length again once those are left out).
  A reader of a whole field (security, graphics) likes papers that share its many
  ordinary words, and the words score, led by the rare words of the few papers rated,
  drifts to other fields' papers that happen to use them;
- embedding: the same regression over the stored embeddings;
- interests: the liked papers are grouped into clusters in embedding space and a paper
  scores by its best cluster, so someone who reads both robotics and speech is served
  for both instead of for the average of the two;
- neighbours: how close a paper is to the member's best-rated papers, less how close it
  is to the ones they disliked;
- categories: the same direction as the words' over the papers' arXiv categories (the
  primary counting more). A reader of a field follows its category, cross-listings
  included, which the words of a paper do not say. A paper without categories (a lab's
  report) scores neither up nor down on it, and a space without any has no such score.

Each score's weight is learned per member from how well it put the member's own
held-out best-rated papers first, among the member's other held-out ratings and among
papers of the space the member never rated (what the inbox asks of it). The three
embedding scores count two thirds each against the two word scores and the broad one
half, so that words and meaning weigh alike before the member's own ratings say
otherwise; the categories half too, and once the member has rated enough they count only
when they rank the member's own ratings well (CATEGORY_CV_POWER), so that a member whose
taste is not about categories loses nothing by them.

Measured on real abstracts (bench/rank.py) neither words nor embeddings alone is best
for every kind of reader; the sum is.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy import linalg, sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from threadpoolctl import ThreadpoolController

Key = Hashable

# How much each kind of signal counts, in rating units (a 5 is +1, a 1 is -1).
SKIP_TARGET, SKIP_WEIGHT = -0.5, 0.5
NOT_INTERESTED_TARGET, NOT_INTERESTED_WEIGHT = -1.0, 1.5
SEED_TARGET, SEED_WEIGHT = 1.0, 1.5
# The team's ratings count like this many of the member's own, then fade: with n own
# ratings their weight is TEAM_PRIOR_N / (TEAM_PRIOR_N + n).
TEAM_PRIOR_N = 10.0
TEAM_WEIGHT = 0.5
TEAM_EXAMPLES = 100
# Every paper of the space stands in as a mild negative (as arxiv-sanity-lite treats
# every untagged paper): it teaches the linear models which words are merely common.
# BACKGROUND_MASS is their weight all together, spread evenly, in rated papers' units;
# in a small space each paper weighs BACKGROUND_WEIGHT at most, so a few ratings are not
# drowned by a few dozen papers nobody rated.
BACKGROUND_TARGET, BACKGROUND_MASS, BACKGROUND_WEIGHT = -0.3, 30.0, 0.15
RIDGE_ALPHA = 1.0
EMBEDDING_ALPHA = 1.0
# The "broad" score leaves out the words and authors of fewer than this many papers
# (arxiv-sanity-lite's cut) in a space of BROAD_MIN_PAPERS or more, and counts half as
# much as the word scores until the member's own ratings say otherwise.
BROAD_MIN_DF, BROAD_MIN_PAPERS, BROAD_WEIGHT = 5, 200, 0.5
# A paper's primary category counts this many times a cross-listing; the "categories"
# score counts this much until the member's own ratings say how much it should.
CATEGORY_PRIMARY, CATEGORY_WEIGHT = 2.0, 0.5
# Liked papers closer than this cosine distance share an interest.
INTEREST_DISTANCE = 0.55
NEIGHBOURS = 3
# The scores' weights, after each is standardised over the candidates, until a member
# has rated enough papers to learn their own (_component_weights).
DEFAULT_WEIGHTS = {
    "lexical": 1.0,
    "words": 1.0,
    "broad": BROAD_WEIGHT,
    "embedding": 2 / 3,
    "interests": 2 / 3,
    "neighbours": 2 / 3,
    "categories": CATEGORY_WEIGHT,
}
# A held-out score counts by the square of its quality there, so the clearly better one
# leads instead of being averaged with the rest.
CV_POWER = 4.0
# The categories score's weight falls faster with its held-out quality: by its eighth
# power, times CATEGORY_CV_SCALE (a quality of 0.84 gives it CATEGORY_WEIGHT). A reader of
# a field, whom the categories rank at 0.8-0.95, leans on them; for a reader whose taste
# they only roughly follow (a theme of words, a group of authors: 0.1-0.7) they weigh a
# few thousandths and change nothing. Measured on bench/rank.py over 16 seeds: the fourth
# power at CATEGORY_WEIGHT cost the other kinds of reader up to 0.005 nDCG@20 each, the
# eighth nothing measurable, and the readers of a category gained more.
CATEGORY_CV_POWER, CATEGORY_CV_SCALE = 8.0, 2.0
CV_MIN_RATINGS = 12
CV_FOLDS = 3
# No score is dropped entirely: a held-out third of a few dozen ratings is a noisy judge.
CV_FLOOR = 0.05
# The held-out ratings alone judge how a score orders papers the member has seen, most
# of them drawn from the member's taste; the inbox asks it to find those few among
# hundreds the member has not seen. So each score is also judged on the held-out ratings
# put among CV_BACKGROUND papers of the space that the member never rated, taken as
# rated 1 (a random paper is rarely one a member wants), and its quality is the mean of
# the two judges. Measured on bench/rank.py over 32 seeds: the ratio to ASL rose from
# 1.24 to 1.27, most for readers of a field or a group of authors, whose best score the
# rated papers alone picked less surely.
CV_BACKGROUND = 200
CV_BACKGROUND_TARGET = -1.0
CV_OWN_SHARE = 0.5
# A followed author, keyword, topic or lab puts a paper above every paper that matches no
# follow (scores are standardised, so they stay far below this), in the model's order.
FOLLOW_BOOST = 100.0
# "like X, which you rated 5" is said only when X is this close (cosine) to the paper.
LIKE_SIMILARITY = 0.5
EXPLAIN_WORDS = 3
# The team's prediction: a paper's nearest team-rated papers, and how strongly an
# unrated paper is pulled to the team's mean rating when its neighbours are far.
TEAM_NEIGHBOURS = 10
TEAM_TEMPERATURE = 0.1
# The team's mean counts as one more neighbour at this similarity.
TEAM_PRIOR_SIMILARITY = 0.5

# The BLAS libraries loaded, found once: finding them reads the process's memory map,
# which cost more than a member's whole fit when it was done on every call.
_threadpools: ThreadpoolController | None = None


def _one_blas_thread() -> AbstractContextManager[object]:
    """A context in which BLAS runs on one thread."""
    global _threadpools
    if _threadpools is None:
        _threadpools = ThreadpoolController()
    return _threadpools.limit(limits=1, user_api="blas")


WORD_PATTERN = r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b"
# Words in more than a tenth of the papers (arxiv-sanity-lite's cut) say little about
# one reader's taste and drown the words that do.
WORD_MAX_DF = 0.1
# The author block weighs as much as the words: who wrote a paper tells as much about
# a reader's interest as what it says.
AUTHOR_SCALE = 1.0
# A title says what a paper is about more surely than its abstract: its words count
# twice in the features; in the words-alone direction its own tf-idf is added on top
# with this weight (a transform of the titles alone: a tenth of the texts' cost).
TITLE_REPEATS, WORDS_TITLE_WEIGHT = 2, 0.5
# In the words-alone direction, what a "not interested" or a skip pulls away from, in
# the units of the liked papers' mean.
WORDS_NEGATIVE = 0.5


@dataclass(frozen=True)
class PaperDoc:
    """A paper as the ranking sees it. `labels` are what a member can follow besides
    authors and keywords, e.g. "topic:12" or "lab:qwen"."""

    key: Key
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    labels: frozenset[str] = frozenset()
    # arXiv categories, the primary first (a lab's report has none).
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signals:
    """Everything a member told the tracker about what they want.

    - `ratings`: paper key to the member's rating, 1-5 (a 3 is neutral).
    - `skipped`: papers the member passed over: a mild negative (like a 2, half weight).
    - `not_interested`: papers the member marked "not interested": a firm negative (like
      a 1, weighing one and a half ratings), and the words-alone score turns away from
      their words. A paper in it and in `ratings` counts as not interested.
    - `seeds`: papers marked "more like this": a firm positive, a start for a new member.
    - `authors`, `keywords`, `labels` ("topic:12", "lab:qwen"): follows; a paper
      matching one is put above every paper matching none, with the follow as reason.
    """

    ratings: Mapping[Key, int] = field(default_factory=dict)
    skipped: Collection[Key] = frozenset()
    not_interested: Collection[Key] = frozenset()
    seeds: Collection[Key] = frozenset()
    authors: Collection[str] = frozenset()
    keywords: Collection[str] = frozenset()
    labels: Collection[str] = frozenset()


class TeamRating(NamedTuple):
    """One member's rating of a paper (a tuple: a team's tens of thousands are made on
    every inbox load, and a frozen dataclass costs ten times as much to make)."""

    member: Hashable
    key: Key
    value: int


@dataclass(frozen=True)
class Ranked:
    key: Key
    score: float
    reason: str


@dataclass
class Scored:
    """A set of keys as a member's model scores them (MemberModel.scored): the space's rows,
    each component's standardised and weighted score, the sum with follows, and the
    follows' reasons; `position` of each key in `keys`."""

    keys: list[Key]
    rows: np.ndarray
    z: dict[str, np.ndarray]
    score: np.ndarray
    follow_reasons: list[str]
    position: dict[Key, int]


def _text(doc: PaperDoc, title_repeats: int) -> str:
    return ". ".join([doc.title] * title_repeats + [doc.abstract])


def _unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Each row scaled to unit length; a matrix of no features stays as it is, where
    sklearn's normalize refuses it (papers that share every word and no author leave
    none, and no feature is common enough for the broad score in a space of rare ones)."""
    return normalize(matrix) if matrix.shape[1] else sparse.csr_matrix(matrix)


def _author_tokens(authors: Iterable[str]) -> list[str]:
    return [" ".join(a.lower().split()) for a in authors if a.strip()]


@dataclass(frozen=True)
class _Categories:
    """The categories' vocabulary and weights, fitted on a space's papers: a paper's
    categories weigh like its authors (tf-idf, so that the category of most papers says
    little), the primary one CATEGORY_PRIMARY times a cross-listing, each paper's row of
    unit length. A category the fitted papers lack is not a feature (as a new author)."""

    index: dict[str, int]
    idf: np.ndarray

    @staticmethod
    def _tokens(doc: PaperDoc) -> list[tuple[str, float]]:
        seen: dict[str, float] = {}
        for i, category in enumerate(doc.categories):
            name = category.strip()
            if name and name not in seen:
                seen[name] = CATEGORY_PRIMARY if i == 0 else 1.0
        return list(seen.items())

    @classmethod
    def fitted(cls, docs: Sequence[PaperDoc]) -> _Categories | None:
        counts: dict[str, int] = defaultdict(int)
        for doc in docs:
            for name, _ in cls._tokens(doc):
                counts[name] += 1
        if not counts:
            return None
        names = sorted(counts)
        df = np.array([counts[name] for name in names], dtype=np.float64)
        # sklearn's smooth idf, as the authors' vectorizer has it.
        idf = np.log((1 + len(docs)) / (1 + df)) + 1
        return cls({name: j for j, name in enumerate(names)}, idf.astype(np.float32))

    def transform(self, docs: Sequence[PaperDoc]) -> sparse.csr_matrix:
        rows: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        for i, doc in enumerate(docs):
            for name, weight in self._tokens(doc):
                j = self.index.get(name)
                if j is not None:
                    rows.append(i)
                    columns.append(j)
                    values.append(weight * float(self.idf[j]))
        matrix = sparse.csr_matrix(
            (np.array(values, dtype=np.float32), (rows, columns)),
            shape=(len(docs), len(self.index)),
        )
        return _unit_rows(matrix)


class PaperSpace:
    """The features of a set of papers, shared by every member's model.

    The vocabularies (words, authors) and their weights are fitted on the papers it is
    built with; `extended` adds papers through them without fitting again, which costs a
    transform of the new papers alone."""

    def __init__(self, docs: Sequence[PaperDoc], vectors: np.ndarray | None = None) -> None:
        if not docs:
            raise ValueError("a paper space needs at least one paper")
        self.docs = list(docs)
        self.row = {doc.key: i for i, doc in enumerate(self.docs)}
        n = len(self.docs)
        # Small spaces (a new team, the tests) keep every word; large ones drop the words
        # seen once, which are mostly typos and numbers.
        self._words: TfidfVectorizer | None = TfidfVectorizer(
            strip_accents="unicode",
            lowercase=True,
            stop_words="english",
            token_pattern=WORD_PATTERN,
            ngram_range=(1, 2),
            min_df=2 if n >= 200 else 1,
            max_df=WORD_MAX_DF if n >= 50 else 1.0,
            sublinear_tf=True,
            dtype=np.float32,
        )
        x_words: sparse.csr_matrix | None = None
        try:
            x_words = self._words.fit_transform([_text(d, TITLE_REPEATS) for d in self.docs])
            word_names = [f"w:{w}" for w in self._words.get_feature_names_out()]
        except ValueError:  # every word was a stop word
            self._words = None
            word_names = []
        author_lists = [_author_tokens(d.authors) for d in self.docs]
        self._authors: TfidfVectorizer | None = None
        author_names: list[str] = []
        x_authors: sparse.csr_matrix | None = None
        if any(author_lists):
            self._authors = TfidfVectorizer(analyzer=lambda names: names, dtype=np.float32)
            x_authors = self._authors.fit_transform(author_lists)
            author_names = [f"a:{a}" for a in self._authors.get_feature_names_out()]
        self.feature_names = np.array(word_names + author_names, dtype=object)
        self.x_words, self.x = self._features(self.docs, x_words, x_authors)
        self.mean_words = np.asarray(self.x_words.mean(axis=0), dtype=np.float64).ravel()
        # The mean paper stands for all of them as the linear models' background.
        self.mean_x = np.asarray(self.x.mean(axis=0), dtype=np.float64).ravel()
        # The "broad" score's features: the lexical ones common enough to name a field.
        common = self.x.getnnz(axis=0) >= (BROAD_MIN_DF if n >= BROAD_MIN_PAPERS else 1)
        self.broad_columns = np.flatnonzero(common)
        # Scaled to unit length again: a paper most of whose words are rare is otherwise
        # a short vector there, and scores low whatever field it is in.
        self.x_broad = _unit_rows(self.x[:, self.broad_columns])
        self.mean_broad = np.asarray(self.x_broad.mean(axis=0), dtype=np.float64).ravel()
        self.background_mass = min(BACKGROUND_MASS, BACKGROUND_WEIGHT * n)
        # The categories' features: a vocabulary and weights of their own, for a score of
        # their own (None when no paper of the space has a category).
        self._categories = _Categories.fitted(self.docs)
        self.x_categories: sparse.csr_matrix | None = None
        self.mean_categories = np.zeros(0)
        if self._categories is not None:
            self.x_categories = self._categories.transform(self.docs)
            self.mean_categories = np.asarray(
                self.x_categories.mean(axis=0), dtype=np.float64
            ).ravel()
        self.vectors: np.ndarray | None = None
        if vectors is not None:
            if len(vectors) != n:
                raise ValueError(f"{len(vectors)} vectors for {n} papers")
            self.vectors = normalize(np.asarray(vectors, dtype=np.float32))
            self.mean_vector = self.vectors.mean(axis=0).astype(np.float64)

    def _features(
        self,
        docs: Sequence[PaperDoc],
        x_words: sparse.csr_matrix | None = None,
        x_authors: sparse.csr_matrix | None = None,
    ) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """The words-alone features (titles weighing more) and the lexical model's (words
        and authors) of `docs`, through the fitted vocabularies (`x_words`, `x_authors`:
        their transforms when already made)."""
        n = len(docs)
        if self._words is not None:
            if x_words is None:
                x_words = self._words.transform([_text(d, TITLE_REPEATS) for d in docs])
            titles = self._words.transform([d.title for d in docs])
            words_alone = _unit_rows(x_words + WORDS_TITLE_WEIGHT * titles)
        else:
            x_words = sparse.csr_matrix(np.zeros((n, 0), dtype=np.float32))
            words_alone = x_words
        if self._authors is not None:
            if x_authors is None:
                x_authors = self._authors.transform([_author_tokens(d.authors) for d in docs])
            x_authors = x_authors * AUTHOR_SCALE
        else:
            x_authors = sparse.csr_matrix(np.zeros((n, 0), dtype=np.float32))
        x = _unit_rows(sparse.hstack([x_words, x_authors]).tocsr().astype(np.float32))
        return sparse.csr_matrix(words_alone), x

    def extended(self, docs: Sequence[PaperDoc], vectors: np.ndarray | None = None) -> PaperSpace:
        """A space of these papers and `docs` (with their `vectors` when this one has
        vectors), through this one's vocabularies; the background stays this one's."""
        added = [d for d in docs if d.key not in self.row]
        if len(added) != len(docs):
            raise ValueError("the space already holds some of these papers")
        out = copy.copy(self)
        if not added:
            return out
        out.docs = self.docs + added
        out.row = {doc.key: i for i, doc in enumerate(out.docs)}
        x_words, x = self._features(added)
        out.x_words = sparse.vstack([self.x_words, x_words]).tocsr()
        out.x = sparse.vstack([self.x, x]).tocsr()
        out.x_broad = sparse.vstack([self.x_broad, _unit_rows(x[:, self.broad_columns])]).tocsr()
        if self._categories is not None and self.x_categories is not None:
            more_categories = self._categories.transform(added)
            out.x_categories = sparse.vstack([self.x_categories, more_categories]).tocsr()
        if self.vectors is not None:
            if vectors is None or len(vectors) != len(added):
                raise ValueError(f"vectors for {len(added)} papers needed")
            more = normalize(np.asarray(vectors, dtype=np.float32))
            out.vectors = np.vstack([self.vectors, more])
        return out

    def rows(self, keys: Iterable[Key]) -> np.ndarray:
        return np.array([self.row[k] for k in keys], dtype=np.int64)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity between rows `a` and rows `b`: embeddings when there are,
        words otherwise."""
        if self.vectors is not None:
            return self.vectors[a] @ self.vectors[b].T
        return (self.x[a] @ self.x[b].T).toarray()


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    if spread < 1e-9:
        return np.zeros_like(values)
    return (values - values.mean()) / spread


@dataclass
class _Examples:
    rows: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    # Why each row is an example: ("own", value), ("seed", 0) or ("team", mean value).
    sources: list[tuple[str, float]]


def _examples(space: PaperSpace, signals: Signals, team: Sequence[TeamRating]) -> _Examples:
    by_key: dict[Key, tuple[float, float, tuple[str, float]]] = {}
    for key in signals.skipped:
        if key in space.row:
            by_key[key] = (SKIP_TARGET, SKIP_WEIGHT, ("skip", 0.0))
    for key, value in signals.ratings.items():
        if key in space.row:
            by_key[key] = ((value - 3) / 2, 1.0, ("own", float(value)))
    for key in signals.seeds:
        if key in space.row:
            by_key[key] = (SEED_TARGET, SEED_WEIGHT, ("seed", 0.0))
    for key in signals.not_interested:
        if key in space.row:
            by_key[key] = (NOT_INTERESTED_TARGET, NOT_INTERESTED_WEIGHT, ("no", 0.0))
    own = sum(1 for _, _, (kind, _) in by_key.values() if kind != "skip")
    team_values: dict[Key, list[int]] = defaultdict(list)
    for rating in team:
        if rating.key in space.row and rating.key not in by_key:
            team_values[rating.key].append(rating.value)
    team_weight = TEAM_WEIGHT * TEAM_PRIOR_N / (TEAM_PRIOR_N + own)
    # The papers the most teammates rated, and rated furthest from the middle, first: the
    # fit's cost grows with the cube of its examples, and the prior needs only the clearest.
    clearest = sorted(
        team_values,
        key=lambda k: (-len(team_values[k]), -abs(sum(team_values[k]) / len(team_values[k]) - 3)),
    )[:TEAM_EXAMPLES]
    for key in clearest:
        values = team_values[key]
        mean = float(np.mean(values))
        by_key[key] = ((mean - 3) / 2, team_weight, ("team", mean))
    keys = list(by_key)
    return _Examples(
        rows=space.rows(keys),
        targets=np.array([by_key[k][0] for k in keys], dtype=np.float32),
        weights=np.array([by_key[k][1] for k in keys], dtype=np.float32),
        sources=[by_key[k][2] for k in keys],
    )


def _interests(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One unit prototype per group of liked papers that sit close together: each paper,
    heaviest first, joins the first group whose prototype is within INTEREST_DISTANCE
    of it, or starts a group of its own (one pass; a member's likes are a few hundred)."""
    members: list[list[int]] = []
    prototypes: list[np.ndarray] = []
    for i in np.argsort(-weights, kind="stable"):
        if prototypes:
            closeness = np.array(prototypes) @ vectors[i]
            best = int(np.argmax(closeness))
            if closeness[best] >= 1 - INTEREST_DISTANCE:
                members[best].append(i)
                total = (weights[members[best], None] * vectors[members[best]]).sum(axis=0)
                prototypes[best] = total / max(float(np.linalg.norm(total)), 1e-12)
                continue
        members.append([i])
        prototypes.append(vectors[i] / max(float(np.linalg.norm(vectors[i])), 1e-12))
    return np.vstack(prototypes)


def _top_mean(similarities: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Per row, the weighted mean of its k largest similarities."""
    k = min(k, similarities.shape[1])
    top = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(similarities, top, axis=1)
    w = weights[top]
    return (values * w).sum(axis=1) / w.sum(axis=1)


class _Fit:
    """The three scores' models, fitted on some of a member's examples."""

    def __init__(self, space: PaperSpace, ex: _Examples) -> None:
        self.space = space
        self.coef: np.ndarray | None = None
        self.embedding_coef: np.ndarray | None = None
        self.words_coef = _words_direction(space, ex)
        self.broad_coef = _broad_direction(space, ex)
        self.categories_coef = _categories_direction(space, ex)
        if ex.targets.any():
            self.coef = _ridge(space, ex)
            if space.vectors is not None:
                self.embedding_coef = _embedding_ridge(space, ex)
        # The member's own likes and dislikes make their interests; the team's stand in
        # only while the member has none of their own.
        own = np.array([kind != "team" for kind, _ in ex.sources], dtype=bool)
        positive = ex.targets > 0
        chosen = positive & own if (positive & own).any() else positive
        self.liked = ex.rows[chosen]
        self.liked_weights = (ex.targets * ex.weights)[chosen]
        self.liked_sources = [s for s, c in zip(ex.sources, chosen, strict=True) if c]
        negative = (ex.targets < 0) & own if ((ex.targets < 0) & own).any() else ex.targets < 0
        self.disliked = ex.rows[negative]
        self.disliked_weights = (-ex.targets * ex.weights)[negative]
        self.prototypes: np.ndarray | None = None
        if space.vectors is not None and len(self.liked):
            self.prototypes = _interests(space.vectors[self.liked], self.liked_weights)

    def components(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The raw scores of `rows`, before standardising."""
        out: dict[str, np.ndarray] = {}
        if self.coef is not None:
            out["lexical"] = np.asarray(self.space.x[rows] @ self.coef).ravel()
        if self.words_coef is not None:
            out["words"] = np.asarray(self.space.x_words[rows] @ self.words_coef).ravel()
        if self.broad_coef is not None:
            out["broad"] = np.asarray(self.space.x_broad[rows] @ self.broad_coef).ravel()
        if self.categories_coef is not None and self.space.x_categories is not None:
            x_categories = self.space.x_categories[rows]
            values = np.asarray(x_categories @ self.categories_coef).ravel()
            # A paper without categories (a lab's report) is neither lifted nor lowered:
            # it scores what the candidates with categories score on average, which the
            # standardising takes to nothing.
            has = x_categories.getnnz(axis=1) > 0
            if has.any() and not has.all():
                values[~has] = values[has].mean()
            out["categories"] = values
        if self.embedding_coef is not None and self.space.vectors is not None:
            out["embedding"] = self.space.vectors[rows] @ self.embedding_coef
        if len(self.liked):
            liked_sim = self.space.similarity(rows, self.liked)
            if self.prototypes is not None and self.space.vectors is not None:
                out["interests"] = (self.space.vectors[rows] @ self.prototypes.T).max(axis=1)
            near = _top_mean(liked_sim, self.liked_weights, NEIGHBOURS)
            if len(self.disliked):
                far = _top_mean(
                    self.space.similarity(rows, self.disliked), self.disliked_weights, NEIGHBOURS
                )
                near = near - 0.5 * far
            out["neighbours"] = near
            out["_liked_sim"] = liked_sim
        return out


def _dual_ridge(
    gram: np.ndarray, background: np.ndarray, ex: _Examples, alpha: float, mass: float
) -> np.ndarray:
    """The dual weights of a ridge regression of the examples' targets with every paper
    of the space as a mild negative. The background enters through its mean (its share
    of the normal equations' right-hand side, exact); its share of the left-hand side is
    tiny beside `alpha` and left out, which keeps the solve to one row per example: a few
    dozen rows, so microseconds, however many papers the space holds.
    `background` is the examples' features times the background's pull."""
    y = ex.targets.astype(np.float64)
    # Centred on the mean of every example, the background's too: with a single rating
    # there is still something to learn.
    y = y - (ex.weights @ y + mass * BACKGROUND_TARGET) / (ex.weights.sum() + mass)
    # Positive definite: a Cholesky solve, about twice as fast as a general one.
    return linalg.solve(
        gram + alpha * np.diag(1.0 / ex.weights), alpha * y - background, assume_a="pos"
    )


def _ridge(space: PaperSpace, ex: _Examples) -> np.ndarray:
    """The lexical model: weights over words, word pairs and authors."""
    x = space.x[ex.rows]
    pull = BACKGROUND_TARGET * space.background_mass * space.mean_x
    gram = (x @ x.T).toarray().astype(np.float64)
    dual = _dual_ridge(gram, np.asarray(x @ pull).ravel(), ex, RIDGE_ALPHA, space.background_mass)
    return np.asarray((pull + x.T @ dual) / RIDGE_ALPHA, dtype=np.float32).ravel()


def _embedding_ridge(space: PaperSpace, ex: _Examples) -> np.ndarray:
    """The same linear model over the embeddings: a direction of taste, where the
    interests and neighbours are closeness to particular papers."""
    assert space.vectors is not None
    v = space.vectors[ex.rows].astype(np.float64)
    pull = BACKGROUND_TARGET * space.background_mass * space.mean_vector
    dual = _dual_ridge(v @ v.T, v @ pull, ex, EMBEDDING_ALPHA, space.background_mass)
    return np.asarray((pull + v.T @ dual) / EMBEDDING_ALPHA, dtype=np.float32)


def _direction(features: sparse.csr_matrix, mean: np.ndarray, ex: _Examples) -> np.ndarray | None:
    """Weights over `features` (`mean`: their mean over the space): the mean of the papers
    the member rated or asked more of, each weighing its rating less one (a 1 nothing, a 5
    four), less the mean paper; then away from the papers marked "not interested" or
    skipped. The team's ratings stand in while the member has given none of their own."""
    kinds = np.array([kind for kind, _ in ex.sources])
    values = 2 * ex.targets.astype(np.float64) + 3  # back to the 1-5 scale
    liked = np.where(np.isin(kinds, ["own", "seed"]), np.maximum(values - 1, 0), 0.0)
    if not liked.any():
        liked = np.where(kinds == "team", np.maximum(values - 1, 0), 0.0)
    if not liked.any():
        return None
    x = features[ex.rows]
    coef = np.asarray(x.T @ liked).ravel() / liked.sum() - mean
    negative = np.isin(kinds, ["no", "skip"])
    if negative.any():
        away = np.asarray(x[negative].mean(axis=0)).ravel() - mean
        coef -= WORDS_NEGATIVE * away
    return coef.astype(np.float32)


def _words_direction(space: PaperSpace, ex: _Examples) -> np.ndarray | None:
    """The "words" score's weights: the direction over the words alone, titles weighing
    most: sharp for a taste that a few words and phrases define."""
    return _direction(space.x_words, space.mean_words, ex)


def _broad_direction(space: PaperSpace, ex: _Examples) -> np.ndarray | None:
    """The "broad" score's weights: the direction over words and authors, less those of
    fewer than BROAD_MIN_DF papers. A field (security, graphics, robotics) shows in the
    many ordinary words and the authors its papers share, not in the rare words that a
    few liked papers happen to use, which the words score weighs most."""
    return _direction(space.x_broad, space.mean_broad, ex)


def _categories_direction(space: PaperSpace, ex: _Examples) -> np.ndarray | None:
    """The "categories" score's weights: the direction over the papers' arXiv categories
    (None when no paper of the space has one). A reader of a field follows its category,
    cross-listings included, which the words of a paper do not say."""
    if space.x_categories is None:
        return None
    return _direction(space.x_categories, space.mean_categories, ex)


def _subset(ex: _Examples, keep: np.ndarray) -> _Examples:
    return _Examples(
        rows=ex.rows[keep],
        targets=ex.targets[keep],
        weights=ex.weights[keep],
        sources=[s for s, k in zip(ex.sources, keep, strict=True) if k],
    )


def _top_gain(predicted: np.ndarray, truth: np.ndarray) -> float:
    """How well `predicted` puts the best-rated papers first: a discounted gain scaled
    so the best order scores 1 and the worst 0. A rating v gains 2^(v-1) - 1 (targets
    are (v - 3) / 2): the inbox's top is what a reader sees, so that is what it judges."""
    gains = 2.0 ** (2 * truth + 2) - 1
    discounts = 1 / np.log2(np.arange(2, len(truth) + 2))
    best = np.sort(gains)[::-1] @ discounts
    worst = np.sort(gains) @ discounts
    got = gains[np.argsort(-predicted, kind="stable")] @ discounts
    return float((got - worst) / max(float(best - worst), 1e-12))


def _component_weights(space: PaperSpace, ex: _Examples, seed: int) -> dict[str, float]:
    """How much each score counts for this member: how well it ranked the member's own
    held-out ratings (CV_FOLDS-fold), among themselves and among papers the member never
    rated, so that a reader whose taste words capture leans on words and one whose taste
    they miss leans on the embeddings."""
    weights = dict(DEFAULT_WEIGHTS)
    own = np.flatnonzero(np.array([kind in ("own", "no") for kind, _ in ex.sources]))
    if len(own) < CV_MIN_RATINGS or len(np.unique(ex.targets[own])) < 2:
        return weights
    rng = np.random.default_rng(seed)
    order = rng.permutation(own)
    drawn = rng.choice(len(space.docs), size=min(CV_BACKGROUND, len(space.docs)), replace=False)
    unseen = np.setdiff1d(drawn, ex.rows)
    predicted: dict[str, np.ndarray] = {name: np.zeros(len(order)) for name in weights}
    among_unseen: dict[str, list[float]] = defaultdict(list)
    for fold in range(CV_FOLDS):
        held = order[fold::CV_FOLDS]
        # The folds judge the member's own taste: the team's prior stays out of them.
        keep = np.array([kind != "team" for kind, _ in ex.sources], dtype=bool)
        keep[held] = False
        fit = _Fit(space, _subset(ex, keep))
        parts = fit.components(np.concatenate([ex.rows[held], unseen]))
        truth = np.concatenate([ex.targets[held], np.full(len(unseen), CV_BACKGROUND_TARGET)])
        for name in weights:
            if name in parts:
                # Standardised per fold: each fold's model has a scale of its own.
                predicted[name][fold::CV_FOLDS] = _standardise(parts[name][: len(held)])
                if len(unseen):
                    among_unseen[name].append(_top_gain(parts[name], truth))
    truth = ex.targets[order]
    for name in weights:
        quality = _top_gain(predicted[name], truth)
        if among_unseen[name]:
            quality = CV_OWN_SHARE * quality + (1 - CV_OWN_SHARE) * float(
                np.mean(among_unseen[name])
            )
        if name == "categories":
            weights[name] = CATEGORY_CV_SCALE * max(quality, CV_FLOOR) ** CATEGORY_CV_POWER
        else:
            weights[name] = DEFAULT_WEIGHTS[name] * max(quality, CV_FLOOR) ** CV_POWER
    return weights


class MemberModel:
    """One member's fitted ranking over a PaperSpace. Fit on each load: it is cheap."""

    def __init__(
        self,
        space: PaperSpace,
        signals: Signals,
        team: Sequence[TeamRating] = (),
        *,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.signals = signals
        self.examples = _examples(space, signals, team)
        self.fit: _Fit | None = None
        self.weights = dict(DEFAULT_WEIGHTS)
        if len(self.examples.rows):
            # A member's solves are small: on a busy machine BLAS threads cost far more
            # than they save (ten times, measured on two shared cores).
            with _one_blas_thread():
                self.fit = _Fit(space, self.examples)
                self.weights = _component_weights(space, self.examples, seed)

    @property
    def coef(self) -> np.ndarray | None:
        return self.fit.coef if self.fit else None

    @property
    def prototypes(self) -> np.ndarray | None:
        return self.fit.prototypes if self.fit else None

    def components(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        return self.fit.components(rows) if self.fit else {}

    def follows(self, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """How many kinds of follow each row matches, and the first match's reason."""
        s = self.signals
        authors = {a.lower().strip(): a for a in s.authors}
        keywords = [
            (k, re.compile(rf"(?i)\b{re.escape(k.strip())}\b")) for k in s.keywords if k.strip()
        ]
        labels = set(s.labels)
        hits = np.zeros(len(rows), dtype=np.float32)
        reasons = [""] * len(rows)
        if not (authors or keywords or labels):
            return hits, reasons
        for i, row in enumerate(rows):
            doc = self.space.docs[row]
            found: list[str] = []
            author = next((authors[a] for a in _author_tokens(doc.authors) if a in authors), None)
            if author:
                found.append(f"by {author}, whom you follow")
            text = f"{doc.title} {doc.abstract}"
            keyword = next((k for k, pattern in keywords if pattern.search(text)), None)
            if keyword:
                found.append(f"mentions “{keyword}”, which you follow")
            label = next(iter(sorted(doc.labels & labels)), None)
            if label:
                found.append(f"in {label}, which you follow")
            hits[i] = len(found)
            reasons[i] = found[0] if found else ""
        return hits, reasons

    def rank(self, keys: Sequence[Key], explain: int | None = None) -> list[Ranked]:
        """`keys`, best first, each with why (only the first `explain` when given: a page
        of the inbox needs no reasons for the papers past it). Ties (no signal at all)
        keep the given order, so a caller that passes newest first gets newest first."""
        return self.ranked(self.scored(keys), explain)

    def scored(self, keys: Sequence[Key]) -> Scored:
        """`keys` scored: each score standardised over all of `keys`, so that ranking any
        of them (ranked's `within`) keeps the order they have among all, and costs a sort."""
        keys = list(keys)
        rows = self.space.rows(keys) if keys else np.zeros(0, dtype=np.int64)
        if not keys:
            return Scored(keys, rows, {}, np.zeros(0), [], {})
        with _one_blas_thread():
            parts = self.components(rows)
        z = {
            name: _standardise(parts[name]) * weight
            for name, weight in self.weights.items()
            if name in parts
        }
        score = np.zeros(len(rows), dtype=np.float64)
        for values in z.values():
            score += values
        hits, follow_reasons = self.follows(rows)
        score += FOLLOW_BOOST * hits
        return Scored(keys, rows, z, score, follow_reasons, {k: i for i, k in enumerate(keys)})

    def ranked(
        self, scored: Scored, explain: int | None = None, within: Collection[Key] | None = None
    ) -> list[Ranked]:
        """The scored keys (those of them `within` selects, when given) best first, with why
        for the first `explain` of them (all when None)."""
        if within is None:
            picked = np.arange(len(scored.keys))
        else:
            picked = np.array(
                sorted(scored.position[k] for k in within if k in scored.position),
                dtype=np.int64,
            )
        if not len(picked):
            return []
        order = picked[np.argsort(-scored.score[picked], kind="stable")]
        shown = order[:explain] if explain is not None else order
        liked_sim = None
        if self.fit is not None and len(self.fit.liked):
            liked_sim = self.space.similarity(scored.rows[shown], self.fit.liked)
        reasons = dict(
            zip(
                shown.tolist(),
                self._reasons(
                    scored.rows[shown],
                    {name: values[shown] for name, values in scored.z.items()},
                    liked_sim,
                    [scored.follow_reasons[i] for i in shown],
                ),
                strict=True,
            )
        )
        return [Ranked(scored.keys[i], float(scored.score[i]), reasons.get(i, "")) for i in order]

    def _reasons(
        self,
        rows: np.ndarray,
        z: dict[str, np.ndarray],
        liked_sim: np.ndarray | None,
        follow_reasons: list[str],
    ) -> list[str]:
        lexical = z.get("lexical", np.zeros(len(rows)))
        # What the embedding scores added to the paper's score, against what words added.
        semantic = sum(
            (z[n] for n in ("embedding", "interests", "neighbours") if n in z),
            np.zeros(len(rows)),
        )
        words = self._top_words(rows) if self.coef is not None else [[] for _ in rows]
        categories = z.get("categories")
        reasons: list[str] = []
        for i in range(len(rows)):
            if follow_reasons[i]:
                reasons.append(follow_reasons[i])
                continue
            # A paper its category lifted most says which category.
            if categories is not None and categories[i] > max(lexical[i], semantic[i], 0.0):
                category = self._category(int(rows[i]))
                if category:
                    reasons.append(f"in {category}, a category you rate highly")
                    continue
            like = ""
            if liked_sim is not None and liked_sim.shape[1]:
                best = int(np.argmax(liked_sim[i]))
                if liked_sim[i, best] >= LIKE_SIMILARITY:
                    like = self._like(best)
            # Words are named only for a paper they lift above the average candidate.
            said = words[i] if lexical[i] > 0 else []
            if like and (semantic[i] >= lexical[i] or not said):
                reasons.append(like)
            elif said:
                reasons.append("words: " + ", ".join(said))
            else:
                reasons.append("")
        return reasons

    def _category(self, row: int) -> str:
        """The paper's category that weighs most for the member ("" when none lifts it)."""
        fitted = self.space._categories
        coef = self.fit.categories_coef if self.fit else None
        if fitted is None or coef is None:
            return ""
        weights = {
            name: float(coef[fitted.index[name]])
            for name in self.space.docs[row].categories
            if name in fitted.index
        }
        best = max(weights, key=lambda name: weights[name], default="")
        return best if best and weights[best] > 0 else ""

    def _like(self, liked_index: int) -> str:
        assert self.fit is not None
        doc = self.space.docs[self.fit.liked[liked_index]]
        kind, value = self.fit.liked_sources[liked_index]
        if kind == "own":
            return f"like “{doc.title}”, which you rated {value:.0f}"
        if kind == "seed":
            return f"like “{doc.title}”, which you asked for more like"
        return f"like “{doc.title}”, which your team rated about {round(value * 2) / 2:g}"

    def _top_words(self, rows: np.ndarray) -> list[list[str]]:
        """Per row, the features that added most to its lexical score."""
        assert self.coef is not None
        x = self.space.x[rows]
        out: list[list[str]] = []
        for i in range(x.shape[0]):
            start, end = x.indptr[i], x.indptr[i + 1]
            columns = x.indices[start:end]
            gains = x.data[start:end] * self.coef[columns]
            best = np.argsort(-gains)[:EXPLAIN_WORDS]
            names = [str(self.space.feature_names[columns[j]])[2:] for j in best if gains[j] > 1e-4]
            out.append(names)
        return out


def rank_for_member(
    space: PaperSpace,
    keys: Sequence[Key],
    signals: Signals,
    team: Sequence[TeamRating] = (),
) -> list[Ranked]:
    """`keys` ranked for one member: fit and score in one call."""
    return MemberModel(space, signals, team).rank(keys)


def team_predict(
    space: PaperSpace, ratings: Sequence[TeamRating], keys: Sequence[Key]
) -> dict[Key, float]:
    """What the team would rate each of `keys`, 1-5, from all members' ratings
    (TeamPredictor, made for one question)."""
    return TeamPredictor(space, ratings)(keys)


class TeamPredictor:
    """What the team would rate a paper, 1-5, from all members' ratings, the ratings'
    side worked out once for any number of questions.

    A rated paper's prediction is its raters' mean, pulled a little to the team's mean;
    an unrated one's is the team's mean moved by its nearest rated papers, each weighing
    by its closeness, so a paper like nothing rated is predicted to be average.
    """

    def __init__(self, space: PaperSpace, ratings: Sequence[TeamRating]) -> None:
        self.space = space
        values: dict[Key, list[int]] = defaultdict(list)
        for rating in ratings:
            if rating.key in space.row:
                values[rating.key].append(rating.value)
        self.rated = list(values)
        self.index = {k: i for i, k in enumerate(self.rated)}
        self.counts = np.array([len(values[k]) for k in self.rated], dtype=np.float64)
        self.means = (
            np.array([sum(values[k]) for k in self.rated], dtype=np.float64) / self.counts
            if self.rated
            else np.zeros(0)
        )
        self.team_mean = (
            float((self.means * self.counts).sum() / self.counts.sum()) if self.rated else 0.0
        )
        self._rated_rows = space.rows(self.rated) if self.rated else np.zeros(0, dtype=np.int64)
        # The rated papers' vectors, gathered once: each question multiplies by them.
        self._rated_vectors = (
            np.ascontiguousarray(space.vectors[self._rated_rows].T)
            if space.vectors is not None and self.rated
            else None
        )

    def __call__(self, keys: Sequence[Key]) -> dict[Key, float]:
        if not keys or not self.rated:
            return {}
        means, counts, team_mean, index = self.means, self.counts, self.team_mean, self.index
        out: dict[Key, float] = {}
        for key in keys:
            if key in index:
                j = index[key]
                out[key] = float((means[j] * counts[j] + team_mean) / (counts[j] + 1))
        # Only the papers nobody rated need their neighbours.
        unrated = [key for key in keys if key not in index]
        if not unrated:
            return out
        rows = self.space.rows(unrated)
        if self._rated_vectors is not None and self.space.vectors is not None:
            sim = self.space.vectors[rows] @ self._rated_vectors
        else:
            sim = self.space.similarity(rows, self._rated_rows)
        k = min(TEAM_NEIGHBOURS, len(self.rated))
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        top_sim = np.take_along_axis(sim, top, axis=1)
        weights = np.exp((top_sim - 1.0) / TEAM_TEMPERATURE) * counts[top]
        prior = np.exp((TEAM_PRIOR_SIMILARITY - 1.0) / TEAM_TEMPERATURE)
        neighbours = (weights * (means[top] - team_mean)).sum(axis=1) / (
            weights.sum(axis=1) + prior
        )
        predicted = np.clip(team_mean + neighbours, 1.0, 5.0)
        out |= {key: float(value) for key, value in zip(unrated, predicted, strict=True)}
        return {key: out[key] for key in keys}
