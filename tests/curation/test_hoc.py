"""HOC formulas against hand-computed values and synthetic data with a known T."""

from __future__ import annotations

import numpy as np
import pytest

from reliant.curation.api import (
    analytic_consensus,
    clusterable_features,
    consensus_counts,
    empirical_transition,
    estimate_transition,
    make_transition,
    neighbor_graph,
    restrict_to_sample,
    solve_transition,
    transition_errors,
)
from reliant.curation.hoc import consensus_loss_and_grad


def test_consensus_counts_by_hand():
    labels = np.array([0, 0, 1, 1])
    nn1 = np.array([0, 1, 1, 0])
    nn2 = np.array([1, 1, 1, 0])
    c1, c2, c3 = consensus_counts(labels, nn1, nn2, 2)
    assert c1.tolist() == [0.5, 0.5]
    assert c2.tolist() == [[0.25, 0.25], [0.25, 0.25]]
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 1] = expected[0, 1, 1] = expected[1, 1, 1] = expected[1, 0, 0] = 0.25
    assert np.array_equal(c3, expected)


def test_analytic_consensus_two_classes_by_hand():
    T = np.array([[0.8, 0.2], [0.3, 0.7]])
    p = np.array([0.6, 0.4])
    c1, c2, c3 = analytic_consensus(T, p)
    assert c1 == pytest.approx([0.6 * 0.8 + 0.4 * 0.3, 0.6 * 0.2 + 0.4 * 0.7])
    assert c2[0, 1] == pytest.approx(0.6 * 0.8 * 0.2 + 0.4 * 0.3 * 0.7)
    assert c3[0, 0, 1] == pytest.approx(0.6 * 0.8 * 0.8 * 0.2 + 0.4 * 0.3 * 0.3 * 0.7)
    assert c2.sum() == pytest.approx(1) and c3.sum() == pytest.approx(1)
    # symmetric in the neighbour order
    assert np.allclose(c2, c2.T) and np.allclose(c3, c3.transpose(0, 2, 1))


def test_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    K = 3
    T = rng.dirichlet(np.ones(K) * 2, size=K)
    p = rng.dirichlet(np.ones(K))
    target = analytic_consensus(rng.dirichlet(np.ones(K), size=K), rng.dirichlet(np.ones(K)))
    _, gT, gp = consensus_loss_and_grad(T, p, target)
    h = 1e-6
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        Tp, Tm = T.copy(), T.copy()
        Tp[i, j] += h
        Tm[i, j] -= h
        numeric = (consensus_loss_and_grad(Tp, p, target)[0] - consensus_loss_and_grad(Tm, p, target)[0]) / (2 * h)
        assert gT[i, j] == pytest.approx(numeric, rel=1e-4, abs=1e-7)
    pp, pm = p.copy(), p.copy()
    pp[1] += h
    pm[1] -= h
    numeric = (consensus_loss_and_grad(T, pp, target)[0] - consensus_loss_and_grad(T, pm, target)[0]) / (2 * h)
    assert gp[1] == pytest.approx(numeric, rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("kind", ["pair", "symmetric", "random"])
def test_solver_recovers_T_from_exact_consensus(kind):
    T = make_transition(4, 0.3, kind, seed=3)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    T_est, p_est, loss, _ = solve_transition(analytic_consensus(T, p), steps=3000)
    assert np.abs(T_est - T).max() < 0.02
    assert np.abs(p_est - p).max() < 0.02
    assert np.allclose(T_est.sum(axis=1), 1)


def test_restrict_to_sample_keeps_nearest_sampled_neighbours():
    from reliant.curation.neighbors import NeighborGraph

    graph = NeighborGraph(sims=np.array([[0.9, 0.8, 0.7, 0.6]], dtype=np.float32),
                          idx=np.array([[3, 1, 4, 2]]), backend="exact")
    in_sample = np.array([True, True, False, False, True])
    idx, sims, valid = restrict_to_sample(graph, np.array([0]), in_sample, 2)
    assert idx.tolist() == [[1, 4]] and valid.all()
    assert sims[0].tolist() == pytest.approx([0.8, 0.7])
    idx, _, valid = restrict_to_sample(graph, np.array([0]), in_sample, 3)
    assert valid.tolist() == [[True, True, False]]


# The bound this module promises: on 3,000 clusterable points (5 classes, 20-40% noise)
# the HOC estimate is within 0.08 of the true T in every entry.
T_BOUND = 0.08


@pytest.mark.parametrize(("kind", "rate"), [("pair", 0.2), ("symmetric", 0.4), ("random", 0.3)])
def test_hoc_estimates_known_T_on_synthetic_data(kind, rate):
    T = make_transition(5, rate, kind, seed=1)
    data = clusterable_features(3000, 5, T, dim=32, seed=0)
    graph = neighbor_graph(data.features, 8)
    hoc = estimate_transition(data.noisy, 5, graph, seed=0)
    T_true, p_true = empirical_transition(data.clean, data.noisy, 5)
    assert transition_errors(hoc.T, T_true)["max_abs"] < T_BOUND
    assert abs(hoc.noise_rate - data.is_noisy.mean()) < 0.03
    assert np.abs(hoc.p - p_true).max() < 0.05


def test_hoc_is_deterministic_under_seed():
    T = make_transition(3, 0.2, "pair")
    data = clusterable_features(600, 3, T, dim=16, seed=2)
    graph = neighbor_graph(data.features, 4)
    a = estimate_transition(data.noisy, 3, graph, seed=5, steps=300)
    b = estimate_transition(data.noisy, 3, graph, seed=5, steps=300)
    assert np.array_equal(a.T, b.T) and np.array_equal(a.p, b.p)


def test_empirical_transition_by_hand():
    T, p = empirical_transition(np.array([0, 0, 0, 1]), np.array([0, 1, 0, 1]), 3)
    assert T[0].tolist() == pytest.approx([2 / 3, 1 / 3, 0])
    assert T[1].tolist() == [0, 1, 0]
    assert T[2].tolist() == [0, 0, 1]  # absent class: identity row
    assert p.tolist() == [0.75, 0.25, 0]


def test_ivf_graph_matches_exact_neighbours():
    data = clusterable_features(2000, 4, make_transition(4, 0.1, "pair"), dim=16, seed=3)
    exact = neighbor_graph(data.features, 5, backend="exact")
    approx = neighbor_graph(data.features, 5, backend="ivf", seed=0)
    assert approx.backend == "ivf" and approx.idx.shape == (2000, 5)
    assert not (approx.idx == np.arange(2000)[:, None]).any()
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact.idx, approx.idx)])
    assert overlap > 0.9


