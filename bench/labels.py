"""Topic labels on the real corpus: the share holding a generic word, single-word c-TF-IDF
labels against keyphrase labels, on the same clustering.

    python bench/labels.py            # prints both shares and every label
"""

from __future__ import annotations

import numpy as np
from _setup import corpus_vectors, require_corpus, setup_django

setup_django()

from pipeline import clustering as clusterer  # noqa: E402
from pipeline.embedding import paper_text  # noqa: E402


def main() -> None:
    records = require_corpus()
    texts = [paper_text(r.title, r.abstract) for r in records]
    vectors = corpus_vectors(records)
    k = clusterer.choose_k(len(texts))
    result = clusterer.fit(vectors, k, seed=0)
    k = len(result.centroids)
    sizes = np.bincount(result.labels, minlength=k)
    before = [
        clusterer.label_from_terms(t) for t in clusterer.ctfidf_terms(texts, result.labels, k)
    ]
    after = [
        clusterer.label_from_terms(t) for t in clusterer.keyphrase_terms(texts, result.labels, k)
    ]
    print(f"{len(texts)} papers, {k} topics")
    print(f"generic-word share: c-TF-IDF words {clusterer.generic_share(before):.2f}")
    print(f"generic-word share: keyphrases     {clusterer.generic_share(after):.2f}")
    for i in np.argsort(-sizes):
        print(f"{sizes[i]:4d}  {before[i]:<50}  {after[i]}")


if __name__ == "__main__":
    main()
