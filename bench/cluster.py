"""Our clustering (spherical k-means + c-TF-IDF) against BERTopic's default pipeline
(UMAP + HDBSCAN + c-TF-IDF) on the same real-corpus embeddings, then a 100k-paper run.

    python bench/cluster.py            # needs the `bench` extra (bertopic)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np
from _setup import corpus_vectors, require_corpus, setup_django

setup_django()

from sklearn.feature_extraction.text import CountVectorizer  # noqa: E402
from sklearn.metrics import v_measure_score  # noqa: E402

from pipeline import clustering as clusterer  # noqa: E402
from pipeline.embedding import paper_text  # noqa: E402

SEED = 0


def ours(texts: list[str], vectors: np.ndarray, previous: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    k = clusterer.choose_k(len(texts))
    result = clusterer.fit(vectors, k, previous=previous, seed=SEED)
    result.terms = clusterer.ctfidf_terms(texts, result.labels, len(result.centroids))
    clusterer.layout(result, vectors)
    return result.labels, result.terms, result.centroids


def bertopic(texts: list[str], vectors: np.ndarray):  # type: ignore[no-untyped-def]
    from bertopic import BERTopic
    from umap import UMAP

    # The default pipeline; only UMAP's seed is fixed so that runs are comparable.
    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=SEED
    )
    model = BERTopic(umap_model=umap_model)
    labels, _ = model.fit_transform(texts, vectors)
    labels = np.array(labels)
    topics = sorted(t for t in set(labels.tolist()) if t >= 0)
    terms = [[w for w, _ in model.get_topic(t)][:10] for t in topics]
    centroids = np.vstack([clusterer.normalise(vectors[labels == t]).mean(0) for t in topics])
    return labels, terms, clusterer.normalise(centroids)


def npmi(texts: list[str], terms: list[list[str]], top: int = 10) -> float:
    """Mean NPMI of each topic's top words over document co-occurrence in the corpus."""
    topic_words = []
    for t in terms:
        words: list[str] = []
        for term in t:
            for w in term.split():
                if w not in words:
                    words.append(w)
        topic_words.append(words[:top])
    vocab = sorted({w for ws in topic_words for w in ws})
    docs = CountVectorizer(
        vocabulary=vocab, binary=True, token_pattern=r"(?u)\b\w[\w\-]*\b", lowercase=True
    )
    matrix = docs.fit_transform(texts).tocsc().astype(np.float64)
    n = matrix.shape[0]
    col = {w: i for i, w in enumerate(vocab)}
    scores = []
    for words in topic_words:
        pairs = []
        for i in range(len(words)):
            for j in range(i + 1, len(words)):
                a, b = matrix[:, col[words[i]]], matrix[:, col[words[j]]]
                p_a, p_b = a.sum() / n, b.sum() / n
                p_ab = a.multiply(b).sum() / n
                if p_ab == 0 or p_a == 0 or p_b == 0:
                    pairs.append(-1.0)
                elif p_ab == 1:
                    pairs.append(1.0)
                else:
                    pairs.append(np.log(p_ab / (p_a * p_b)) / -np.log(p_ab))
        if pairs:
            scores.append(float(np.mean(pairs)))
    return float(np.mean(scores)) if scores else 0.0


def diversity(terms: list[list[str]], top: int = 10) -> float:
    words = [w for t in terms for w in " ".join(t).split()[:top]]
    return len(set(words)) / max(len(words), 1)


def evaluate(name, method, texts, vectors, categories):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    labels, terms, centroids = method(texts, vectors)
    seconds = time.perf_counter() - started
    return {
        "name": name,
        "topics": len(terms),
        "v_measure": v_measure_score(categories, labels),
        "npmi": npmi(texts, terms),
        "diversity": diversity(terms),
        "no_topic": float((labels < 0).mean()),
        "seconds": seconds,
        "labels": labels,
        "terms": terms,
        "centroids": centroids,
    }


