"""Every memorization formula against a value computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reliant.core.errors import ConfigError, UserError
from reliant.memorization import metrics as M

MEMBERS = [3.0, 2.0, 2.0]
NONMEMBERS = [2.0, 1.0, 0.0, 0.0]


def test_auroc_counts_ties_as_half():
    # 3 beats all 4 non-members (4); each 2 beats 1, 0, 0 and ties 2 (3.5 each): 11 / 12.
    assert M.auroc(MEMBERS, NONMEMBERS) == pytest.approx(11 / 12)
    assert M.auroc([1, 1], [1, 1]) == pytest.approx(0.5)
    assert M.auroc([0], [1]) == 0.0


def test_auroc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    m, n = rng.integers(0, 5, 40).astype(float), rng.integers(0, 4, 30).astype(float)
    expected = roc_auc_score(np.r_[np.ones(40), np.zeros(30)], np.r_[m, n])
    assert M.auroc(m, n) == pytest.approx(expected)


def test_roc_points_exact_on_ties():
    fpr, tpr, thr = M.roc_points(MEMBERS, NONMEMBERS)
    assert thr.tolist() == [math.inf, 3.0, 2.0, 1.0, 0.0]
    assert fpr.tolist() == pytest.approx([0, 0, 0.25, 0.5, 1.0])
    assert tpr.tolist() == pytest.approx([0, 1 / 3, 1, 1, 1])
    # trapezoid area of the exact curve equals the Mann-Whitney AUROC
    assert np.trapezoid(tpr, fpr) == pytest.approx(11 / 12)


def test_tpr_at_fpr_never_splits_a_tie():
    assert M.tpr_at_fpr(MEMBERS, NONMEMBERS, 0.0) == pytest.approx(1 / 3)
    # 10% FPR cannot be reached inside the tie at score 2 (that block costs 25%).
    assert M.tpr_at_fpr(MEMBERS, NONMEMBERS, 0.1) == pytest.approx(1 / 3)
    assert M.tpr_at_fpr(MEMBERS, NONMEMBERS, 0.25) == pytest.approx(1.0)
    # everything tied: no threshold below FPR 1 finds anyone
    assert M.tpr_at_fpr([1, 1], [1, 1], 0.5) == 0.0
    with pytest.raises(ConfigError):
        M.tpr_at_fpr(MEMBERS, NONMEMBERS, 1.5)


def test_bootstrap_is_deterministic_and_brackets():
    a = M.bootstrap_auroc(MEMBERS * 5, NONMEMBERS * 5, n_boot=50, seed=3)
    assert a == M.bootstrap_auroc(MEMBERS * 5, NONMEMBERS * 5, n_boot=50, seed=3)
    assert a[0] <= 11 / 12 <= a[1]


def test_scores_reject_bad_inputs():
    # Scores and log-probabilities come from reliant's own code: a bad one is a bug, so a
    # plain ValueError with its traceback, not a one-line UserError (issue #10, item 5).
    for bad in (lambda: M.auroc([], [1.0]), lambda: M.auroc([float("nan")], [1.0]),
                lambda: M.loss_score([0.5, -1.0])):  # the last: NLLs passed by mistake
        with pytest.raises(ValueError) as exc:
            bad()
        assert not isinstance(exc.value, UserError)
    with pytest.raises(ConfigError):
        M.min_k_score([-1.0], k=0)


def test_loss_zlib_reference():
    assert M.loss_score([-1, -2, -3]) == pytest.approx(-2.0)
    # len(zlib.compress(b"aaaa")) == 12
    assert M.zlib_score([-1, -3], "aaaa") == pytest.approx(-2.0 / 12)
    assert M.reference_score([-1, -1], [-3, -1]) == pytest.approx(1.0)


def test_min_k():
    logp = [-1, -2, -3, -4, -10]
    assert M.min_k_score(logp, 0.4) == pytest.approx(-7.0)  # int(5 * 0.4) = 2 lowest: -10, -4
    assert M.min_k_score(logp, 0.1) == pytest.approx(-10.0)  # at least one token
    assert M.min_k_score(logp, 1.0) == pytest.approx(-4.0)


def test_min_k_plus_plus():
    # standardised: (-1 - -1.5) / 0.5 = 1, (-2 - -1) / 2 = -0.5
    assert M.min_k_plus_plus_score([-1, -2], [-1.5, -1], [0.5, 2], k=0.5) == pytest.approx(-0.5)
    assert M.min_k_plus_plus_score([-1, -2], [-1.5, -1], [0.5, 2], k=1.0) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        M.min_k_plus_plus_score([-1, -2], [-1.5], [0.5], k=0.5)


def test_exposure_exact_and_sampled():
    # space of 4 secrets; one candidate (0.5) more likely: rank 2 -> log2 4 - log2 2 = 1
    assert M.exposure(1.0, [2.0, 3.0, 0.5]) == (pytest.approx(1.0), 2)
    # a tie ranks against the canary
    assert M.exposure(1.0, [1.0, 2.0, 3.0]) == (pytest.approx(1.0), 2)
    assert M.exposure(0.1, [1.0, 2.0, 3.0]) == (pytest.approx(2.0), 1)
    # sampled: (1 + 1) / (3 + 1) -> 1 bit
    assert M.exposure_sampled(1.0, [2.0, 3.0, 0.5]) == pytest.approx(1.0)
    assert M.exposure_sampled(0.0, [1.0] * 7) == pytest.approx(3.0)


def test_edit_distance_and_rouge():
    assert M.token_edit_distance(list("kitten"), list("sitting")) == 3
    assert M.token_edit_distance([], [1, 2]) == 2
    # LCS "the cat" = 2; P = 2/3, R = 2/4 -> F1 = 4/7
    assert M.rouge_l_f1("the cat sat", "The cat was here") == pytest.approx(4 / 7)
    assert M.rouge_l_f1("", "x") == 0.0
    # One ROUGE-L for the house (rouge_score's tokens: punctuation dropped). The old
    # hand-written whitespace version scored this 5/6 because "mat." != "mat".
    assert M.rouge_l_f1("the cat sat on the mat.", "The cat sat on the mat") == pytest.approx(1.0)
    from reliant.core.metrics import rouge_l_f1

    assert M.rouge_l_f1 is rouge_l_f1


def test_counterfactual_memorization_and_influence():
    perf = [[1, 0], [0, 1], [0, 1], [1, 0]]
    included = [[1, 0], [1, 1], [0, 1], [0, 0]]
    # ex0: in {0,1} -> 0.5, out {2,3} -> 0.5 => 0; ex1: in {1,2} -> 1, out {0,3} -> 0 => 1
    assert M.counterfactual_memorization(perf, included).tolist() == pytest.approx([0.0, 1.0])
    never = M.counterfactual_memorization([[1.0], [0.0]], [[1], [1]])
    assert np.isnan(never[0])
    test_perf = [[1], [1], [0], [0]]
    # train ex0: in {0,1} -> 1, out {2,3} -> 0 => 1; ex1: in {1,2} -> .5, out {0,3} -> .5 => 0
    assert M.influence_matrix(test_perf, included)[:, 0].tolist() == pytest.approx([1.0, 0.0])


def test_forgetting_events():
    history = [[1, 0], [0, 0], [1, 0], [0, 0]]
    counts, never = M.forgetting_events(history)
    assert counts.tolist() == [2, 0]
    assert never.tolist() == [False, True]


def test_logit_confidence_and_lira():
    # p = e^2 / (e^2 + 2): log(p / (1 - p)) = 2 - log 2
    assert M.logit_confidence([[2.0, 0.0, 0.0]], [0])[0] == pytest.approx(2 - math.log(2))
    # in: mean 1, std 1; out: mean -2, std 1; phi = 0 -> (-0.5) - (-2) = 1.5
    assert M.lira_online([0.0], [[0.0], [2.0]], [[-1.0], [-3.0]])[0] == pytest.approx(1.5)
    from scipy.stats import norm

    assert M.lira_offline([0.0], [[-1.0], [-3.0]])[0] == pytest.approx(math.log(norm.cdf(2.0)))
    # NaN marks a shadow model that did not have the example on that side
    assert M.lira_online([0.0], [[0.0], [2.0], [np.nan]], [[-1.0], [np.nan], [-3.0]])[0] == pytest.approx(1.5)


def test_per_example_fpr_and_p_value():
    from reliant.memorization.api import empirical_fpr, membership_p_value

    nonmembers = np.array(NONMEMBERS)
    # score 3: no non-member at least as high; score 2: one of four (the tied 2)
    assert empirical_fpr(np.array([3.0, 2.0]), nonmembers).tolist() == pytest.approx([0.0, 0.25])
    assert membership_p_value(np.array([3.0, 2.0]), nonmembers).tolist() == pytest.approx([1 / 5, 2 / 5])
    # leave-one-out for the non-members themselves: the 2 has no other at least as high -> 1/4;
    # a 0 has the other three -> 4/4
    assert membership_p_value(nonmembers, nonmembers, leave_one_out=True).tolist() == pytest.approx([0.25, 0.5, 1.0, 1.0])
