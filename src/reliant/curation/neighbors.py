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

from dataclasses import dataclass, field

import numpy as np

from reliant.core.errors import ConfigError
from reliant.curation.config import GRAPH_BACKENDS

# "auto" switches to the approximate inverted-file index above this many rows.
IVF_MIN_ROWS = 60_000
# recall@k the ivf graph is tuned to (its nprobe chosen per pool against exact search on
# 500 rows): above the 0.95 HOC/SimiFeat were checked at, with room for the estimate's error.
IVF_RECALL = 0.97


@dataclass
class NeighborGraph:
    """``idx[i]``: the pool rows nearest to row ``i`` (self excluded), by descending
    cosine similarity ``sims[i]``."""

    sims: np.ndarray
    idx: np.ndarray
    backend: str
    #: How an approximate graph was searched (ivf: cells, nprobe, estimated recall@k).
    search: dict = field(default_factory=dict)

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
    recall: float | None = IVF_RECALL,
) -> NeighborGraph:
    """Top-``k`` cosine neighbours of every row among the other rows.

    ``backend``: ``"exact"`` (:func:`reliant.core.knn.knn`), ``"ivf"`` (faiss inverted
    file, approximate, for pools of hundreds of thousands of rows on a CPU) or ``"auto"``
    (ivf from :data:`IVF_MIN_ROWS` rows). Exact ties are broken in a seeded random order per
    row (``tie_break="random"``): lower-index breaking makes a few rows everybody's
    neighbour on saturated or duplicated features, and HOC's triples stop being independent.
    ``recall``: for ivf, the recall@k the number of probed cells is chosen for
    (:func:`reliant.core.knn.knn`'s ``recall``; None: a fixed ``nprobe``); what was used is in
    the graph's ``search``.
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
        search: dict = {}
        sims, idx = knn(features, k=k, backend="ivf", nprobe=nprobe, seed=seed, tie_break=tie_break, recall=recall,
                        info=search)
        # Padding (index -1) counts as the farthest possible neighbour, never as a sampled row.
        sims = np.where(idx < 0, -1.0, sims)
        return NeighborGraph(sims=np.asarray(sims, dtype=np.float32), idx=np.asarray(idx, dtype=np.int64),
                             backend=chosen, search=search)
    return NeighborGraph(sims=np.asarray(sims, dtype=np.float32), idx=np.asarray(idx, dtype=np.int64), backend=chosen)


def restrict_to_sample(
    graph: NeighborGraph, rows: np.ndarray, in_sample: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``rows``, its ``k`` nearest neighbours among rows with ``in_sample`` True.

    Returns ``(idx, sims, valid)`` of shape ``(len(rows), k)``; ``valid`` is False where the
    graph's list held fewer than ``k`` sampled rows (those slots are padding: the nearest
    unsampled neighbours, in order).
    """
    idx = graph.idx[rows]
    sims = graph.sims[rows]
    member = (idx >= 0) & in_sample[np.maximum(idx, 0)]
    # Where each slot goes in a stable "sampled first" order, without sorting: a sampled
    # slot's place is the number of sampled slots before it; an unsampled one follows all
    # sampled ones of its row. (A stable argsort of ~member, 5-10x faster at 300k rows.)
    sampled_before = np.cumsum(member, axis=1, dtype=np.int32)
    column = np.arange(idx.shape[1], dtype=np.int32)
    place = np.where(member, sampled_before - 1, sampled_before[:, -1:] + column - sampled_before)
    kept = place < k
    target = place[kept].reshape(len(idx), k)
    out_idx = np.empty((len(idx), k), dtype=idx.dtype)
    out_sims = np.empty((len(idx), k), dtype=sims.dtype)
    out_member = np.empty((len(idx), k), dtype=bool)
    for out, source in ((out_idx, idx), (out_sims, sims), (out_member, member)):
        np.put_along_axis(out, target, source[kept].reshape(len(idx), k), axis=1)
    return out_idx, out_sims, out_member


class SubsampleRounds:
    """A graph prepared for many subsample rounds (HOC, SimiFeat): per round, which of each
    sampled row's neighbours are sampled too, without copying or re-sorting neighbour lists.

    The neighbour indices are kept as int32 (int64 above 2^31 rows) with padding (-1)
    pointing at a sentinel row ``n`` that is never sampled, so membership is one lookup.
    :meth:`draw` consumes the generator exactly as ``np.sort(rng.choice(n, size,
    replace=False))`` does and returns the same rows."""

    def __init__(self, graph: NeighborGraph):
        n = len(graph)
        index_type = np.int32 if n < 2**31 - 1 else np.int64
        self.n = n
        self.idx = np.where(graph.idx < 0, n, graph.idx).astype(index_type)
        self.sims = graph.sims
        self._in_sample = np.zeros(n + 1, dtype=bool)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """The sorted rows of one round (all rows when ``size`` >= n); marks them as sampled."""
        self._in_sample[:] = False
        if size < self.n:
            self._in_sample[rng.choice(self.n, size=size, replace=False)] = True
        else:
            self._in_sample[: self.n] = True
        return np.flatnonzero(self._in_sample[: self.n])

    def sampled_neighbours(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(idx, member, count)`` for ``rows`` of the last :meth:`draw`: their neighbour
        lists, whether each neighbour is sampled, and the running count of sampled neighbours
        along each list (``count[:, j]``: sampled among the first ``j + 1``)."""
        idx = self.idx[rows]
        member = self._in_sample[idx]
        count_type = np.int16 if idx.shape[1] < 2**15 else np.int32
        return idx, member, np.cumsum(member, axis=1, dtype=count_type)


def nth_sampled_column(member: np.ndarray, count: np.ndarray, nth: int) -> np.ndarray:
    """Per row, the column of the ``nth`` (0-based) entry of the "sampled first, then
    unsampled, each in list order" order that :func:`restrict_to_sample` returns."""
    total = count[:, -1:]
    column = np.arange(member.shape[1], dtype=count.dtype)
    place = np.where(member, count - 1, total + column - count)
    return np.argmax(place == nth, axis=1)


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
