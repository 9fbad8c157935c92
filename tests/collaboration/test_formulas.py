"""Formula tests: agreement and error statistics, votes, teams and curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reliant.collaboration.api import (
    ConfusionCombiner,
    LogLinearCombiner,
    agreement,
    analyze,
    as_counts,
    best_threshold,
    chi2_error_test,
    cohen_kappa,
    confusion_similarity,
    cross_fit,
    deferral_curve,
    error_consistency,
    error_overlap,
    fit_temperature,
    human_confusion,
    oracle_accuracy,
    plurality,
    sample_annotators,
    synthetic_human_machine,
    threshold_defer,
)
from reliant.collaboration.metrics import js_divergence
from reliant.core.errors import ConfigError, DataError


def test_cohen_kappa_by_hand():
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 1, 1, 1])
    # p_o = 3/4, p_e = 0.5*0.25 + 0.5*0.75 = 0.5 -> kappa = 0.5
    assert cohen_kappa(a, b, 2) == pytest.approx(0.5)
    assert cohen_kappa(a, a, 2) == pytest.approx(1.0)


def test_error_consistency_and_overlap_by_hand():
    ca = np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 1], dtype=bool)
    cb = np.array([1, 1, 0, 0, 1, 1, 1, 1, 1, 1], dtype=bool)
    # p_a = p_b = 0.8; c_obs = 0.8; c_exp = 0.64 + 0.04 = 0.68; kappa = 0.12 / 0.32
    assert error_consistency(ca, cb) == pytest.approx(0.12 / 0.32)
    ov = error_overlap(ca, cb)
    assert ov["both_wrong"] == pytest.approx(0.1)
    assert ov["only_a_wrong"] == pytest.approx(0.1) and ov["only_b_wrong"] == pytest.approx(0.1)
    assert ov["jaccard_errors"] == pytest.approx(1 / 3)
    assert ov["p_b_wrong_given_a_wrong"] == pytest.approx(0.5)
    assert ov["both_wrong_if_independent"] == pytest.approx(0.04)
    assert oracle_accuracy(ca, cb) == pytest.approx(0.9)


def test_confusion_similarity_and_js():
    eye = np.eye(3)
    a = 0.8 * eye + 0.2 * np.roll(eye, 1, axis=1)
    assert confusion_similarity(a, a)["offdiag_correlation"] == pytest.approx(1.0)
    b = 0.8 * eye + 0.2 * np.roll(eye, 2, axis=1)
    sim = confusion_similarity(a, b, a * 100, b * 100)
    assert sim["offdiag_correlation"] == pytest.approx(-1.0)  # disjoint off-diagonal supports
    assert sim["error_js_divergence"] == pytest.approx(math.log(2))
    assert js_divergence([0.5, 0.5], [0.5, 0.5]) == 0.0


def test_chi2_detects_different_error_distributions():
    a = np.array([[90, 10, 0], [0, 90, 10], [10, 0, 90]]) * 3
    b = np.array([[90, 0, 10], [10, 90, 0], [0, 10, 90]]) * 3
    assert chi2_error_test(a, b)["p_value"] < 1e-6
    assert chi2_error_test(a, a)["p_value"] == pytest.approx(1.0)


def test_votes_helpers():
    counts = np.array([[3, 1, 0], [0, 2, 2]])
    assert agreement(counts) == pytest.approx([0.75, 0.5])
    assert plurality(counts).tolist() == [0, 1]
    rng = np.random.default_rng(0)
    one = sample_annotators(counts, 1, rng)
    assert one.sum(axis=1).tolist() == [1, 1] and np.all(one <= counts)
    assert np.array_equal(sample_annotators(counts, 0, rng), counts)
    assert as_counts(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(DataError, match="row 2"):
        as_counts(np.array([[1, 0, 0], [0, 0, 0]]), 3)
    with pytest.raises(DataError, match="outside"):
        as_counts(np.array([0, 5]), 3)


def test_sample_annotators_is_hypergeometric():
    counts = np.tile([[30, 10, 0]], (20000, 1))
    drawn = sample_annotators(counts, 2, np.random.default_rng(1))
    # P(both votes for class 0) = 30/40 * 29/39
    assert np.mean(drawn[:, 0] == 2) == pytest.approx(30 / 40 * 29 / 39, abs=0.01)


def test_deferral_curve_by_hand():
    conf = np.array([0.9, 0.5, 0.7, 0.6])
    labels = np.array([0, 1, 2, 3])
    machine = np.array([0, 0, 0, 3])  # right on rows 0 and 3
    human = np.array([1, 1, 2, 0])  # right on rows 1 and 2
    # order by confidence: rows 1 (0.5), 3 (0.6), 2 (0.7), 0 (0.9)
    curve = deferral_curve(conf, machine, human, labels, [0, 0.25, 0.5, 0.75, 1.0])
    assert curve.tolist() == pytest.approx([0.5, 0.75, 0.5, 0.75, 0.5])
    t = best_threshold(conf, machine, human, labels)
    team, deferred = threshold_defer(conf, machine, human, t)
    assert np.mean(team == labels) == pytest.approx(0.75)
    assert deferred.tolist() == [False, True, False, False]


def test_best_threshold_respects_ties():
    conf = np.array([0.5, 0.5, 0.9])
    labels = np.array([0, 0, 0])
    machine = np.array([1, 0, 0])
    human = np.array([0, 1, 0])
    # deferring one of the tied rows is impossible; deferring both gains nothing
    t = best_threshold(conf, machine, human, labels)
    team, _ = threshold_defer(conf, machine, human, t)
    assert np.mean(team == labels) == pytest.approx(2 / 3)


def test_human_confusion_and_confusion_combiner_by_hand():
    votes = np.array([[2, 0], [1, 1], [0, 2]])
    labels = np.array([0, 0, 1])
    conf = human_confusion(votes, labels, 2, alpha=1.0)
    assert conf == pytest.approx(np.array([[4 / 6, 2 / 6], [1 / 4, 3 / 4]]))
    combiner = ConfusionCombiner(alpha=1.0)
    combiner.temperature_, combiner.confusion_ = 1.0, conf
    logits = np.log(np.array([[0.6, 0.4]]))
    out = np.exp(combiner.log_proba(logits, np.array([[0, 1]])))
    expected = np.array([0.6 * 2 / 6, 0.4 * 3 / 4])
    assert out[0] == pytest.approx(expected / expected.sum())


def test_fit_temperature_recovers_known_temperature():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5000, 4)) * 2
    p = np.exp(z / 2.0)
    p /= p.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in p])
    assert fit_temperature(z, labels) == pytest.approx(2.0, rel=0.1)


def test_loglinear_combiner_learns_to_ignore_noise():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=3000)
    logits = 4 * np.eye(3)[labels] + rng.normal(size=(3000, 3))
    votes = np.eye(3, dtype=int)[rng.integers(0, 3, size=3000)]  # random "human"
    model = LogLinearCombiner().fit(logits, votes, labels)
    assert model.human_weight_ < 0.1 * model.machine_weight_


def test_cross_fit_is_out_of_fold_and_seeded():
    seen = []

    def f(fit_rows, eval_rows):
        assert not set(fit_rows) & set(eval_rows)
        seen.append(len(eval_rows))
        return eval_rows * 10

    out = cross_fit(10, 3, 0, f)
    assert out.tolist() == [i * 10 for i in range(10)] and sum(seen) == 10


def test_analyze_synthetic_team_beats_both_and_is_deterministic():
    data = synthetic_human_machine(n=1500, seed=1)
    r1 = analyze(data["logits"], data["votes"], data["labels"], seed=4)
    r2 = analyze(data["logits"], data["votes"], data["labels"], seed=4)
    assert r1["teams"] == r2["teams"]
    assert r1["team_beats_both"]
    assert r1["curves"]["defer_to_human"][0] == pytest.approx(r1["machine"]["accuracy"])
    assert r1["curves"]["defer_to_human"][-1] == pytest.approx(r1["human"]["accuracy"])
    assert 0 <= r1["comparison"]["oracle_accuracy"] <= 1
    with pytest.raises(ConfigError):
        analyze(data["logits"], data["votes"], data["labels"], folds=1)
