"""reliant.core.knn: every backend against brute force (full similarity + np.argsort)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reliant.core import knn as knn_module
from reliant.core.errors import UserError
from reliant.core.knn import knn

BACKENDS = ["exact", "torch", "faiss", "auto"]
TIE_EXACT_BACKENDS = ["exact", "torch"]


def brute_force(queries, pool=None, exclude_self=False, normalize=True):
    """Full float64 similarity matrix, stable argsort (ties by lower index)."""
    q = np.asarray(queries, dtype=np.float64)
    p = q if pool is None else np.asarray(pool, dtype=np.float64)
    if normalize:
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-300)
        p = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-300)
    full = q @ p.T
    if exclude_self:
        np.fill_diagonal(full, -np.inf)
    order = np.argsort(-full, axis=1, kind="stable")
    return full, order


def assert_matches(sims, idx, full, order, k, exclude_self=False):
    n = full.shape[0]
    assert sims.shape == idx.shape == (n, k)
    assert sims.dtype == np.float32 and idx.dtype == np.int64
    ref_vals = np.take_along_axis(full, order[:, :k], axis=1)
    # Similarities are the true ones, in the brute-force order.
    np.testing.assert_allclose(sims, ref_vals, atol=2e-5)
    np.testing.assert_allclose(np.take_along_axis(full, idx, axis=1), sims, atol=2e-5)
    assert np.all(np.diff(sims, axis=1) <= 0)
    for row in idx:
        assert len(set(row.tolist())) == k
    if exclude_self:
        assert not np.any(idx == np.arange(n)[:, None])
    # Indices equal brute force, except where float rounding swaps near-equal neighbours.
    mismatch = idx != order[:, :k]
    assert mismatch.mean() < 0.01
    assert np.all(np.abs(sims[mismatch] - ref_vals[mismatch]) < 2e-5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    # Non-normalised rows with varied lengths, and a few far from unit norm.
    queries = rng.normal(size=(150, 24)).astype(np.float32) * rng.uniform(0.1, 10, size=(150, 1)).astype(np.float32)
    pool = rng.normal(size=(230, 24)).astype(np.float32)
    return queries, pool


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", [1, 7])
def test_self_search_matches_brute_force(backend, k, data):
    x, _ = data
    sims, idx = knn(x, k=k, backend=backend, block_size=32)
    full, order = brute_force(x, exclude_self=True)
    assert_matches(sims, idx, full, order, k, exclude_self=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_self_search_k_max(backend, data):
    x, _ = data
    k = x.shape[0] - 1
    sims, idx = knn(x, k=k, backend=backend, block_size=50)
    full, order = brute_force(x, exclude_self=True)
    assert_matches(sims, idx, full, order, k, exclude_self=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", [1, 5, 230])
def test_query_pool_matches_brute_force(backend, k, data):
    queries, pool = data
    sims, idx = knn(queries, pool, k=k, backend=backend, block_size=64)
    full, order = brute_force(queries, pool)
    assert_matches(sims, idx, full, order, k)


@pytest.mark.parametrize("backend", BACKENDS)
def test_self_search_with_explicit_pool_and_exclude(backend, data):
    x, _ = data
    sims, idx = knn(x, x.copy(), k=4, exclude_self=True, backend=backend)
    full, order = brute_force(x, exclude_self=True)
    assert_matches(sims, idx, full, order, 4, exclude_self=True)
    # Without exclusion, each point is its own nearest neighbour.
    sims, idx = knn(x, x.copy(), k=1, backend=backend)
    np.testing.assert_array_equal(idx[:, 0], np.arange(len(x)))
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_normalized_flag_trusts_input(backend, data):
    x, _ = data
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    a = knn(unit, k=5, backend=backend, normalized=True)
    b = knn(x, k=5, backend=backend)
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)
    np.testing.assert_array_equal(a[1], b[1])
    # Trusted input is not rescaled: raw inner products come back.
    sims, idx = knn(x, k=3, backend=backend, normalized=True)
    raw = x.astype(np.float64) @ x.T.astype(np.float64)
    np.testing.assert_allclose(sims, np.take_along_axis(raw, idx, axis=1), rtol=1e-4, atol=1e-3)


def _tied_data():
    # Small integers and normalized=True: every dot product is exact in float32, so
    # duplicated rows give bit-identical similarities and ties are real.
    rng = np.random.default_rng(1)
    base = rng.integers(-3, 4, size=(12, 6)).astype(np.float32)
    return np.concatenate([base, base[::-1], base[:5]])  # 29 rows, many exact duplicates


@pytest.mark.parametrize("backend", TIE_EXACT_BACKENDS)
@pytest.mark.parametrize("k", [1, 3, 10, 28])
def test_ties_broken_by_lower_index(backend, k):
    x = _tied_data()
    sims, idx = knn(x, k=k, backend=backend, normalized=True, block_size=7)
    full = x.astype(np.float64) @ x.T.astype(np.float64)
    np.fill_diagonal(full, -np.inf)
    order = np.argsort(-full, axis=1, kind="stable")
    np.testing.assert_array_equal(idx, order[:, :k])
    np.testing.assert_array_equal(sims, np.take_along_axis(full, order[:, :k], axis=1).astype(np.float32))


@pytest.mark.parametrize("backend", TIE_EXACT_BACKENDS)
def test_ties_on_one_hot_rows_with_normalisation(backend):
    # Scaled one-hot rows normalise exactly; most similarities are an exact 0.
    x = np.zeros((20, 5), dtype=np.float32)
    x[np.arange(20), np.arange(20) % 5] = np.arange(1, 21)
    sims, idx = knn(x, k=19, backend=backend)
    full = (x > 0).astype(np.float64) @ (x > 0).T.astype(np.float64)
    np.fill_diagonal(full, -np.inf)
    order = np.argsort(-full, axis=1, kind="stable")
    np.testing.assert_array_equal(idx, order[:, :19])
    assert np.all(idx[:, :3] % 5 == (np.arange(20) % 5)[:, None])  # the duplicates come first


def test_faiss_ordering_within_returned_ties():
    # faiss may choose a different member of a tie at the k-th place, but what it returns
    # is still ordered by similarity, then index.
    x = _tied_data()
    sims, idx = knn(x, k=10, backend="faiss", normalized=True)
    for s_row, i_row in zip(sims, idx):
        keys = list(zip((-s_row).tolist(), i_row.tolist()))
        assert keys == sorted(keys)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_vectors_stay_finite(backend):
    x = np.random.default_rng(2).normal(size=(10, 4)).astype(np.float32)
    x[3] = 0
    sims, idx = knn(x, k=9, backend=backend)
    assert np.all(np.isfinite(sims))
    np.testing.assert_allclose(sims[3], 0.0)
    np.testing.assert_array_equal(idx[3], [0, 1, 2, 4, 5, 6, 7, 8, 9])


@pytest.mark.parametrize("backend", BACKENDS)
def test_accepts_memmap_tensor_and_float64(backend, data, tmp_path):
    x, pool = data
    expected = knn(x, pool, k=5, backend=backend)
    path = tmp_path / "pool.npy"
    np.save(path, pool)
    mapped = np.load(path, mmap_mode="r")
    for q, p in [(x, mapped), (torch.from_numpy(x), torch.from_numpy(pool)), (x.astype(np.float64), pool.tolist())]:
        sims, idx = knn(q, p, k=5, backend=backend)
        np.testing.assert_array_equal(idx, expected[1])
        np.testing.assert_allclose(sims, expected[0], atol=1e-6)
    # A normalised read-only memmap is used as it is.
    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    np.save(path, unit)
    sims, idx = knn(np.load(path, mmap_mode="r"), k=3, backend=backend, normalized=True)
    full, order = brute_force(unit, exclude_self=True)
    assert_matches(sims, idx, full, order, 3, exclude_self=True)


def test_empty_queries(data):
    _, pool = data
    sims, idx = knn(np.zeros((0, pool.shape[1]), dtype=np.float32), pool, k=3)
    assert sims.shape == idx.shape == (0, 3)


def test_block_size_larger_and_smaller_agree(data):
    x, pool = data
    a = knn(x, pool, k=6, backend="exact", block_size=1)
    b = knn(x, pool, k=6, backend="exact", block_size=10_000)
    np.testing.assert_array_equal(a[1], b[1])


def test_auto_choice(monkeypatch):
    assert knn_module._choose_backend("auto", "cpu", 100, 100) == "exact"
    assert knn_module._choose_backend("auto", "cpu", 10_000, 10_000) == "faiss"
    monkeypatch.setattr(knn_module, "_faiss_available", lambda: False)
    assert knn_module._choose_backend("auto", "cpu", 10_000, 10_000) == "exact"
    assert knn_module._choose_backend("torch", "cpu", 1, 1) == "torch"


def test_memory_budget_shrinks_blocks():
    assert knn_module._rows_per_block(4096, 300_000, 128 * 2**20) == 111
    assert knn_module._rows_per_block(4096, 10, 128 * 2**20) == 4096
    assert knn_module._rows_per_block(4096, 10**12, 128 * 2**20) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_cuda_matches_exact(data):
    x, pool = data
    a = knn(x, pool, k=8, backend="exact")
    b = knn(x, pool, k=8, backend="torch", device="cuda")
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)


# ---------------------------------------------------------------------------------------
# Bad input: one-line UserError
# ---------------------------------------------------------------------------------------

GOOD = np.random.default_rng(3).normal(size=(6, 4)).astype(np.float32)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((GOOD[0],), {"k": 1}, "2-D"),
        ((GOOD[None],), {"k": 1}, "2-D"),
        ((GOOD, GOOD[0]), {"k": 1}, "pool must be a 2-D"),
        ((GOOD, np.zeros((6, 5), np.float32)), {"k": 1}, "dimension mismatch"),
        ((GOOD,), {"k": 0}, "k must be"),
        ((GOOD,), {"k": -2}, "k must be"),
        ((GOOD,), {"k": 2.5}, "k must be"),
        ((GOOD,), {"k": 6}, "more than the 5"),
        ((GOOD, GOOD), {"k": 7}, "more than the 6"),
        ((GOOD, GOOD), {"k": 6, "exclude_self": True}, "more than the 5"),
        ((GOOD, GOOD[:4]), {"k": 2, "exclude_self": True}, "as many pool rows"),
        ((np.where(np.eye(6, 4) > 0, np.nan, GOOD),), {"k": 1}, "queries row 0 contains NaN"),
        ((GOOD, np.where(np.eye(6, 4)[::-1] > 0, np.inf, GOOD)), {"k": 1}, "pool row 2 contains NaN or inf"),
        ((GOOD,), {"k": 1, "backend": "annoy"}, "unknown k-NN backend"),
        ((GOOD,), {"k": 1, "block_size": 0}, "block_size must be"),
        ((np.array([["a", "b"], ["c", "d"]]),), {"k": 1}, "real numbers"),
        (([[1.0, 2.0], [3.0]],), {"k": 1}, "rectangular"),
        ((np.zeros((3, 0), np.float32),), {"k": 1}, "no columns"),
    ],
)
def test_bad_input_raises_user_error(args, kwargs, message):
    with pytest.raises(UserError, match=message) as info:
        knn(*args, **kwargs)
    assert "\n" not in str(info.value)


def test_ivf_backend_with_all_cells_probed_equals_exact():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(600, 12)).astype(np.float32)
    exact_sims, exact_idx = knn(points, k=5, backend="exact")
    sims, idx = knn(points, k=5, backend="ivf", nprobe=4096, seed=0)
    np.testing.assert_array_equal(idx, exact_idx)
    np.testing.assert_allclose(sims, exact_sims, atol=1e-5)


def test_ivf_backend_is_close_to_exact_with_few_probes():
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(20, 16))
    points = (centers[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 16))).astype(np.float32)
    _, exact_idx = knn(points, k=5, backend="exact")
    _, idx = knn(points, k=5, backend="ivf", nprobe=8, seed=0)
    assert not (idx == np.arange(3000)[:, None]).any()
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact_idx, idx)])
    assert recall > 0.9


# --------------------------------------------------------------------------- seeded random tie-breaking


def _saturated_rows(n=400, groups=4):
    # Rows that normalise to one of a few identical unit vectors: every neighbour is a tie.
    x = np.zeros((n, groups), dtype=np.float32)
    x[np.arange(n), np.arange(n) % groups] = 1.0
    return x


@pytest.mark.parametrize("backend", TIE_EXACT_BACKENDS)
def test_random_ties_pick_members_of_the_tie_and_spread_in_degree(backend):
    x = _saturated_rows()
    _, by_index = knn(x, k=5, backend=backend, tie_break="index")
    sims, idx = knn(x, k=5, backend=backend, tie_break="random", seed=3)
    np.testing.assert_array_equal(sims, 1.0)
    assert np.all(idx % 4 == (np.arange(400) % 4)[:, None])  # still members of the own group
    assert not (idx == np.arange(400)[:, None]).any()
    # lower-index breaking makes the first rows of each group everybody's neighbour
    assert np.bincount(by_index.ravel(), minlength=400).max() >= 90
    assert np.bincount(idx.ravel(), minlength=400).max() <= 20


@pytest.mark.parametrize("backend", TIE_EXACT_BACKENDS)
def test_random_ties_are_seeded_and_block_size_independent(backend):
    x = _saturated_rows(200)
    a = knn(x, k=4, backend=backend, tie_break="random", seed=1, block_size=7)
    b = knn(x, k=4, backend=backend, tie_break="random", seed=1, block_size=4096)
    c = knn(x, k=4, backend=backend, tie_break="random", seed=2)
    np.testing.assert_array_equal(a[1], b[1])
    assert (a[1] != c[1]).any()


def test_random_ties_match_between_exact_and_torch():
    x = _tied_data()
    a = knn(x, k=6, backend="exact", normalized=True, tie_break="random", seed=5)
    b = knn(x, k=6, backend="torch", device="cpu", normalized=True, tie_break="random", seed=5)
    np.testing.assert_array_equal(a[1], b[1])


def test_random_ties_keep_strict_order_and_true_similarities():
    x = _tied_data()
    sims, idx = knn(x, k=10, backend="exact", normalized=True, tie_break="random", seed=0)
    full = x.astype(np.float64) @ x.T.astype(np.float64)
    np.fill_diagonal(full, -np.inf)
    np.testing.assert_array_equal(sims, np.take_along_axis(full, idx, axis=1).astype(np.float32))
    assert np.all(np.diff(sims, axis=1) <= 0)
    # the k values are the true top-k values (only the members of a tie may differ)
    np.testing.assert_array_equal(sims, -np.sort(-full, axis=1)[:, :10].astype(np.float32))


def test_tie_path_does_not_resort_rows():
    # 4,000 rows, every one tied across the cut (400-row ties): two scans per row, no sort of
    # it. CPU time, not wall time, so that a loaded machine does not fail it; a full re-sort
    # of every row took seconds per thousand rows.
    import time

    x = _saturated_rows(4000, 10)
    start = time.process_time()
    knn(x, k=10, backend="exact", tie_break="random", seed=0)
    assert time.process_time() - start < 5


def test_unknown_tie_break():
    with pytest.raises(UserError, match="tie_break"):
        knn(GOOD, k=1, tie_break="first")


# --------------------------------------------------------------------------- ivf tuned to a recall


def test_ivf_recall_target_picks_enough_probes():
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(30, 16))
    points = (centers[rng.integers(0, 30, 4000)] + 0.5 * rng.normal(size=(4000, 16))).astype(np.float32)
    _, exact_idx = knn(points, k=10, backend="exact")
    info: dict = {}
    _, idx = knn(points, k=10, backend="ivf", recall=0.95, seed=0, info=info)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_idx, idx)])
    assert info["cells"] > info["nprobe"] >= 1
    assert info["estimated_recall"] >= 0.95
    assert recall >= 0.93  # the estimate is on 500 sampled rows
    assert not (idx == np.arange(4000)[:, None]).any()
    # a fixed nprobe of 1 is worse, so the target changed something
    _, one = knn(points, k=10, backend="ivf", nprobe=1, seed=0)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_idx, one)]) < recall


def test_ivf_against_a_separate_pool():
    rng = np.random.default_rng(3)
    pool = rng.normal(size=(2000, 8)).astype(np.float32)
    queries = rng.normal(size=(50, 8)).astype(np.float32)
    _, exact_idx = knn(queries, pool, k=4, backend="exact")
    _, idx = knn(queries, pool, k=4, backend="ivf", nprobe=10**6, seed=0)
    np.testing.assert_array_equal(idx, exact_idx)


@pytest.mark.parametrize("recall", [0, 1.5, "high"])
def test_ivf_bad_recall_is_a_user_error(recall):
    with pytest.raises(UserError, match="recall"):
        knn(np.eye(20, dtype=np.float32), k=2, backend="ivf", recall=recall)
