"""Formula tests for divergences, delta-worst accuracy, DROPS and its baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reliant.core.errors import ConfigError, DataError
from reliant.robustness.api import (
    DROPS,
    BalancedReweighting,
    LogitAdjustment,
    NoAdjustment,
    WorstClassReweighting,
    accuracy_report,
    balanced_accuracy,
    compare_methods,
    delta_worst_accuracy,
    delta_worst_curve,
    divergence,
    exponential_profile,
    longtail_split,
    synthetic_longtail,
    worst_case_weights,
)
from reliant.robustness.divergences import max_divergence, project_simplex, shrink_into_ball
from reliant.robustness.drops import _group_losses


def test_divergences_by_hand():
    g, r = np.array([0.5, 0.25, 0.25]), np.array([1 / 3] * 3)
    assert divergence(g, r, "kl") == pytest.approx(0.5 * math.log(1.5) + 0.5 * math.log(0.75))
    assert divergence(g, r, "reverse_kl") == pytest.approx(-(math.log(1.5) + 2 * math.log(0.75)) / 3)
    assert divergence(g, r, "l1") == pytest.approx(1 / 6 + 2 / 12)
    assert divergence(g, r, "l2") == pytest.approx((1 / 6) ** 2 + 2 * (1 / 12) ** 2)
    assert max_divergence(r, "kl") == pytest.approx(math.log(3))
    with pytest.raises(ConfigError):
        divergence(g, r, "hellinger")


def test_project_simplex_and_shrink():
    assert project_simplex(np.array([0.5, 0.5, 0.5])) == pytest.approx([1 / 3] * 3)
    assert project_simplex(np.array([2.0, 0.0])) == pytest.approx([1.0, 0.0])
    r = np.array([0.5, 0.5])
    g = shrink_into_ball(np.array([0.99, 0.01]), r, 0.1, "kl")
    assert divergence(g, r, "kl") == pytest.approx(0.1, abs=1e-6)


def test_kl_worst_case_two_classes_closed_form():
    # a = (1, 0), r uniform: g_t = (1, e^t) / (1 + e^t) with KL(g_t || r) = delta
    a, r, delta = np.array([1.0, 0.0]), np.array([0.5, 0.5]), 0.1
    g = worst_case_weights(a, r, delta, "kl")
    assert divergence(g, r, "kl") == pytest.approx(delta, abs=1e-8)
    # closed form: solve KL((1-s, s) || uniform) = delta for s > 1/2
    s_grid = np.linspace(0.5, 1 - 1e-9, 200001)
    kl = s_grid * np.log(2 * s_grid) + (1 - s_grid) * np.log(2 * (1 - s_grid))
    s = s_grid[np.searchsorted(kl, delta) - 1]
    assert g[1] == pytest.approx(s, abs=1e-4)


def test_l1_worst_case_moves_half_the_budget():
    a, r = np.array([0.9, 0.5, 0.7]), np.full(3, 1 / 3)
    g = worst_case_weights(a, r, 0.2, "l1")
    assert g == pytest.approx([1 / 3 - 0.1, 1 / 3 + 0.1, 1 / 3])


@pytest.mark.parametrize("kind", ["kl", "reverse_kl", "l2", "l1"])
def test_worst_case_matches_brute_force(kind):
    rng = np.random.default_rng(1)
    a, r, delta = np.array([0.9, 0.6, 0.8]), np.array([0.5, 0.3, 0.2]), 0.05
    samples = rng.dirichlet(np.ones(3), size=200000)
    vectorised = {
        "kl": lambda s: np.sum(s * np.log(s / r), axis=1),
        "reverse_kl": lambda s: np.sum(r * np.log(r / s), axis=1),
        "l1": lambda s: np.abs(s - r).sum(axis=1),
        "l2": lambda s: ((s - r) ** 2).sum(axis=1),
    }
    inside = vectorised[kind](samples) <= delta
    brute = (samples[inside] @ a).min()
    g = worst_case_weights(a, r, delta, kind)
    assert divergence(g, r, kind) <= delta + 1e-9
    assert g @ a <= brute + 1e-9 and g @ a == pytest.approx(brute, abs=2e-3)


def test_delta_worst_accuracy_limits():
    acc = np.array([0.9, 0.5, np.nan, 0.7])  # class 2 absent: left out
    assert delta_worst_accuracy(acc, 0.0) == pytest.approx(0.7)
    assert balanced_accuracy(acc) == pytest.approx(0.7)
    assert delta_worst_accuracy(acc, 50.0) == pytest.approx(0.5)
    curve = delta_worst_curve(acc, [0, 0.1, 0.5, 2.0])
    assert np.all(np.diff(curve) <= 1e-12)


def test_accuracy_report_by_hand():
    pred = np.array([0, 0, 1, 1, 2, 0])
    labels = np.array([0, 0, 1, 2, 2, 2])
    rep = accuracy_report(pred, labels, delta=0.0)
    assert rep["per_group_accuracy"] == pytest.approx([1.0, 1.0, 1 / 3])
    assert rep["mean_accuracy"] == pytest.approx(4 / 6)
    assert rep["balanced_accuracy"] == pytest.approx(7 / 9)
    assert rep["worst_accuracy"] == pytest.approx(1 / 3)


def _freq(labels):
    """The label frequencies, passed explicitly (the estimators have no default prior)."""
    counts = np.bincount(labels).astype(float)
    return counts / counts.sum()


def test_logit_adjustment_offsets():
    logits = np.zeros((4, 2))
    labels = np.array([0, 0, 0, 1])
    la = LogitAdjustment(tau=1.0, prior=_freq(labels)).fit(logits, labels)
    assert la.offsets_ == pytest.approx(-np.log([0.75, 0.25]))
    assert np.all(la.predict(logits) == 1)
    assert np.all(NoAdjustment().fit(logits, labels).offsets_ == 0)


def _toy(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], [200, 150, 50])
    logits = rng.normal(size=(len(y), 3))
    logits[np.arange(len(y)), y] += np.array([3.0, 1.5, 0.8])[y]
    return logits, y


def test_drops_active_constraint_is_kkt_point():
    """Small ball: the constraint binds, lambda > 0 and g = r exp(L / lambda) / Z (the KKT
    conditions of max_g sum g L - lambda KL(g || r))."""
    logits, y = _toy()
    d = DROPS(delta=0.05, steps=2000, prior=_freq(y)).fit(logits, y)
    assert all(h.lam >= 0 for h in d.history_)
    assert d.lambda_ > 0
    assert d.divergence_ == pytest.approx(0.05, abs=1e-4)
    losses = _group_losses(logits + d.offsets_, y, y, 3, "ce")
    expected = d.target_ * np.exp(losses / d.lambda_)
    assert d.weights_ == pytest.approx(expected / expected.sum(), abs=1e-4)


def test_drops_inactive_constraint_equalises_losses():
    """Large ball: the saddle point is interior, lambda = 0 and the per-class losses of the
    adjusted classifier are equal (the minimax equaliser)."""
    logits, y = _toy()
    d = DROPS(delta=0.5, steps=2000, prior=_freq(y)).fit(logits, y)
    assert all(h.lam >= 0 for h in d.history_)
    assert d.lambda_ == 0.0
    assert d.divergence_ < 0.5
    losses = _group_losses(logits + d.offsets_, y, y, 3, "ce")
    assert losses.max() - losses.min() < 0.01


@pytest.mark.parametrize("kind", ["kl", "reverse_kl", "l1", "l2"])
def test_drops_stays_in_ball_all_divergences(kind):
    logits, y = _toy(1)
    d = DROPS(delta=0.1, divergence=kind, steps=300, prior=_freq(y)).fit(logits, y)
    assert divergence(d.weights_, d.target_, kind) <= 0.1 + 1e-9
    assert min(h.lam for h in d.history_) >= 0
    assert d.predict(logits).shape == (len(y),)
    assert d.predict_proba(logits).sum(axis=1) == pytest.approx(np.ones(len(y)))


def test_drops_delta_zero_is_balanced_logit_adjustment():
    logits, y = _toy(2)
    d = DROPS(delta=0.0, prior=_freq(y)).fit(logits, y)
    la = LogitAdjustment(prior=_freq(y)).fit(logits, y)
    assert np.all(d.predict(logits) == la.predict(logits))


def test_drops_groups_and_bad_params():
    logits, y = _toy(3)
    groups = y * 2 + (np.arange(len(y)) % 2)
    d = DROPS(delta=0.2, steps=100, prior=_freq(y)).fit(logits, y, groups)
    assert len(d.weights_) == 6 and d.class_weights().sum() == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        DROPS(delta=-1, prior=_freq(y)).fit(logits, y)
    with pytest.raises(DataError):
        DROPS(prior=_freq(y)).fit(logits, y[:-1])
    bad = logits.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="row 4"):
        DROPS(prior=_freq(y)).fit(bad, y)
    with pytest.raises(DataError, match="outside"):
        DROPS(prior=_freq(y)).fit(logits, np.where(y == 2, 7, y))


def test_baselines_do_what_they_optimise():
    split = synthetic_longtail(seed=0, n_max=400, n_val_max=400, n_test_per_class=100)
    v, lv = split.val_logits, split.val_labels

    def bal(model):
        acc = accuracy_report(model.predict(v), lv)
        return acc["balanced_accuracy"], acc["worst_accuracy"]

    base = bal(NoAdjustment().fit(v, lv))
    assert bal(BalancedReweighting(prior=_freq(lv)).fit(v, lv))[0] >= bal(LogitAdjustment(prior=_freq(lv)).fit(v, lv))[0] - 1e-12
    assert bal(WorstClassReweighting(prior=_freq(lv)).fit(v, lv))[1] >= base[1]


def test_longtail_split_and_profile():
    assert exponential_profile(3, 100.0) == pytest.approx(np.array([1, 0.1, 0.01]) / 1.11)
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 100)
    probs = rng.dirichlet(np.ones(3), size=300)
    s1 = longtail_split(probs, labels, ratio=10, seed=3)
    s2 = longtail_split(probs, labels, ratio=10, seed=3)
    assert np.array_equal(s1.val_index, s2.val_index)
    counts = np.bincount(s1.val_labels, minlength=3)
    assert counts[0] == 50 and counts[2] == 5
    assert np.bincount(s1.test_labels).tolist() == [50, 50, 50]
    # Bayes label-shift: logits = log p + log pi_LT - log(1/K)
    row = s1.val_index[0]
    assert s1.val_logits[0] == pytest.approx(np.log(probs[row]) + np.log(s1.prior) + np.log(3))


def test_compare_methods_on_synthetic_improves_worst_class():
    split = synthetic_longtail(seed=0)
    res = compare_methods(split.val_logits, split.val_labels, split.test_logits, split.test_labels,
                          prior=split.prior, delta=0.5)  # a fixed radius: selection is tested in test_selection.py
    m = res["methods"]
    assert m["DROPS"]["test"]["worst_accuracy"] > m["no adjustment"]["test"]["worst_accuracy"]
    assert m["DROPS"]["test"]["delta_worst_accuracy"] > m["no adjustment"]["test"]["delta_worst_accuracy"]
