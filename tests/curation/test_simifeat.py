"""SimiFeat vote/rank: hand-computed votes and rates, detection quality on synthetic noise."""

from __future__ import annotations

import numpy as np
import pytest

from reliant.curation.api import (
    cleanlab_baseline,
    clusterable_features,
    detect_label_errors,
    detection_scores,
    estimate_transition,
    knn_label_votes,
    knn_pred_probs,
    make_transition,
    neighbor_graph,
    random_detection_f1,
    rank_rates,
)
from reliant.curation.neighbors import NeighborGraph


def test_knn_label_votes_by_hand():
    labels = np.array([0, 1, 1, 0])
    idx = np.array([[1, 2]])
    sims = np.array([[0.9, 0.5]])
    valid = np.array([[True, True]])
    f = knn_label_votes(labels, idx, sims, valid, np.array([0]), 2)
    # own label weight 2*0.9 - 0.5 = 1.3 for class 0; class 1 gets 0.9 + 0.5 = 1.4
    raw = np.array([1.3, 1.4])
    assert f[0] == pytest.approx(raw / np.linalg.norm(raw))


def test_rank_rates_by_hand():
    T = np.array([[0.8, 0.2], [0.1, 0.9]])
    p = np.array([0.5, 0.5])
    noisy_prior = p @ T  # 0.45, 0.55
    rates = rank_rates(T, p, noisy_prior)
    assert rates[0] == pytest.approx(1 - 0.8 * 0.5 / 0.45)
    assert rates[1] == pytest.approx(1 - 0.9 * 0.5 / 0.55)
    assert rank_rates(np.eye(2), p, p).tolist() == [0.05, 0.05]  # clipped like the paper's code


def test_rank_flags_the_least_consistent_share_per_class():
    # 20 points on a line, class 0 left, class 1 right, one wrong label on each side
    x = np.linspace(0, 1, 20)
    features = np.stack([np.cos(x), np.sin(x)], axis=1)
    labels = (np.arange(20) >= 10).astype(int)
    labels[3], labels[15] = 1, 0
    graph = neighbor_graph(features, 4)
    found = detect_label_errors(labels, 2, graph, method="rank", k=4, rounds=5, sample_fraction=1.0,
                                class_rates=np.array([0.1, 0.1]))
    assert set(np.flatnonzero(found.flagged)) == {3, 15}
    assert found.suggested[3] == 0 and found.suggested[15] == 1
    assert (found.confidence[found.flagged] > 0.5).all() and (found.confidence[~found.flagged] == 0).all()


@pytest.fixture(scope="module")
def noisy():
    T = make_transition(5, 0.3, "random", seed=4)
    data = clusterable_features(3000, 5, T, dim=32, seed=4)
    graph = neighbor_graph(data.features, 16)
    hoc = estimate_transition(data.noisy, 5, graph, seed=0)
    return data, graph, hoc


def test_rank_detection_f1_well_above_chance(noisy):
    data, graph, hoc = noisy
    found = detect_label_errors(data.noisy, 5, graph, method="rank", seed=0,
                                class_rates=rank_rates(hoc.T, hoc.p, hoc.noisy_prior))
    scores = detection_scores(found.flagged, data.is_noisy)
    chance = random_detection_f1(data.is_noisy.mean(), found.flagged.mean())
    assert scores["f1"] > 0.9 and scores["f1"] > chance + 0.5
    right = found.flagged & data.is_noisy
    assert np.mean(found.suggested[right] == data.clean[right]) > 0.9


def test_vote_detection_and_cleanlab_baseline(noisy):
    data, graph, _ = noisy
    voted = detect_label_errors(data.noisy, 5, graph, method="vote", seed=0)
    assert detection_scores(voted.flagged, data.is_noisy)["f1"] > 0.9
    issues = cleanlab_baseline(data.noisy, graph, 5)
    assert detection_scores(issues, data.is_noisy)["f1"] > 0.8


def test_detection_is_deterministic_under_seed(noisy):
    data, graph, hoc = noisy
    rates = rank_rates(hoc.T, hoc.p, hoc.noisy_prior)
    a = detect_label_errors(data.noisy, 5, graph, class_rates=rates, seed=3, rounds=3)
    b = detect_label_errors(data.noisy, 5, graph, class_rates=rates, seed=3, rounds=3)
    assert np.array_equal(a.flag_rate, b.flag_rate) and np.array_equal(a.suggested, b.suggested)


def test_knn_pred_probs_exclude_own_label():
    graph = NeighborGraph(sims=np.array([[1.0], [1.0], [1.0]], dtype=np.float32), idx=np.array([[1], [0], [0]]),
                          backend="exact")
    probs = knn_pred_probs(np.array([0, 1, 1]), graph, 2, k=1, smoothing=0.0)
    assert probs.tolist() == [[0, 1], [1, 0], [1, 0]]
