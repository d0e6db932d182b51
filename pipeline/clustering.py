"""Topic modelling on normalised embeddings: spherical k-means, c-TF-IDF labels, a 2-D map.

Why not UMAP + HDBSCAN: on paper abstracts HDBSCAN leaves a third of the papers as noise
and UMAP dominates the run time; k-means on the unit sphere assigns every paper, runs in
seconds at 100k papers, and can start from the previous run's centroids, which keeps
topics stable from one night to the next. Nothing here touches the database.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

# Words every abstract uses: they say nothing about what a topic is.
BOILERPLATE = {
    "paper",
    "propose",
    "proposed",
    "proposes",
    "present",
    "presents",
    "introduce",
    "introduces",
    "introducing",
    "approach",
    "approaches",
    "method",
    "methods",
    "results",
    "result",
    "show",
    "shows",
    "demonstrate",
    "demonstrates",
    "achieve",
    "achieves",
    "achieving",
    "performance",
    "state",
    "art",
    "existing",
    "based",
    "using",
    "work",
    "significantly",
    "extensive",
    "experiments",
    "experimental",
    "code",
    "available",
    "github",
    "https",
    "http",
    "com",
    "www",
    "io",
    "novel",
    "new",
    "framework",
    "effectively",
    "effective",
    "improve",
    "improves",
    "improved",
    "improving",
    "furthermore",
    "moreover",
    "address",
    "challenges",
    "challenging",
    "outperforms",
    "outperforming",
    "superior",
    "key",
    "various",
    "different",
    "including",
    "paradigm",
    "enables",
    "enable",
    "release",
    "project",
    "page",
    "publicly",
    "significant",
    "comprehensive",
    "study",
    "studies",
    "remains",
    "remain",
    "recent",
    "advances",
    "widely",
    "leverages",
    "leverage",
    "leveraging",
    "specifically",
    "strong",
    "wide",
    "range",
    "high",
    "quality",
    "model",
    "models",
    "across",
    "tasks",
    "task",
    "large",
}
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | BOILERPLATE)
WORD_PATTERN = r"(?u)\b[^\W\d_][\w\-]*[^\W_]\b"
# Past this many papers the label statistics come from a sample: labels stay the same,
# the vocabulary pass stops dominating the run time.
LABEL_SAMPLE = 40_000
# Words in more than this share of papers ("language", "image") fit many topics and name
# none; leaving them out makes labels specific.
MAX_DF = 0.15
# Soft assignment temperature for the map: papers sit between the topics they resemble.
MAP_TEMPERATURE = 0.02


@dataclass
class Clustering:
    labels: np.ndarray  # (n,) topic index per paper, -1 for none
    centroids: np.ndarray  # (k, d) L2-normalised
    similarity: np.ndarray  # (n,) cosine to own centroid
    terms: list[list[str]] = field(default_factory=list)  # per topic, best first
    topic_xy: np.ndarray | None = None  # (k, 2) in [0, 1]
    paper_xy: np.ndarray | None = None  # (n, 2) in [0, 1]


def choose_k(n: int, requested: int = 0) -> int:
    """Enough topics to be specific (~1.5 per sqrt(n)), never more than papers / 5."""
    k = requested or round(math.sqrt(n) / 1.5)
    return max(1, min(k, 300, max(1, n // 5)))


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def warm_start(vectors: np.ndarray, k: int, previous: np.ndarray | None, seed: int) -> np.ndarray:
    """Start from the previous centroids (stability); fill any extra slots with the papers
    that fit those centroids worst, which is where new topics appear."""
    if previous is None or len(previous) == 0 or previous.shape[1] != vectors.shape[1]:
        return np.empty((0, vectors.shape[1]), dtype=np.float32)
    init = previous[:k]
    if len(init) < k:
        fit = (vectors @ init.T).max(axis=1)
        rng = np.random.default_rng(seed)
        worst = np.argsort(fit)[: max(k * 10, 100)]
        extra = rng.choice(worst, size=k - len(init), replace=False)
        init = np.vstack([init, vectors[extra]])
    return normalise(init)


def fit(
    vectors: np.ndarray, k: int, previous: np.ndarray | None = None, seed: int = 0
) -> Clustering:
    x = normalise(vectors)
    k = min(k, len(x))
    init = warm_start(x, k, previous, seed)
    if len(init) == k:
        km = KMeans(k, init=init, n_init=1, max_iter=60, tol=1e-4, random_state=seed)
    else:
        # Two restarts pay off on small corpora; on large ones k-means++ alone is stable.
        n_init = 2 if len(x) <= 20_000 else 1
        km = KMeans(k, init="k-means++", n_init=n_init, max_iter=60, tol=1e-4, random_state=seed)
    labels = km.fit_predict(x)
    centroids = normalise(km.cluster_centers_)
    similarity = np.einsum("ij,ij->i", x, centroids[labels])
    return Clustering(labels=labels.astype(np.int64), centroids=centroids, similarity=similarity)


# Streaming: a pass reads this many papers at a time, never all of them.
STREAM_BATCH = 10_000
# Lloyd steps over all papers at most, each one pass; a run stops sooner once fewer than
# STREAM_SETTLED of the papers change topic in a step.
STREAM_PASSES = 6
STREAM_SETTLED = 0.005
# Papers read to seed the centroids when there is no previous run (k-means on them) and
# to fill the slots of new topics when there is.
STREAM_SEED_ROWS = 50_000


# A new pass over every paper: batches of (paper ids, vectors), in the same order each time.
VectorPasses = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


def fit_stream(
    passes: VectorPasses,
    k: int,
    previous: np.ndarray | None = None,
    seed: int = 0,
    max_passes: int = STREAM_PASSES,
    seed_rows: int = STREAM_SEED_ROWS,
) -> tuple[np.ndarray, Clustering]:
    """Spherical k-means over vectors that never sit in memory all at once. Returns the
    papers' ids as the last pass read them, and their clustering.

    `passes()` starts a new pass over every paper's vector, batch by batch. The centroids
    start from `previous` (so topics keep their identity; new slots from the seed rows that
    fit them worst) or, on a first run, from k-means over the seed rows. Each further pass
    is one exact Lloyd step: every paper joins its nearest centroid and each centroid
    becomes the mean direction of its papers, summed batch by batch. A last pass assigns
    each paper, its similarity and its map position. Memory holds one batch, the seed rows,
    k sums and a few numbers per paper.
    """
    head = _first_rows(passes, seed_rows)
    if len(head) == 0:
        raise ValueError("no vectors to cluster")
    k = min(k, len(head))
    centroids = warm_start(head, k, previous, seed)
    if len(centroids) < k:
        km = KMeans(k, init="k-means++", n_init=1, max_iter=60, tol=1e-4, random_state=seed)
        centroids = normalise(km.fit(head).cluster_centers_)
    del head
    last: np.ndarray | None = None
    for _ in range(max_passes):
        sums = np.zeros_like(centroids, dtype=np.float64)
        own_labels = []
        for _, batch in passes():
            if not len(batch):
                continue
            x = normalise(batch)
            own = (x @ centroids.T).argmax(axis=1)
            member = sparse.csr_matrix(
                (np.ones(len(x), dtype=np.float32), (own, np.arange(len(x)))),
                shape=(k, len(x)),
            )
            sums += member @ x
            own_labels.append(own.astype(np.int32))
        labels = np.concatenate(own_labels) if own_labels else np.zeros(0, dtype=np.int32)
        filled = np.linalg.norm(sums, axis=1) > 0
        # A topic no paper chose keeps its centroid rather than vanishing.
        centroids = np.where(filled[:, None], normalise(sums.astype(np.float32)), centroids)
        changed = 1.0 if last is None or len(last) != len(labels) else (last != labels).mean()
        last = labels
        if changed < STREAM_SETTLED:
            break
    del last
    topic_xy = topic_positions(centroids)
    ids, labels_out, similarity, paper_xy = [], [], [], []
    for batch_ids, batch in passes():
        if not len(batch):
            continue
        x = normalise(batch)
        ids.append(np.asarray(batch_ids, dtype=np.int64))
        sims = x @ centroids.T
        own = sims.argmax(axis=1)
        labels_out.append(own.astype(np.int64))
        similarity.append(sims[np.arange(len(x)), own].astype(np.float32))
        paper_xy.append(paper_positions(x, centroids, own, topic_xy, seed).astype(np.float32))
    if not ids:
        raise ValueError("no vectors to cluster")
    result = Clustering(
        labels=np.concatenate(labels_out),
        centroids=centroids,
        similarity=np.concatenate(similarity),
    )
    result.topic_xy, result.paper_xy = fit_to_square(topic_xy, np.concatenate(paper_xy))
    return np.concatenate(ids), result


def _first_rows(passes: VectorPasses, rows: int) -> np.ndarray:
    """The first `rows` normalised vectors of a pass (it stops reading there)."""
    taken: list[np.ndarray] = []
    count = 0
    for _, batch in passes():
        if not len(batch):
            continue
        taken.append(normalise(batch[: rows - count]))
        count += len(taken[-1])
        if count >= rows:
            break
    return np.vstack(taken) if taken else np.zeros((0, 1), dtype=np.float32)


def label_sample(n: int, seed: int = 0) -> np.ndarray:
    """Which of `n` papers (in order) the label statistics read: all up to LABEL_SAMPLE,
    past it an even random sample. Callers fetch only these papers' texts."""
    if n <= LABEL_SAMPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(np.arange(n), LABEL_SAMPLE, replace=False))