@pytest.mark.parametrize(("k", "fraction"), [(2, 0.3), (3, 0.8), (5, 1.0), (1, 0.5)])
def test_subsample_rounds_read_the_same_neighbours_as_restrict_to_sample(k, fraction):
    """The rounds' fast path (full lists, zero weights) gives term for term the votes and
    the HOC pairs of the compacted lists, padding (-1) included."""
    from reliant.curation.neighbors import NeighborGraph, SubsampleRounds, nth_sampled_column
    from reliant.curation.simifeat import knn_label_votes, sampled_label_votes

    rng = np.random.default_rng(k)
    n, width = 300, 5
    idx = rng.integers(0, n, size=(n, width))
    idx[::4, 3:] = -1
    sims = np.sort(rng.random((n, width)), axis=1)[:, ::-1].astype(np.float32)
    graph = NeighborGraph(sims=np.where(idx < 0, -1.0, sims).astype(np.float32), idx=idx, backend="test")
    labels = rng.integers(0, 3, size=n)
    rounds = SubsampleRounds(graph)
    rows = rounds.draw(np.random.default_rng(9), int(fraction * n))
    expected_rows = np.sort(np.random.default_rng(9).choice(n, size=int(fraction * n), replace=False)) \
        if int(fraction * n) < n else np.arange(n)
    np.testing.assert_array_equal(rows, expected_rows)
    in_sample = np.zeros(n, dtype=bool)
    in_sample[rows] = True
    near_idx, near_sims, valid = restrict_to_sample(graph, rows, in_sample, k)
    expected = knn_label_votes(labels, near_idx, near_sims, valid, labels[rows], 3)
    np.testing.assert_array_equal(sampled_label_votes(labels, rounds, rows, k, 3), expected)
    full_idx, member, count = rounds.sampled_neighbours(rows)
    compacted = restrict_to_sample(graph, rows, in_sample, width)[0]
    for nth in range(min(k, 2)):
        column = nth_sampled_column(member, count, nth)
        np.testing.assert_array_equal(np.where(compacted[:, nth] < 0, n, compacted[:, nth]),
                                      full_idx[np.arange(len(rows)), column])
