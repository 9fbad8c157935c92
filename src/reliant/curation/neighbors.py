"""The k-NN graph every curation method reads, computed once per pool.

HOC needs each sample's two nearest neighbours, SimiFeat its ``k`` nearest, DS2's long-tail
score the mean distance to its ``k`` nearest over the whole pool. The official code builds
a fresh ``n x n`` distance matrix in every subsample round; here one graph with a few
spare neighbours is computed up front (:func:`reliant.core.knn.knn`, exact, or its
inverted-file faiss backend for very large pools) and each round keeps, for every sampled
row, its nearest neighbours *that are also in the round's subsample*
(:func:`restrict_to_sample`). With the spare neighbours this equals the neighbours a
search inside the subsample would find, except for the rare row whose spare list holds too
few sampled rows (reported as ``valid`` False and left out of that round).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reliant.core.errors import ConfigError
from reliant.curation.config import GRAPH_BACKENDS

# "auto" switches to the approximate inverted-file index above this many rows.
IVF_MIN_ROWS = 60_000


@dataclass
class NeighborGraph:
    """``idx[i]``: the pool rows nearest to row ``i`` (self excluded), by descending
    cosine similarity ``sims[i]``."""

    sims: np.ndarray
    idx: np.ndarray
    backend: str

    @property
    def k(self) -> int:
        return int(self.idx.shape[1])

    def __len__(self) -> int:
        return int(self.idx.shape[0])


def neighbor_graph(
    features: np.ndarray,
    k: int,
    *,
    backend: str = "auto",
    nprobe: int = 16,
    seed: int = 0,
    tie_break: str = "random",
) -> NeighborGraph:
    """Top-``k`` cosine neighbours of every row among the other rows.

    ``backend``: ``"exact"`` (:func:`reliant.core.knn.knn`), ``"ivf"`` (faiss inverted
    file, approximate, for pools of hundreds of thousands of rows on a CPU) or ``"auto"``
    (ivf from :data:`IVF_MIN_ROWS` rows). Exact ties are broken in a seeded random order per
    row (``tie_break="random"``): lower-index breaking makes a few rows everybody's
    neighbour on saturated or duplicated features, and HOC's triples stop being independent.
    """
    if backend not in GRAPH_BACKENDS:
        raise ConfigError(f"unknown neighbour backend {backend!r} (choose {', '.join(GRAPH_BACKENDS)})",
                          field="knn_backend")
    n = len(features)
    k = int(min(k, n - 1))
    if k < 1:
        raise ConfigError(f"need at least 2 rows to find neighbours, got {n}")
    chosen = backend if backend != "auto" else ("ivf" if n >= IVF_MIN_ROWS else "exact")
    from reliant.core.knn import knn  # deliberately lazy: imports torch (start-up time)

    if chosen == "exact":
        sims, idx = knn(features, k=k, backend="exact", tie_break=tie_break, seed=seed)
    else:
        sims, idx = knn(features, k=k, backend="ivf", nprobe=nprobe, seed=seed, tie_break=tie_break)
        # Padding (index -1) counts as the farthest possible neighbour, never as a sampled row.
        sims = np.where(idx < 0, -1.0, sims)
    return NeighborGraph(sims=np.asarray(sims, dtype=np.float32), idx=np.asarray(idx, dtype=np.int64), backend=chosen)


def restrict_to_sample(
    graph: NeighborGraph, rows: np.ndarray, in_sample: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``rows``, its ``k`` nearest neighbours among rows with ``in_sample`` True.

    Returns ``(idx, sims, valid)`` of shape ``(len(rows), k)``; ``valid`` is False where the
    graph's list held fewer than ``k`` sampled rows (those slots are padding).
    """
    idx = graph.idx[rows]
    sims = graph.sims[rows]
    member = (idx >= 0) & in_sample[np.maximum(idx, 0)]
    order = np.argsort(~member, axis=1, kind="stable")[:, :k]
    return (np.take_along_axis(idx, order, axis=1), np.take_along_axis(sims, order, axis=1),
            np.take_along_axis(member, order, axis=1))


def duplicated_graph(graph: NeighborGraph, seed: int = 0) -> NeighborGraph:
    """The k-NN graph of the pool concatenated with itself (rows ``i`` and ``i + n`` equal),
    derived from ``graph`` without a new search: each row's nearest neighbour is its twin
    (similarity 1), then each neighbour ``j`` of the original list twice (``j`` and
    ``j + n``, an exact tie ordered at random), cut to the original ``k``."""
    n, k = graph.idx.shape
    rng = np.random.default_rng(seed)
    first_copy_first = rng.random((2 * n, k)) < 0.5  # which copy of a tied pair comes first
    base_idx = np.concatenate([graph.idx, graph.idx])
    base_sims = np.concatenate([graph.sims, graph.sims])
    padding = base_idx < 0
    a = np.where(first_copy_first, base_idx, base_idx + n)
    b = np.where(first_copy_first, base_idx + n, base_idx)
    pairs_idx = np.stack([a, b], axis=2).reshape(2 * n, 2 * k)
    pairs_sims = np.repeat(base_sims, 2, axis=1)
    pairs_idx[np.repeat(padding, 2, axis=1)] = -1
    twin = np.concatenate([np.arange(n, 2 * n), np.arange(n)])[:, None]
    idx = np.concatenate([twin, pairs_idx], axis=1)[:, :k]
    sims = np.concatenate([np.ones((2 * n, 1), dtype=np.float32), pairs_sims], axis=1)[:, :k]
    return NeighborGraph(sims=np.ascontiguousarray(sims, dtype=np.float32),
                         idx=np.ascontiguousarray(idx, dtype=np.int64), backend=graph.backend + "+duplicated")
