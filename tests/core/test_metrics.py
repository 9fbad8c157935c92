"""The shared metrics of reliant.core.metrics and arrays of reliant.core.arrays, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reliant.core import metrics as M
from reliant.core.arrays import confusion_matrix, log_softmax, probabilities_to_logits, softmax
from reliant.core.errors import ConfigError, UserError


def test_rouge_l_on_rouge_score():
    # Tokens [the cat sat on the mat] vs [the cat on a mat]: LCS 4, P 4/5, R 4/6 -> F1 8/11.
    assert M.rouge_l_f1("the cat on a mat", "The cat sat on the mat.") == pytest.approx(8 / 11)
    assert M.rouge_l_recall("the cat on a mat", "The cat sat on the mat.") == pytest.approx(4 / 6)
    # TOFU's recall stems by default, MUSE's F1 does not.
    assert M.rouge_l_recall("cat runs", "cats running") == pytest.approx(1.0)
    assert M.rouge_l_f1("cat runs", "cats running") == 0.0
    assert M.rouge_l_f1("cat runs", "cats running", use_stemmer=True) == pytest.approx(1.0)
    assert M.rouge_l_f1("", "x") == 0.0
    with pytest.raises(TypeError, match="strings"):
        M.rouge_l_f1(None, "x")


def test_auroc_roc_and_sklearn_agree():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    pos, neg = rng.integers(0, 6, 50).astype(float), rng.integers(0, 5, 40).astype(float)
    expected = roc_auc_score(np.r_[np.ones(50), np.zeros(40)], np.r_[pos, neg])
    assert M.auroc(pos, neg) == pytest.approx(expected)
    fpr, tpr, _ = M.roc_points(pos, neg)
    assert np.trapezoid(tpr, fpr) == pytest.approx(expected)


def test_tpr_at_low_fpr_needs_enough_negatives():
    assert M.min_negatives_for_fpr(0.001) == 1000
    assert M.min_negatives_for_fpr(0.01) == 100
    assert M.min_negatives_for_fpr(0.1) == 10
    pos, neg = [3.0, 2.0, 2.0], [2.0, 1.0, 0.0, 0.0]
    # 4 negatives: an FPR of 10% is not measurable; the plain number is TPR at zero FP.
    assert M.tpr_at_fpr(pos, neg, 0.1) == pytest.approx(1 / 3)
    assert M.tpr_at_fpr(pos, neg, 0.1, none_if_unsupported=True) is None
    assert M.tpr_at_fpr(pos, neg, 0.25, none_if_unsupported=True) == pytest.approx(1.0)
    neg_1000 = np.linspace(-1, 0, 1000)
    assert M.tpr_at_fpr([1.0, -2.0], neg_1000, 0.001, none_if_unsupported=True) == pytest.approx(0.5)
    with pytest.raises(ConfigError):
        M.tpr_at_fpr(pos, neg, float("nan"))


def test_min_k_percent():
    logp = [-1.0, -2.0, -3.0, -4.0, -10.0]
    assert M.min_k_percent(logp, 0.4) == pytest.approx(-7.0)
    assert M.min_k_percent(logp, 0.1) == pytest.approx(-10.0)  # at least one token
    with pytest.raises(ConfigError):
        M.min_k_percent(logp, 0)
    with pytest.raises(ValueError, match="NLLs") as exc:
        M.min_k_percent([1.0, 2.0])
    assert not isinstance(exc.value, UserError)


def test_arrays():
    z = np.array([[0.0, math.log(3.0)], [5.0, 5.0]])
    np.testing.assert_allclose(softmax(z), [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(np.exp(log_softmax(z)), [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(softmax(probabilities_to_logits([[0.2, 0.8]])), [[0.2, 0.8]])
    counts = confusion_matrix([0, 0, 1], [0, 1, 1], 2, normalize=False)
    assert counts.tolist() == [[1.0, 1.0], [0.0, 1.0]]
    assert confusion_matrix([0, 0, 1], [0, 1, 1], 3)[:2].tolist() == [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]
    assert np.isnan(confusion_matrix([0, 0, 1], [0, 1, 1], 3)[2]).all()
