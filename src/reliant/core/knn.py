"""One function for top-k cosine neighbours: :func:`knn`.

Three interchangeable backends return the same neighbours (up to float rounding):

* ``"exact"``: NumPy matmul over blocks of queries, ``np.argpartition`` then a sort;
* ``"torch"``: the same blocked matmul in PyTorch with ``torch.topk``, on CUDA when there
  is one (or on ``device``);
* ``"faiss"``: ``faiss.IndexFlatIP`` on the CPU (exact inner-product search, multi-threaded).

``"auto"`` takes torch on CUDA when a GPU is there, faiss on the CPU for large searches
(more than 5e7 query-pool pairs, when faiss imports) and exact otherwise.

Rows come back sorted by descending similarity, ties broken by the lower pool index or,
with ``tie_break="random"``, in a seeded pseudo-random order drawn per query (guaranteed
for exact and torch; faiss may pick a different member of a tie at the k-th place). A block of similarities is kept under a fixed memory budget, so a 300k pool is
searched without an n x n matrix.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from reliant.core.errors import UserError
from reliant.core.models import resolve_device

__all__ = ["BACKENDS", "TIE_BREAKS", "knn", "tie_keys"]

BACKENDS = ("auto", "exact", "torch", "faiss", "ivf")
#: How rows with exactly equal similarity are ordered (see :func:`knn`).
TIE_BREAKS = ("index", "random")

# "auto" prefers faiss on the CPU above this many query x pool pairs.
FAISS_MIN_PAIRS = 5e7
# Memory for one block of similarities (float32); block_size is shrunk to stay under it.
_CPU_BLOCK_BYTES = 128 * 2**20
_GPU_BLOCK_BYTES = 1024 * 2**20
# Rows per chunk when checking or normalising inputs (bounds temporaries for memmaps).
_CHUNK_ROWS = 65536


# ---------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------


def _as_matrix(data: Any, name: str) -> np.ndarray:
    """A 2-D float32 NumPy view (or copy) of an array, memmap, list or CPU torch tensor."""
    if isinstance(data, torch.Tensor):
        tensor = data.detach()
        if tensor.device.type != "cpu":
            tensor = tensor.cpu()
        if not (tensor.is_floating_point() or tensor.dtype in (torch.int8, torch.int16, torch.int32, torch.int64)):
            raise UserError(f"{name} must hold numbers, got a tensor of {tensor.dtype}")
        if tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.float()
        array = tensor.numpy()
    else:
        try:
            array = np.asarray(data)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{name} is not a rectangular array of numbers: {exc}") from None
    if array.ndim != 2:
        raise UserError(f"{name} must be a 2-D array (rows x dimensions), got shape {tuple(array.shape)}")
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise UserError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.shape[1] == 0:
        raise UserError(f"{name} has no columns")
    if array.dtype != np.float32:
        array = array.astype(np.float32)
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    for start in range(0, array.shape[0], _CHUNK_ROWS):
        finite = np.isfinite(array[start : start + _CHUNK_ROWS]).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite))
            raise UserError(f"{name} row {row} contains NaN or inf")


def _l2_normalized(array: np.ndarray) -> np.ndarray:
    """A unit-row copy; all-zero rows stay zero."""
    out = np.empty(array.shape, dtype=np.float32)
    for start in range(0, array.shape[0], _CHUNK_ROWS):
        chunk = np.asarray(array[start : start + _CHUNK_ROWS], dtype=np.float32)
        norms = np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start : start + len(chunk)] = chunk / np.where(norms > 0, norms, 1.0)
    return out


def _check_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise UserError(f"{name} must be an integer >= {minimum}, got {value!r}", field=name)
    return int(value)


def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _choose_backend(backend: str, device: str, n_queries: int, n_pool: int) -> str:
    if backend != "auto":
        return backend
    if resolve_device(device).type == "cuda":
        return "torch"
    if n_queries * n_pool > FAISS_MIN_PAIRS and _faiss_available():
        return "faiss"
    return "exact"


def _rows_per_block(block_size: int, n_pool: int, budget_bytes: int) -> int:
    return max(1, min(block_size, budget_bytes // (4 * max(n_pool, 1))))


# ---------------------------------------------------------------------------------------
# Top-k selection shared by the backends
# ---------------------------------------------------------------------------------------


def tie_keys(query_rows: Any, idx: Any, seed: int) -> np.ndarray:
    """A seeded pseudo-random uint64 key per (query row, pool index) pair, for tie-breaking.

    A hash (splitmix64 finaliser) rather than a generator's stream, so a pair's key does
    not depend on block sizes or on which backend asked; and per *query*, so a group of
    identical rows does not make the same few members everybody's neighbours (one global
    random order would)."""
    query_key = _mix64(np.asarray(query_rows, dtype=np.uint64) ^ _mix64(np.uint64(int(seed) % 2**64)))
    return _mix64(query_key + np.asarray(idx, dtype=np.int64).astype(np.uint64))


def _mix64(x: Any) -> np.ndarray:
    """splitmix64's finaliser, element-wise (wrapping uint64 arithmetic is intended)."""
    with np.errstate(over="ignore"):
        x = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _sort_topk(sims: np.ndarray, idx: np.ndarray, tie_break: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Order each row by descending similarity; equal similarities by ascending index
    (``"index"``) or by the seeded per-query key of :func:`tie_keys` (``"random"``)."""
    if tie_break == "random":
        secondary = tie_keys(np.arange(len(idx))[:, None], idx, seed)
    else:
        secondary = idx
    order = np.lexsort((secondary, -sims), axis=1)
    return (
        np.ascontiguousarray(np.take_along_axis(sims, order, axis=1), dtype=np.float32),
        np.ascontiguousarray(np.take_along_axis(idx, order, axis=1), dtype=np.int64),
    )


def _fill_cut_ties(row_sims: np.ndarray, kth: float, k: int, query_row: int, tie_break: str, seed: int) -> np.ndarray:
    """The top-``k`` pool indices of one row whose k-th value is tied with the (k+1)-th:
    everything strictly above the k-th value, then the members of the tie chosen by lower
    index or by seeded key. Two scans of the row, no sort of it."""
    above = np.flatnonzero(row_sims > kth)
    tied = np.flatnonzero(row_sims == kth)
    need = k - len(above)
    if tie_break == "random" and need < len(tied):
        keys = tie_keys(np.uint64(query_row), tied, seed)
        tied = tied[np.argpartition(keys, need - 1)[:need]]
    return np.concatenate([above, tied[:need]])


def _topk_numpy(sims: np.ndarray, k: int, first_row: int = 0, tie_break: str = "index",
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    n = sims.shape[1]
    if k == n:
        idx = np.broadcast_to(np.arange(n), sims.shape).copy()
        return np.take_along_axis(sims, idx, axis=1), idx
    # Partition the values (several times faster than argpartition) around the (k+1)-th
    # largest. Where the k-th largest is strictly above it, the top k are exactly the
    # entries >= the k-th largest; where the two are equal a tie straddles the cut and
    # that row's tie is resolved by _fill_cut_ties (lower index, or seeded random).
    part = np.partition(sims, n - k - 1, axis=1)
    kth = part[:, n - k :].min(axis=1)
    tied = np.flatnonzero(kth == part[:, n - k - 1])
    del part
    mask = sims >= kth[:, None]
    mask[tied] = False
    idx = np.empty((sims.shape[0], k), dtype=np.int64)
    clean = np.ones(sims.shape[0], dtype=bool)
    clean[tied] = False
    idx[clean] = (np.flatnonzero(mask) % n).reshape(-1, k)
    for row in tied:
        idx[row] = _fill_cut_ties(sims[row], kth[row], k, first_row + int(row), tie_break, seed)
    return np.take_along_axis(sims, idx, axis=1), idx


def _topk_torch(sims: torch.Tensor, k: int, first_row: int = 0, tie_break: str = "index",
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    n = sims.shape[1]
    vals, idx = torch.topk(sims, min(k + 1, n), dim=1, largest=True, sorted=True)
    if k == n:
        return vals, idx
    # As in _topk_numpy: the (k+1)-th value shows a tie across the cut; only those rows
    # go to the CPU to be resolved.
    tied = torch.nonzero(vals[:, k - 1] == vals[:, k]).flatten()
    vals, idx = vals[:, :k].clone(), idx[:, :k].clone()
    if tied.numel():
        rows = tied.cpu().numpy()
        tied_sims = sims[tied].float().cpu().numpy()
        kth = vals[tied, k - 1].float().cpu().numpy()
        chosen = np.stack([_fill_cut_ties(tied_sims[j], kth[j], k, first_row + int(r), tie_break, seed)
                           for j, r in enumerate(rows)])
        chosen_t = torch.from_numpy(chosen).to(sims.device)
        idx[tied] = chosen_t
        vals[tied] = torch.gather(sims[tied], 1, chosen_t)
    return vals, idx


# ---------------------------------------------------------------------------------------
# Backends: each returns (sims, idx) for all queries, unsorted ties allowed
# ---------------------------------------------------------------------------------------


def _search_exact(queries: np.ndarray, pool: np.ndarray, k: int, exclude_self: bool, block_size: int,
                  tie_break: str, seed: int):
    n_queries, n_pool = queries.shape[0], pool.shape[0]
    rows = _rows_per_block(block_size, n_pool, _CPU_BLOCK_BYTES)
    sims_out = np.empty((n_queries, k), dtype=np.float32)
    idx_out = np.empty((n_queries, k), dtype=np.int64)
    pool_t = np.asarray(pool).T
    for start in range(0, n_queries, rows):
        stop = min(start + rows, n_queries)
        sims = np.asarray(np.asarray(queries[start:stop]) @ pool_t)
        if exclude_self:
            sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        sims_out[start:stop], idx_out[start:stop] = _topk_numpy(sims, k, start, tie_break, seed)
    return sims_out, idx_out


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    array = np.ascontiguousarray(array)
    with warnings.catch_warnings():
        # Read-only memmaps: torch only reads them, so the "not writable" warning is noise.
        warnings.simplefilter("ignore", UserWarning)
        tensor = torch.from_numpy(array)
    return tensor.to(device)


def _search_torch(queries: np.ndarray, pool: np.ndarray, k: int, exclude_self: bool, block_size: int, device: str,
                  tie_break: str, seed: int):
    target = resolve_device(device)
    n_queries, n_pool = queries.shape[0], pool.shape[0]
    budget = _GPU_BLOCK_BYTES if target.type == "cuda" else _CPU_BLOCK_BYTES
    rows = _rows_per_block(block_size, n_pool, budget)
    sims_out = np.empty((n_queries, k), dtype=np.float32)
    idx_out = np.empty((n_queries, k), dtype=np.int64)
    with torch.inference_mode():
        pool_t = _to_device(pool, target).T
        for start in range(0, n_queries, rows):
            stop = min(start + rows, n_queries)
            sims = _to_device(queries[start:stop], target) @ pool_t
            if exclude_self:
                local = torch.arange(stop - start, device=target)
                sims[local, local + start] = -torch.inf
            vals, idx = _topk_torch(sims, k, start, tie_break, seed)
            sims_out[start:stop] = vals.cpu().numpy()
            idx_out[start:stop] = idx.cpu().numpy()
    return sims_out, idx_out


def _drop_own(sims: np.ndarray, idx: np.ndarray, own: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """From rows of k+1 neighbours by descending similarity, drop each query's own pool row
    (``own``); where it is not among them, drop the last."""
    keep = idx != own[:, None]
    keep[keep.all(axis=1), -1] = False
    return sims[keep].reshape(len(idx), k), idx[keep].reshape(len(idx), k)


def _search_faiss(queries: np.ndarray, pool: np.ndarray, k: int, exclude_self: bool, block_size: int):
    try:
        import faiss
    except ImportError:
        raise UserError("k-NN backend 'faiss' needs the faiss-cpu package (pip install faiss-cpu)") from None
    n_queries = queries.shape[0]
    index = faiss.IndexFlatIP(pool.shape[1])
    for start in range(0, pool.shape[0], _CHUNK_ROWS):
        index.add(np.ascontiguousarray(pool[start : start + _CHUNK_ROWS], dtype=np.float32))
    wanted = k + 1 if exclude_self else k
    sims_out = np.empty((n_queries, k), dtype=np.float32)
    idx_out = np.empty((n_queries, k), dtype=np.int64)
    rows = max(block_size, 1)
    for start in range(0, n_queries, rows):
        stop = min(start + rows, n_queries)
        sims, idx = index.search(np.ascontiguousarray(queries[start:stop], dtype=np.float32), wanted)
        if exclude_self:
            sims, idx = _drop_own(sims, idx, np.arange(start, stop), k)
        sims_out[start:stop], idx_out[start:stop] = sims, idx
    return sims_out, idx_out


def ivf_cells(n_pool: int) -> int:
    """Inverted-file cells for a pool of ``n_pool`` rows: about ``2·sqrt(n)`` (between 1 and
    ``n / 8``). The cell-major search costs ``n·d·(cells + nprobe·n/cells)`` multiply-adds,
    so fewer, larger cells than faiss's usual ``4·sqrt(n)`` keep the assignment cheap while
    each probed cell is one matrix product."""
    return int(max(1, min(8192, round(2 * np.sqrt(n_pool)), n_pool // 8)))


def _train_centroids(pool: np.ndarray, cells: int, seed: int):
    """Spherical k-means (faiss) on a seeded sample of the pool; an inner-product index over
    the unit centroids."""
    import faiss

    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(pool), size=min(len(pool), 20 * cells), replace=False))
    kmeans = faiss.Kmeans(pool.shape[1], cells, niter=10, seed=int(seed), spherical=True,
                          min_points_per_centroid=8, max_points_per_centroid=10**9)
    kmeans.train(np.ascontiguousarray(pool[sample], dtype=np.float32))
    quantizer = faiss.IndexFlatIP(pool.shape[1])
    quantizer.add(np.ascontiguousarray(kmeans.centroids, dtype=np.float32))
    return quantizer


def _nearest_cells(quantizer, rows: np.ndarray, count: int, block_size: int) -> np.ndarray:
    """The ``count`` nearest cells of every row (int64, nearest first)."""
    out = np.empty((len(rows), count), dtype=np.int64)
    step = max(block_size, _CHUNK_ROWS)
    for start in range(0, len(rows), step):
        _, cells = quantizer.search(np.ascontiguousarray(rows[start : start + step], dtype=np.float32), count)
        out[start : start + step] = cells
    return out


def _probes_for_recall(queries: np.ndarray, pool: np.ndarray, quantizer, assignment: np.ndarray, k: int,
                       exclude_self: bool, target: float, seed: int, block_size: int, sample_size: int = 500):
    """The smallest ``nprobe`` whose recall@k on a seeded sample of queries reaches ``target``,
    and that recall. Exact neighbours of the sample are searched once; a true neighbour is
    found with ``nprobe`` probes exactly when its cell is among the query's ``nprobe``
    nearest cells (each probed cell is searched exactly), so every ``nprobe`` is scored from
    one ranking of the cells, without searching again."""
    rng = np.random.default_rng(seed + 1)
    sample = np.sort(rng.choice(len(queries), size=min(sample_size, len(queries)), replace=False))
    sims, exact = _sort_topk(*_search_exact(queries[sample], pool, k + 1, False, block_size, "index", seed),
                             "index", seed)
    exact = _drop_own(sims, exact, sample, k)[1] if exclude_self else exact[:, :k]
    cells = quantizer.ntotal
    ranking = _nearest_cells(quantizer, queries[sample], cells, block_size)
    rank_of_cell = np.empty_like(ranking)
    np.put_along_axis(rank_of_cell, ranking, np.arange(cells)[None, :], axis=1)
    neighbour_rank = np.take_along_axis(rank_of_cell, assignment[exact], axis=1)
    # recall with p probes = share of true neighbours whose cell ranks below p
    recall_by_probes = np.cumsum(np.bincount(neighbour_rank.ravel(), minlength=cells)) / neighbour_rank.size
    nprobe = int(np.searchsorted(recall_by_probes, target - 1e-12)) + 1
    nprobe = min(nprobe, cells)
    return nprobe, float(recall_by_probes[nprobe - 1])


def _search_ivf(queries: np.ndarray, pool: np.ndarray, k: int, exclude_self: bool, block_size: int,
                nprobe: int, seed: int, recall: float | None = None, info: dict | None = None):
    """Approximate search over an inverted file: spherical k-means cells over the pool, each
    query searched exactly within its ``nprobe`` nearest cells (with ``nprobe`` >= the
    number of cells it is exact). The candidates are those of faiss's ``IndexIVFFlat``;
    the search runs cell by cell (every query probing a cell, against that cell's rows, in
    one faiss matrix-product k-NN call), several times faster than query by query on a CPU.
    With ``recall`` set, ``nprobe`` is chosen per pool by :func:`_probes_for_recall`."""
    try:
        import faiss
    except ImportError:
        raise UserError("k-NN backend 'ivf' needs the faiss-cpu package (pip install faiss-cpu)") from None
    n_queries, n_pool = queries.shape[0], pool.shape[0]
    cells = ivf_cells(n_pool)
    quantizer = _train_centroids(pool, cells, seed)
    self_search = queries is pool
    if self_search:
        assignment = None
    else:
        assignment = _nearest_cells(quantizer, pool, 1, block_size)[:, 0]
    if recall is not None:
        if assignment is None:
            assignment = _nearest_cells(quantizer, pool, 1, block_size)[:, 0]
        nprobe, estimated = _probes_for_recall(queries, pool, quantizer, assignment, k, exclude_self, recall, seed,
                                               block_size)
    nprobe = int(max(1, min(nprobe, cells)))
    probes = _nearest_cells(quantizer, queries, nprobe, block_size)
    if assignment is None:
        assignment = probes[:, 0]  # a pool row's cell is its nearest centroid, the same search
    if info is not None:
        info.update({"cells": cells, "nprobe": nprobe})
        if recall is not None:
            info["estimated_recall"] = estimated
    wanted = k + 1 if exclude_self else k
    # Queries grouped by probed cell, pool rows by cell.
    probe_order = np.argsort(probes.ravel(), kind="stable")
    probe_query = probe_order // nprobe
    probe_bounds = np.searchsorted(probes.ravel()[probe_order], np.arange(cells + 1))
    pool_order = np.argsort(assignment, kind="stable")
    pool_bounds = np.searchsorted(assignment[pool_order], np.arange(cells + 1))
    best_sims = np.full((n_queries, wanted), -np.inf, dtype=np.float32)
    best_idx = np.full((n_queries, wanted), -1, dtype=np.int64)
    for cell in range(cells):
        members = pool_order[pool_bounds[cell] : pool_bounds[cell + 1]]
        asking = probe_query[probe_bounds[cell] : probe_bounds[cell + 1]]
        if len(members) == 0 or len(asking) == 0:
            continue
        found = min(wanted, len(members))
        sims, local = faiss.knn(np.ascontiguousarray(queries[asking]), np.ascontiguousarray(pool[members]), found,
                                metric=faiss.METRIC_INNER_PRODUCT)
        # Merge with what the query's other cells gave (a pool row lives in one cell only).
        merged_sims = np.concatenate([best_sims[asking], sims], axis=1)
        merged_idx = np.concatenate([best_idx[asking], members[local]], axis=1)
        top = np.argpartition(-merged_sims, wanted - 1, axis=1)[:, :wanted]
        best_sims[asking] = np.take_along_axis(merged_sims, top, axis=1)
        best_idx[asking] = np.take_along_axis(merged_idx, top, axis=1)
    order = np.argsort(-best_sims, axis=1, kind="stable")
    sims, idx = np.take_along_axis(best_sims, order, axis=1), np.take_along_axis(best_idx, order, axis=1)
    if exclude_self:
        sims, idx = _drop_own(sims, idx, np.arange(n_queries), k)
    # Fewer than k candidates in the probed cells: padding, index -1 and similarity -inf.
    sims = np.where(idx < 0, -np.inf, sims).astype(np.float32)
    return sims, idx


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


def knn(
    queries: Any,
    pool: Any = None,
    k: int = 10,
    *,
    exclude_self: bool | None = None,
    backend: str = "auto",
    block_size: int = 4096,
    normalized: bool = False,
    device: str = "auto",
    nprobe: int = 16,
    seed: int = 0,
    tie_break: str = "index",
    recall: float | None = None,
    info: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine neighbours of each query row among the pool rows.

    Args:
        queries: ``(n, d)`` array, memmap or CPU torch tensor.
        pool: ``(m, d)`` rows to search; ``None`` searches ``queries`` against themselves.
        k: neighbours per query, at most the pool size (minus one when excluding self).
        exclude_self: leave out pool row ``i`` for query ``i`` (by index, so an exact
            duplicate elsewhere is still found). Defaults to True when ``pool`` is None,
            else False; with a pool it needs as many pool rows as queries.
        backend: ``"auto"``, ``"exact"``, ``"torch"``, ``"faiss"`` (see module doc) or
            ``"ivf"``: approximate faiss inverted-file search for pools of hundreds of
            thousands of rows on a CPU; rows whose probed cells hold fewer than ``k``
            candidates are padded with index -1 and similarity -inf.
        block_size: queries per similarity block, at most (shrunk to bound memory).
        normalized: trust that rows are already unit length; otherwise L2-normalised copies
            are used (all-zero rows stay zero and have similarity 0 to everything).
        device: torch device for the torch backend (``"auto"``: CUDA when available).
        nprobe: cells searched per query by the ivf backend (more: slower, closer to exact).
        recall: ivf backend only: instead of a fixed ``nprobe``, the smallest one whose
            recall@k, estimated against exact search on 500 seeded queries, reaches this
            value (e.g. 0.97). The estimate is free of search noise: a true neighbour is
            found exactly when its cell is probed.
        info: a dict the ivf backend fills with ``cells``, ``nprobe`` (the one used) and,
            with ``recall``, ``estimated_recall``.
        seed: seed of the ivf backend's k-means and of ``tie_break="random"``.
        tie_break: which of several pool rows with *exactly* equal similarity comes first:
            ``"index"`` (the lower pool index, the default) or ``"random"`` (a seeded
            pseudo-random order drawn per query, see :func:`tie_keys`). Use ``"random"``
            when neighbours feed a statistic that assumes them independent (HOC, SimiFeat):
            with saturated or duplicated features lower-index tie-breaking makes a few
            low-index rows everybody's neighbour. Only the tie at the k-th place is resolved
            by scanning the row; no row is re-sorted. The faiss and ivf backends choose
            members of a tie at the k-th place themselves; the order within what they
            return follows ``tie_break``.

    Returns:
        ``(sims, idx)``: float32 and int64 arrays of shape ``(n, k)``, each row by
        descending similarity, ties by ascending pool index (or by ``tie_break``).
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown k-NN backend {backend!r} (choose {', '.join(BACKENDS)})", field="backend")
    if recall is not None and not (isinstance(recall, (int, float)) and 0 < recall <= 1):
        raise UserError(f"recall must be a number in (0, 1], got {recall!r}", field="recall")
    if tie_break not in TIE_BREAKS:
        raise UserError(f"unknown tie_break {tie_break!r} (choose {', '.join(TIE_BREAKS)})", field="tie_break")
    k = _check_int(k, "k")
    block_size = _check_int(block_size, "block_size")
    self_search = pool is None
    query_array = _as_matrix(queries, "queries")
    pool_array = query_array if self_search else _as_matrix(pool, "pool")
    if pool_array.shape[1] != query_array.shape[1]:
        raise UserError(
            f"dimension mismatch: queries have {query_array.shape[1]} columns, pool has {pool_array.shape[1]}"
        )
    if exclude_self is None:
        exclude_self = self_search
    n_queries, n_pool = query_array.shape[0], pool_array.shape[0]
    if exclude_self and n_pool != n_queries:
        raise UserError(
            f"exclude_self needs as many pool rows as queries (query i is pool row i), got {n_queries} and {n_pool}"
        )
    available = n_pool - 1 if exclude_self else n_pool
    if k > available:
        what = "pool rows other than the query itself" if exclude_self else "pool rows"
        raise UserError(f"k={k} is more than the {available} {what}")
    _check_finite(query_array, "queries")
    if not self_search:
        _check_finite(pool_array, "pool")
    if not normalized:
        query_array = _l2_normalized(query_array)
        pool_array = query_array if self_search else _l2_normalized(pool_array)
    if n_queries == 0:
        return np.empty((0, k), dtype=np.float32), np.empty((0, k), dtype=np.int64)

    chosen = _choose_backend(backend, device, n_queries, n_pool)
    if chosen == "exact":
        sims, idx = _search_exact(query_array, pool_array, k, exclude_self, block_size, tie_break, seed)
    elif chosen == "torch":
        sims, idx = _search_torch(query_array, pool_array, k, exclude_self, block_size, device, tie_break, seed)
    elif chosen == "faiss":
        sims, idx = _search_faiss(query_array, pool_array, k, exclude_self, block_size)
    else:
        sims, idx = _search_ivf(query_array, pool_array, k, exclude_self, block_size, nprobe, seed, recall, info)
    return _sort_topk(sims, idx, tie_break, seed)
