"""A static token table distilled from the configured model: the fast, switchable backend.

Each vocabulary token goes through the transformer once (as `[CLS] token [SEP]`, pooled
the way the model pools) and the table is centred, which removes the direction every token
shares. A text is then the mean of its tokens' rows: no attention, so encoding costs a
tokenizer pass and a lookup. Single tokens out of context are a weak teacher, so when
the database already holds the model's own vectors for some papers, the table is then
fitted to reproduce them (kernel ridge regression on bag-of-tokens, a few seconds for a
few thousand papers). The raw table is computed from the local model on first use and kept
in the cache directory, so nothing is downloaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from pipeline.embedding.cache import made_once, model_file

logger = logging.getLogger(__name__)

# A transformers tokenizer: called with texts, it gives a mapping of token id arrays.
Tokenizer = Callable[..., Any]

DISTILL_BATCH = 512
MAX_TOKENS = 512
# Ridge strength for the fit to the model's own vectors: chosen on a held-out half of the
# real corpus (1e-3 over-fits the fitted papers, 1e-1 barely moves the table).
RIDGE = 1e-2
# Papers used for the fit: its cost grows with the square of this.
FIT_EXAMPLES = 4000


class StaticEncoder:
    def __init__(
        self, name: str, tokenizer: Tokenizer, table: np.ndarray, skip: np.ndarray
    ) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.table = table
        # Special tokens carry no meaning of the text; a zero weight leaves them out.
        self.weights = np.ones(len(table), dtype="<f4")
        self.weights[skip] = 0.0
        self.dimension = int(table.shape[1])

    @classmethod
    def for_model(
        cls,
        name: str,
        path: str,
        cache_dir: Path,
        examples: tuple[list[str], np.ndarray] | None = None,
    ) -> StaticEncoder:
        """`examples`: texts and the full model's vectors for them, to fit the table to."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        table = distilled_table(path, cache_dir)
        skip = np.array(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        encoder = cls(name, tokenizer, table, skip)
        if examples is not None and len(examples[0]) >= 50:
            encoder.fit(*examples)
        return encoder

    def _bag(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Texts as rows of token shares: the product with the table is the mean row."""
        encoded = self.tokenizer(
            list(texts), add_special_tokens=False, truncation=True, max_length=MAX_TOKENS
        )["input_ids"]
        rows, cols, vals = [], [], []
        for row, ids in enumerate(encoded):
            kept = [i for i in ids if self.weights[i] > 0]
            for token in kept:
                rows.append(row)
                cols.append(token)
                vals.append(1.0 / len(kept))
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(encoded), len(self.table)))

    def fit(self, texts: Sequence[str], targets: np.ndarray) -> None:
        """Adjust the table so that texts' mean rows land on the model's own vectors."""
        texts, targets = list(texts)[:FIT_EXAMPLES], targets[:FIT_EXAMPLES]
        if targets.shape[1] != self.table.shape[1]:
            return
        bag = self._bag(texts)
        gram = (bag @ bag.T).toarray()
        residual = targets - bag @ self.table
        dual = np.linalg.solve(gram + RIDGE * np.eye(len(texts)), residual)
        self.table = np.ascontiguousarray(self.table + bag.T @ dual, dtype="<f4")

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        encoded = self.tokenizer(
            list(texts), add_special_tokens=False, truncation=True, max_length=MAX_TOKENS
        )["input_ids"]
        lengths = np.array([len(ids) for ids in encoded])
        flat = np.fromiter((i for ids in encoded for i in ids), dtype=np.int64, count=lengths.sum())
        rows = self.table[flat] * self.weights[flat, None]
        out = np.zeros((len(texts), self.dimension), dtype="<f4")
        nonempty = lengths > 0
        if flat.size:
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[nonempty]
            out[nonempty] = np.add.reduceat(rows, starts, axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        # An empty text gets a zero vector: it matches nothing rather than everything.
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype="<f4")


def _cache_path(path: str, cache_dir: Path) -> Path:
    return model_file(path, cache_dir, "static-v2", ".npy")


def distilled_table(path: str, cache_dir: Path) -> np.ndarray:
    """The model's raw table, distilled by one process the first time and read from the
    cache directory after: every worker warming its encoder on a fresh deploy would
    otherwise distil it too and write the file over the others' reads."""

    def save(partial: Path) -> None:
        table = distill_table(path)
        with partial.open("wb") as out:
            np.save(out, table)

    return np.load(made_once(_cache_path(path, cache_dir), save))


def distill_table(path: str) -> np.ndarray:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    tokenizer = model.tokenizer
    vocab_size = len(tokenizer)
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    logger.info("distilling a static table from %s (%d tokens)", path, vocab_size)
    vectors = []
    with torch.inference_mode():
        for start in range(0, vocab_size, DISTILL_BATCH):
            ids = torch.arange(start, min(start + DISTILL_BATCH, vocab_size))
            input_ids = torch.stack(
                [torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], dim=1
            )
            features = {
                "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids),
                "token_type_ids": torch.zeros_like(input_ids),
            }
            out = model(features)["sentence_embedding"]
            vectors.append(out.float().numpy())
    table = np.vstack(vectors)
    table -= table.mean(axis=0)
    return np.ascontiguousarray(table, dtype="<f4")
