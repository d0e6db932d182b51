"""Semantic reads over the embeddings: similar papers (and, later, search)."""

from __future__ import annotations

import numpy as np
from django.conf import settings

from tracker.papers.models import Embedding, Paper


def similar_papers(paper: Paper, limit: int = 10) -> list[tuple[Paper, float]]:
    """The visible papers nearest to `paper` by cosine over the configured model's vectors."""
    model_name = settings.EMBEDDING_MODEL
    own = Embedding.objects.filter(paper=paper, model_name=model_name).first()
    if own is None:
        return []
    rows = list(
        Embedding.objects.filter(model_name=model_name, paper__hidden=False)
        .exclude(paper=paper)
        .values_list("paper_id", "vector")
    )
    if not rows:
        return []
    ids = np.array([pid for pid, _ in rows])
    matrix = np.vstack([np.frombuffer(bytes(vec), dtype="<f4") for _, vec in rows])
    scores = matrix @ own.as_array()
    order = np.argsort(-scores)[:limit]
    papers = Paper.objects.in_bulk([int(ids[i]) for i in order])
    return [(papers[int(ids[i])], float(scores[i])) for i in order if int(ids[i]) in papers]