def ctfidf_terms(
    texts: Sequence[str], labels: np.ndarray, k: int, top: int = 10, seed: int = 0
) -> list[list[str]]:
    """Each topic's most distinctive words and bigrams (BERTopic's class-based TF-IDF)."""
    idx = label_sample(len(texts), seed)
    keep = labels[idx] >= 0
    idx = idx[keep]
    if len(idx) == 0:
        return [[] for _ in range(k)]
    vectorizer = CountVectorizer(
        ngram_range=(1, 2),
        stop_words=STOP_WORDS,
        token_pattern=WORD_PATTERN,
        lowercase=True,
        min_df=min(3, len(idx)),
        max_df=MAX_DF if len(idx) > 200 else 1.0,
        max_features=60_000,
    )
    counted = _topic_counts(vectorizer, [texts[int(i)] for i in idx], labels[idx], k)
    if counted is None:
        return [[] for _ in range(k)]
    per_topic, vocab = counted
    scores = _ctfidf(per_topic, k)
    terms = []
    for row in scores:
        order = np.argsort(-row)[:top]
        terms.append([str(vocab[i]) for i in order if row[i] > 0])
    return terms


def _topic_counts(
    vectorizer: CountVectorizer,
    texts: Sequence[str] | Sequence[list[str]],
    labels: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(topics x terms) counts and the terms, or None when no text has a term left. The
    texts are what the vectorizer's analyzer reads: strings, or words already found."""
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words
        return None
    membership = sparse.csr_matrix(
        (np.ones(len(texts)), (labels, np.arange(len(texts)))), shape=(k, len(texts))
    )
    per_topic = np.asarray((membership @ counts).todense(), dtype=np.float64)
    return per_topic, vectorizer.get_feature_names_out()


def _ctfidf(per_topic: np.ndarray, k: int) -> np.ndarray:
    """Class-based TF-IDF of a (topics x terms) count matrix."""
    tf = per_topic / np.maximum(per_topic.sum(axis=1, keepdims=True), 1)
    avg_words = per_topic.sum() / max(k, 1)
    idf = np.log1p(avg_words / np.maximum(per_topic.sum(axis=0), 1))
    return tf * idf


def _stem(word: str) -> str:
    """Plural and singular count as one word in a label ("attack", "attacks")."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def label_from_terms(terms: Sequence[str], size: int = 3) -> str:
    """Up to `size` distinctive terms, no word repeated: 'hallucination / lvlms / visual'."""
    chosen: list[str] = []
    words: set[str] = set()
    # A bigram among the top few reads better than its two words apart.
    ranked = sorted(terms[:6], key=lambda t: (" " not in t, terms.index(t)))
    for term in ranked + list(terms[6:]):
        parts = {_stem(w) for w in re.split(r"[\s\-]", term)}
        if parts & words:
            continue
        chosen.append(term)
        words |= parts
        if len(chosen) == size:
            break
    return " / ".join(chosen) or "unlabelled"


def layout(clustering: Clustering, vectors: np.ndarray, seed: int = 0) -> None:
    """2-D positions: topics by classical MDS of their centroids, papers between the topics
    they resemble (softmax over similarities) plus a little of their own spread."""
    topic_xy = topic_positions(clustering.centroids)
    paper_xy = paper_positions(
        normalise(vectors), clustering.centroids, clustering.labels, topic_xy, seed
    )
    clustering.topic_xy, clustering.paper_xy = fit_to_square(topic_xy, paper_xy)


def topic_positions(centroids: np.ndarray) -> np.ndarray:
    """Topics on the plane by classical MDS of their centroids (not yet scaled)."""
    c = centroids
    k = len(c)
    if k >= 3:
        gram = c @ c.T
        centred = gram - gram.mean(0) - gram.mean(1)[:, None] + gram.mean()
        values, vecs = np.linalg.eigh(centred)
        return np.asarray(vecs[:, -2:] * np.sqrt(np.maximum(values[-2:], 1e-9)))
    return np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])[:k]


def paper_positions(
    x: np.ndarray, centroids: np.ndarray, labels: np.ndarray, topic_xy: np.ndarray, seed: int
) -> np.ndarray:
    """Normalised papers `x` between the topics they resemble, plus their own offset from
    their centroid along two fixed random directions (not yet scaled). Row by row, so a
    batch at a time gives the same positions as all papers at once."""
    c = centroids
    sims = x @ c.T
    weights = np.exp((sims - sims.max(axis=1, keepdims=True)) / MAP_TEMPERATURE)
    weights /= weights.sum(axis=1, keepdims=True)
    paper_xy = weights @ topic_xy
    rng = np.random.default_rng(seed)
    directions = normalise(rng.standard_normal((2, x.shape[1])).astype(np.float32))
    own = labels.clip(min=0)
    offset = (x - c[own]) @ directions.T
    spread = np.ptp(topic_xy, axis=0).max() if len(c) > 1 else 1.0
    return np.asarray(paper_xy + offset * spread * 0.05)


def fit_to_square(topic_xy: np.ndarray, paper_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets of positions scaled together into [0, 1]."""
    lo = np.minimum(paper_xy.min(axis=0), topic_xy.min(axis=0))
    hi = np.maximum(paper_xy.max(axis=0), topic_xy.max(axis=0))
    scale = np.maximum(hi - lo, 1e-9)
    return (topic_xy - lo) / scale, (paper_xy - lo) / scale


def place(vectors: np.ndarray, centroids: np.ndarray, topic_xy: np.ndarray) -> np.ndarray:
    """Map positions for papers that join between runs, consistent with `layout`."""
    sims = normalise(vectors) @ centroids.T
    weights = np.exp((sims - sims.max(axis=1, keepdims=True)) / MAP_TEMPERATURE)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.clip(weights @ topic_xy, 0.0, 1.0)


def match(
    new_centroids: np.ndarray,
    new_labels: np.ndarray,
    old_centroids: np.ndarray,
    old_labels: np.ndarray,
) -> dict[int, int]:
    """Pair new topics with previous ones (Hungarian assignment on membership overlap and
    centroid similarity). `old_labels` holds, per paper of the new run, its previous
    topic index or -1. Returns {new index: old index}."""
    if len(old_centroids) == 0 or len(new_centroids) == 0:
        return {}
    k, m = len(new_centroids), len(old_centroids)
    both = old_labels >= 0
    overlap = np.zeros((k, m))
    np.add.at(overlap, (new_labels[both], old_labels[both]), 1)
    new_sizes = np.bincount(new_labels[new_labels >= 0], minlength=k)[:, None]
    old_sizes = np.bincount(old_labels[both], minlength=m)[None, :]
    jaccard = overlap / np.maximum(new_sizes + old_sizes - overlap, 1)
    cosine = (
        new_centroids @ old_centroids.T
        if old_centroids.shape[1] == new_centroids.shape[1]
        else np.zeros((k, m))
    )
    score = jaccard + 0.5 * np.clip(cosine - 0.5, 0, None)
    rows, cols = linear_sum_assignment(-score)
    return {
        int(r): int(c)
        for r, c in zip(rows, cols, strict=True)
        if jaccard[r, c] >= 0.2 or cosine[r, c] >= 0.85
    }


# --- keyphrase labels --------------------------------------------------------------------

# A word in more than this share of all papers is corpus-wide ("neural", "learning" on an
# ML corpus): it fits every topic and names none, so no label phrase may hold one.
CORPUS_WIDE_DF = 0.04
# Candidates per topic handed to the diversity pass; the label keeps a few of them.
KEYPHRASE_CANDIDATES = 40
# Relevance against novelty in maximal marginal relevance: mostly relevance, enough
# novelty that "speech recognition" and "speech recognition asr" are not both kept.
MMR_LAMBDA = 0.7


_WORD = re.compile(WORD_PATTERN)
_STOP = frozenset(STOP_WORDS)


def contiguous_phrases(text: str) -> list[str]:
    """1-3-grams of words that stand next to each other in the text. CountVectorizer drops
    stop words before it makes n-grams, so "aligning language models with humans" would
    give "aligning language humans"; here a stop word ends the phrase instead."""
    return _phrases(_words(text))


def _words(text: str) -> list[str]:
    """The text's words as CountVectorizer's WORD_PATTERN finds them, lower-cased, stop
    words kept (they end phrases)."""
    return _WORD.findall(text.lower())


def _phrases(words: list[str]) -> list[str]:
    """contiguous_phrases of words already found."""
    phrases: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if word and word not in _STOP:
            run.append(word)
            continue
        if run:
            phrases += run
            pairs = [f"{a} {b}" for a, b in pairwise(run)]
            phrases += pairs
            phrases += [f"{pair} {c}" for pair, c in zip(pairs, run[2:], strict=False)]
            run = []
    return phrases


def _phrase_words(phrase: str) -> set[str]:
    return {_stem(w) for w in re.split(r"[\s\-]", phrase) if w}


def _corpus_wide_words(words: Sequence[list[str]]) -> set[str]:
    """Words (besides stop words) present in more than CORPUS_WIDE_DF of the papers, from
    each paper's words."""
    if len(words) < 50:
        return set()
    df: Counter[str] = Counter()
    for text_words in words:
        df.update(set(text_words))
    return {w for w, n in df.items() if n / len(words) > CORPUS_WIDE_DF and w not in _STOP}


def mmr_select(candidates: Sequence[tuple[str, float]], size: int) -> list[str]:
    """Pick `size` phrases by maximal marginal relevance: each next one is the best scored
    phrase discounted by its word overlap (stemmed Jaccard) with the phrases already kept."""
    if not candidates:
        return []
    top = max(score for _, score in candidates) or 1.0
    pool = [(phrase, score / top, _phrase_words(phrase)) for phrase, score in candidates]
    chosen: list[tuple[str, set[str]]] = []
    while pool and len(chosen) < size:

        def gain(item: tuple[str, float, set[str]]) -> float:
            _, relevance, words = item
            overlap = max(
                (len(words & kept) / len(words | kept) for _, kept in chosen), default=0.0
            )
            return MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * overlap

        best = max(pool, key=gain)
        pool.remove(best)
        # A phrase inside one already kept (or holding one) adds no new word to the label.
        if any(best[2] <= kept or kept <= best[2] for _, kept in chosen):
            continue
        chosen.append((best[0], best[2]))
    return [phrase for phrase, _ in chosen]


def keyphrase_terms(
    texts: Sequence[str], labels: np.ndarray, k: int, top: int = 10, seed: int = 0
) -> list[list[str]]:
    """Each topic's keyphrases: 1-3-grams scored by class-based TF-IDF, none holding a
    corpus-wide word, then chosen for diversity (MMR), best first."""
    idx = label_sample(len(texts), seed)
    idx = idx[labels[idx] >= 0]
    if len(idx) == 0:
        return [[] for _ in range(k)]
    # Each text is split into words once; the corpus-wide words and the phrases both read them.
    sample = [_words(texts[int(i)]) for i in idx]
    wide = _corpus_wide_words(sample)
    vectorizer = CountVectorizer(
        analyzer=_phrases,
        min_df=min(3, len(idx)),
        max_df=MAX_DF if len(idx) > 200 else 1.0,
        max_features=120_000,
    )
    counted = _topic_counts(vectorizer, sample, labels[idx], k)
    if counted is None:
        return [[] for _ in range(k)]
    per_topic, vocab = counted
    # A corpus-wide word may sit inside a phrase ("object detection", "point cloud") but a
    # phrase made of nothing else ("deep learning", "neural networks") names no topic.
    specific = np.array([not set(v.split()) <= wide for v in vocab])
    # A phrase of n words is rarer than each of its words; weighting it by its length lets
    # "speech recognition" beat "speech" when the topic uses the two together.
    length = np.array([1.0 + 0.5 * v.count(" ") for v in vocab])
    scores = _ctfidf(per_topic, k) * length * specific
    terms = []
    for row in scores:
        order = np.argsort(-row)[:KEYPHRASE_CANDIDATES]
        candidates = [(str(vocab[i]), float(row[i])) for i in order if row[i] > 0]
        terms.append(mmr_select(candidates, top))
    return terms


# Words that name no topic of an ML corpus: a label holding one says little. Used to
# measure labels (bench/cluster.py, tests), not to make them.
GENERIC_WORDS = frozenset(
    {
        "ai", "approach", "data", "deep", "findings", "framework", "gradient", "learning",
        "method", "model", "models", "network", "networks", "neural", "novel", "performance",
        "results", "system", "systems", "task", "tasks", "training", "via",
    }
)  # fmt: skip


def generic_share(labels: Sequence[str]) -> float:
    """Share of labels with a generic part: a term of the label ("a / b / c") made of
    GENERIC_WORDS alone, such as "neural networks" or "ai". "reinforcement learning"
    names a topic and does not count."""
    if not labels:
        return 0.0

    def generic(label: str) -> bool:
        parts = [set(re.split(r"[\s\-]+", p.strip().lower())) for p in label.split("/")]
        return any(part and part <= GENERIC_WORDS for part in parts)

    return sum(1 for label in labels if generic(label)) / len(labels)