def stability(method_name, texts, vectors):  # type: ignore[no-untyped-def]
    """Cluster 90%, add the other 10%, cluster again; share of the first 90% whose
    (matched) topic stayed the same."""
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(texts))
    first = np.sort(order[: int(len(texts) * 0.9)])
    sub_texts = [texts[i] for i in first]
    if method_name == "ours":
        labels_a, _, cent_a = ours(sub_texts, vectors[first])
        labels_b, _, cent_b = ours(texts, vectors, previous=cent_a)
    else:
        labels_a, _, cent_a = bertopic(sub_texts, vectors[first])
        labels_b, _, cent_b = bertopic(texts, vectors)
    old_labels = np.full(len(texts), -1)
    old_labels[first] = labels_a
    pairs = clusterer.match(cent_b, labels_b, cent_a, old_labels)
    earlier = labels_b[first]
    kept = [pairs.get(int(b)) == int(a) and a >= 0 for a, b in zip(labels_a, earlier, strict=True)]
    return float(np.mean(kept))


def large_run() -> None:
    """Child process: 100,000 papers from the corpus vectors plus small noise. Prints
    seconds, peak memory of this process alone, and k."""
    records = require_corpus()
    texts = [paper_text(r.title, r.abstract) for r in records]
    vectors = corpus_vectors(records)
    rng = np.random.default_rng(SEED)
    reps = -(-100_000 // len(vectors))
    big = np.vstack(
        [vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32) for _ in range(reps)]
    )[:100_000]
    big_texts = (texts * reps)[:100_000]
    started = time.perf_counter()
    k = clusterer.choose_k(len(big))
    result = clusterer.fit(big, k, seed=SEED)
    result.terms = clusterer.ctfidf_terms(big_texts, result.labels, len(result.centroids))
    clusterer.layout(result, big)
    seconds = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(json.dumps({"seconds": seconds, "peak_gb": peak_gb, "k": k}))


def main() -> None:
    records = require_corpus()
    texts = [paper_text(r.title, r.abstract) for r in records]
    categories = [r.categories[0] if r.categories else "" for r in records]
    vectors = corpus_vectors(records)
    print(f"corpus: {len(texts)} real papers, {len(set(categories))} primary categories\n")

    mine = evaluate("ours (spherical k-means)", ours, texts, vectors, categories)
    theirs = evaluate("BERTopic default", bertopic, texts, vectors, categories)
    mine["kept"] = stability("ours", texts, vectors)
    theirs["kept"] = stability("bertopic", texts, vectors)

    rows = [
        ("topics", "topics", "{:.0f}"),
        ("V-measure vs primary category", "v_measure", "{:.3f}"),
        ("NPMI coherence (top 10 words)", "npmi", "{:.3f}"),
        ("topic diversity", "diversity", "{:.3f}"),
        ("share without topic", "no_topic", "{:.1%}"),
        ("kept identity after +10% papers", "kept", "{:.1%}"),
        ("wall time (s)", "seconds", "{:.1f}"),
    ]
    print(f"{'':34s}{'ours':>12s}{'BERTopic':>12s}{'ratio':>16s}")
    for title, key, fmt in rows:
        a, b = mine[key], theirs[key]
        ratio = "" if key == "no_topic" else f"{(a / b if b else float('inf')):.2f}x"
        if key == "seconds":
            ratio = f"{b / a:.1f}x faster"
        print(f"{title:34s}{fmt.format(a):>12s}{fmt.format(b):>12s}{ratio:>16s}")
    print("\nour largest topics:")
    sizes = np.bincount(mine["labels"][mine["labels"] >= 0])
    for i in np.argsort(-sizes)[:12]:
        print(f"  {sizes[i]:4d}  {clusterer.label_from_terms(mine['terms'][i])}")

    # A separate process, so that its peak memory is its own and not BERTopic's.
    child = subprocess.run(
        [sys.executable, __file__, "--large"], capture_output=True, text=True, check=True
    )
    large = json.loads(child.stdout.strip().splitlines()[-1])
    seconds, peak_gb, k = large["seconds"], large["peak_gb"], large["k"]
    verdict = "ok" if seconds < 300 and peak_gb < 3 else "OVER TARGET"
    print(
        f"\n100,000 papers (real vectors + noise), {k} topics: "
        f"{seconds:.0f}s, peak {peak_gb:.2f} GB "
        f"(target < 300s, < 3 GB): {verdict}"
    )


if __name__ == "__main__":
    if "--large" in sys.argv:
        large_run()
    else:
        main()
