"""Text similarity for FEWL: cosine of sentence embeddings, each distinct text embedded once.

The paper measures answer agreement with Vectara's HHEM consistency model; reliant's default
is the cosine of the packaged all-MiniLM-L6-v2 embeddings (:func:`reliant.core.embeddings.embed`),
which runs offline on CPU. Any object with ``encode(texts) -> (len(texts), d)`` unit rows can
stand in (tests use one-hot vectors, i.e. "identical text" similarity).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["TextEncoder", "OneHotEncoder", "pairwise_rows"]


class TextEncoder:
    """Embeds texts with a sentence-transformers model, remembering every text it has seen.

    Scoring a dataset touches the same strings many times (a reference answer is compared
    with every candidate, and again as a neighbour's answer); the memo makes each distinct
    text cost one forward pass per encoder.
    """

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        batch_size: int = 64,
        show_progress: bool = False,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from reliant.core.embeddings import embed

        new = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if new:
            cache = None
            if self.cache_dir is not None:
                from reliant.core.embeddings import cache_file

                cache = cache_file(self.cache_dir, new)
            vectors = np.asarray(
                embed(new, self.model, batch_size=self.batch_size, show_progress=self.show_progress, cache=cache),
                dtype=np.float32,
            )
            start = len(self._rows)
            self._vectors = vectors if start == 0 else np.concatenate([self._vectors, vectors])
            self._rows.update({t: start + i for i, t in enumerate(new)})
        if not texts:
            return np.zeros((0, self._vectors.shape[1] if self._vectors.size else 0), dtype=np.float32)
        return self._vectors[[self._rows[t] for t in texts]]


class OneHotEncoder:
    """Each distinct text is its own axis: similarity 1 for identical texts, 0 otherwise."""

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim
        self._rows: dict[str, int] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            index = self._rows.setdefault(text, len(self._rows))
            if index >= self.dim:
                raise ValueError(f"OneHotEncoder holds at most {self.dim} distinct texts")
            out[row, index] = 1.0
        return out


def pairwise_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products along the last axis (cosines for unit rows), broadcasting."""
    return np.einsum("...d,...d->...", a, b)
