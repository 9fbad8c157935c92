"""FEWL's formulas against hand-computed values (paper §3: expertise weights, laziness penalty,
variational f-divergence score) and the gold-judging metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reliant.core.errors import ConfigError
from reliant.hallucination.fewl import DIVERGENCES, expertise_weights, fewl_scores, select_neighbors
from reliant.hallucination.metrics import answer_auroc, hallucination_rate, rank_correlations, rank_models


def test_expertise_weights_from_wrong_answers_only():
    # one question, two references, two IW answers; e_i = -mean_r s(h_i, IW_r)
    sim_wrong = np.array([[[0.2, 0.4], [0.8, 0.6]]])
    weights, raw = expertise_weights(sim_wrong, temperature=0.1)
    assert raw == pytest.approx(np.array([[-0.3, -0.7]]))
    # softmax(-3, -7) = (1 / (1 + e^-4), e^-4 / (1 + e^-4))
    assert weights[0, 0] == pytest.approx(0.9820137900379085)
    assert weights[0, 1] == pytest.approx(0.01798620996209156)


def test_expertise_weights_with_corrections_and_mask():
    sim_wrong = np.array([[[0.2, 0.9], [0.8, 0.9]]])  # second IW slot is padding
    mask = np.array([[True, False]])
    sim_co = np.array([[[0.9], [0.1]]])
    weights, raw = expertise_weights(sim_wrong, mask, sim_co, np.array([[True]]), temperature=1.0)
    assert raw == pytest.approx(np.array([[0.9 - 0.2, 0.1 - 0.8]]))
    # softmax(0.7, -0.7) = 1 / (1 + e^-1.4)
    assert weights[0, 0] == pytest.approx(1 / (1 + math.exp(-1.4)))
    assert weights.sum() == pytest.approx(1.0)


def test_expertise_weights_reject_bad_temperature():
    with pytest.raises(ConfigError, match="temperature"):
        expertise_weights(np.zeros((1, 2, 1)), temperature=0.0)


def test_fewl_total_variation_by_hand():
    sim_same = np.array([[0.5, 0.2]])
    sim_neighbors = np.array([[[0.1, 0.3], [0.2, 0.2]]])
    weights = np.array([[0.75, 0.25]])
    scores, agreement, penalty = fewl_scores(sim_same, sim_neighbors, weights, return_terms=True)
    # TV: g(v) = tanh(v)/2, f*(t) = t
    t05, t02, t01, t03 = 0.46211715726000974, 0.197375320224904, 0.09966799462495582, 0.2913126124515909
    expected_agreement = 0.75 * t05 / 2 + 0.25 * t02 / 2
    expected_penalty = 0.75 * (t01 / 2 + t03 / 2) / 2 + 0.25 * t02 / 2
    assert agreement[0] == pytest.approx(expected_agreement)
    assert penalty[0] == pytest.approx(expected_penalty)
    assert scores[0] == pytest.approx(0.19796586 - 0.09798080, abs=1e-7)


def test_fewl_kl_and_uniform_penalty_by_hand():
    sim_same = np.array([[0.5, 0.3]])
    sim_neighbors = np.array([[[0.1], [0.4]]])
    weights = np.array([[1.0, 0.0]])
    # KL: g(v) = v, f*(t) = exp(t - 1)
    expertise = fewl_scores(sim_same, sim_neighbors, weights, divergence_name="kl")
    assert expertise[0] == pytest.approx(0.5 - math.exp(-0.9))
    uniform = fewl_scores(sim_same, sim_neighbors, weights, divergence_name="kl", penalty_weighting="uniform")
    assert uniform[0] == pytest.approx(0.5 - (math.exp(-0.9) + math.exp(-0.6)) / 2)


def test_laziness_penalty_cancels_topical_agreement():
    # A lazy reference answers every neighbour the same way: its bracket is exactly zero (TV).
    sim_same = np.array([[0.7, 0.7]])
    sim_neighbors = np.array([[[0.7, 0.7, 0.7], [0.0, 0.1, 0.0]]])
    scores = fewl_scores(sim_same, sim_neighbors, np.array([[1.0, 0.0]]))
    assert scores[0] == pytest.approx(0.0)
    scores = fewl_scores(sim_same, sim_neighbors, np.array([[0.0, 1.0]]))
    assert scores[0] > 0.25


def test_neighbor_mask_ignores_padding_and_none_disables_penalty():
    sim_same = np.array([[0.4]])
    masked = fewl_scores(sim_same, np.array([[[0.2, 0.9]]]), np.array([[1.0]]), neighbor_mask=np.array([[True, False]]))
    assert masked[0] == pytest.approx(0.5 * (math.tanh(0.4) - math.tanh(0.2)))
    off = fewl_scores(sim_same, None, np.array([[1.0]]))
    assert off[0] == pytest.approx(0.5 * math.tanh(0.4))


@pytest.mark.parametrize("name", sorted(DIVERGENCES))
def test_every_divergence_by_hand(name):
    # bracket = g(s_same) - f*(g(s_neighbour)) with the f-GAN pairs
    same, other = 0.6, 0.2
    g, conj = {
        "tv": (lambda v: 0.5 * math.tanh(v), lambda t: t),
        "kl": (lambda v: v, lambda t: math.exp(t - 1)),
        "js": (lambda v: math.log(2) - math.log1p(math.exp(-v)), lambda t: -math.log(2 - math.exp(t))),
        "pearson": (lambda v: v, lambda t: t * t / 4 + t),
        "hellinger": (lambda v: 1 - math.exp(-v), lambda t: t / (1 - t)),
    }[name]
    value = fewl_scores(np.array([[same]]), np.array([[[other]]]), np.array([[1.0]]), divergence_name=name)
    assert value[0] == pytest.approx(g(same) - conj(g(other)))


def test_unknown_divergence_and_weighting():
    with pytest.raises(ConfigError, match="unknown divergence"):
        fewl_scores(np.zeros((1, 1)), None, np.ones((1, 1)), divergence_name="wasserstein")
    with pytest.raises(ConfigError, match="penalty_weighting"):
        fewl_scores(np.zeros((1, 1)), None, np.ones((1, 1)), penalty_weighting="max")


def test_select_neighbors_skips_near_duplicates():
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    idx, mask = select_neighbors(vectors, k=2, max_similarity=0.95)
    # question 0: question 1 is a duplicate (cos 1) -> skipped; then 2 (0.8), 3 (0.0)
    assert idx[0].tolist() == [2, 3] and mask[0].all()
    assert 1 not in idx[0]
    idx, mask = select_neighbors(vectors[:1], k=3)
    assert idx.shape == (1, 0)


def test_gold_metrics_by_hand():
    assert answer_auroc(np.array([3.0, 2.0, 1.0]), np.array([0, 0, 1])) == pytest.approx(1.0)
    assert answer_auroc(np.array([1.0, 2.0, 3.0, 0.5]), np.array([0, 0.5, 1, 0])) == pytest.approx(0.0)
    assert math.isnan(answer_auroc(np.array([1.0, 2.0]), np.array([0, 0])))
    assert hallucination_rate(np.array([0.1, 0.5, 0.2]), np.array([0.2, 0.2, 0.2])) == pytest.approx(1 / 3)
    corr = rank_correlations([0.9, 0.5, 0.1], [0.1, 0.3, 0.8])
    assert corr["spearman"] == pytest.approx(1.0) and corr["kendall"] == pytest.approx(1.0)
    assert rank_models({"a": 0.1, "b": 0.3, "c": float("nan")}) == {"b": 1, "a": 2, "c": 3}
