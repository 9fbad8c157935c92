"""TOFU and MUSE statistics against hand-computed values."""

import math

import numpy as np
import pytest

from reliant.core.errors import ConfigError, UserError

# Malformed arrays reaching these formulas are caller bugs: plain ValueError / TypeError
# (with a traceback), never the one-line UserError meant for user input (issue #10, item 5).
from reliant.unlearning.metrics import (
    MODEL_UTILITY_KEYS,
    auc_members_vs_nonmembers,
    forget_quality,
    knowmem,
    min_k_percent_score,
    model_utility,
    muse_forget_holdout_auc,
    normalized_option_probability,
    privleak,
    probability_from_nll,
    rouge_l_f1,
    rouge_l_recall,
    truth_ratio,
    truth_ratio_stat_forget,
    truth_ratio_stat_retain,
    verbmem,
)

LN2, LN4 = math.log(2), math.log(4)


# --------------------------------------------------------------------------- TOFU


def test_probability_from_nll():
    assert probability_from_nll(LN2) == pytest.approx(0.5)
    assert probability_from_nll([0.0, LN4]).tolist() == pytest.approx([1.0, 0.25])
    with pytest.raises(ValueError, match="log-probabilities"):
        probability_from_nll([-0.1])


def test_normalized_option_probability():
    # Row 0: 1/2 vs two wrong options at 1/4 each; row 1: 1/4 vs 1/2 and 1/4.
    got = normalized_option_probability([LN2, LN4], [[LN4, LN4], [LN2, LN4]])
    assert got.tolist() == pytest.approx([0.5, 0.25])
    with pytest.raises(ValueError, match="rows"):
        normalized_option_probability([LN2], [[LN4], [LN4]])


def test_truth_ratio_geometric_and_arithmetic():
    perturbed = [[1.0, 3.0], [0.5, 0.5]]
    paraphrased = [1.5, 0.5]
    # Geometric mean of exp(-1), exp(-3) is exp(-2); divided by exp(-1.5).
    assert truth_ratio(perturbed, paraphrased).tolist() == pytest.approx([math.exp(-0.5), 1.0])
    arithmetic = ((math.exp(-1) + math.exp(-3)) / 2) / math.exp(-1.5)
    got = truth_ratio(perturbed, paraphrased, perturbed_mean="arithmetic")
    assert got.tolist() == pytest.approx([arithmetic, 1.0])
    with pytest.raises(ConfigError, match="geometric, arithmetic"):
        truth_ratio(perturbed, paraphrased, perturbed_mean="harmonic")


def test_truth_ratio_is_stable_in_log_space():
    # exp(-800) underflows to 0 in float64; the ratio itself is exp(-5).
    assert truth_ratio([[805.0]], [800.0]).tolist() == pytest.approx([math.exp(-5)])


def test_truth_ratio_statistics():
    ratios = [0.5, 2.0, 0.8]
    assert truth_ratio_stat_retain(ratios) == pytest.approx((0.5 + 0.0 + 0.2) / 3)
    assert truth_ratio_stat_forget(ratios) == pytest.approx((0.5 + 0.5 + 0.8) / 3)
    # exp() can underflow to a ratio of exactly 0: its limits, not an error.
    assert truth_ratio_stat_forget([0.0, 1.0]) == pytest.approx(0.5)
    assert truth_ratio_stat_retain([0.0, 1.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=">= 0"):
        truth_ratio_stat_retain([-0.5, 1.0])


def test_model_utility_harmonic_mean():
    values = {key: 1.0 for key in MODEL_UTILITY_KEYS}
    values["world_facts/rouge_l_recall"] = 0.1
    # 9 / (8 * 1 + 1 / 0.1) = 9 / 18
    assert model_utility(values) == pytest.approx(0.5)
    assert model_utility({key: 0.25 for key in MODEL_UTILITY_KEYS}) == pytest.approx(0.25)
    values["retain/truth_ratio"] = 0.0
    assert model_utility(values) == 0.0


def test_model_utility_rejects_bad_inputs():
    values = {key: 0.5 for key in MODEL_UTILITY_KEYS}
    with pytest.raises(ValueError, match="miss retain/rouge_l_recall"):
        model_utility({k: v for k, v in values.items() if k != "retain/rouge_l_recall"})
    with pytest.raises(ValueError, match="unknown keys forget/truth_ratio"):
        model_utility({**values, "forget/truth_ratio": 0.3})
    with pytest.raises(ValueError, match="negative: real_authors/probability"):
        model_utility({**values, "real_authors/probability": -0.1})
    with pytest.raises(ValueError, match="NaN"):
        model_utility({**values, "retain/rouge_l_recall": float("nan")})


def test_forget_quality_ks_pvalue():
    same = [0.2, 0.4, 0.5, 0.7, 0.9]
    assert forget_quality(same, same) == pytest.approx(1.0)
    low = np.linspace(0.1, 0.2, 10)
    high = np.linspace(0.8, 0.9, 10)
    # Disjoint samples of 10: the exact two-sided p-value is 2 / C(20, 10).
    assert forget_quality(low, high) == pytest.approx(2 / math.comb(20, 10), rel=1e-6)
    # TOFU tests 1/R; the KS p-value is unchanged by that monotone map.
    a, b = np.array([0.3, 0.5, 0.9, 1.2]), np.array([0.4, 0.45, 2.0, 3.0, 0.7])
    assert forget_quality(a, b) == pytest.approx(forget_quality(1 / a, 1 / b))
    with pytest.raises(ValueError, match="empty"):
        forget_quality([], same)


def test_rouge_l_recall_by_hand():
    reference = "The cat sat on the mat."
    prediction = "the cat on a mat"
    # Tokens: [the cat sat on the mat] vs [the cat on a mat]; LCS "the cat on mat" = 4.
    assert rouge_l_recall(prediction, reference) == pytest.approx(4 / 6)
    # TOFU stems (use_stemmer=True): "cats running" and "cat runs" both become "cat run".
    assert rouge_l_recall("cat runs", "cats running") == pytest.approx(1.0)
    assert rouge_l_recall("cat runs", "cats running", use_stemmer=False) == 0.0
    assert rouge_l_recall("", reference) == 0.0
    with pytest.raises(TypeError, match="strings"):
        rouge_l_recall(None, reference)


# --------------------------------------------------------------------------- MUSE


def test_rouge_l_f1_by_hand():
    # Precision 4/5, recall 4/6 -> F1 = 2 * (4/5) * (4/6) / (4/5 + 4/6) = 8/11.
    assert rouge_l_f1("the cat on a mat", "The cat sat on the mat.") == pytest.approx(8 / 11)
    # MUSE does not stem.
    assert rouge_l_f1("cat runs", "cats running") == 0.0


def test_verbmem_and_knowmem():
    preds = ["the cat on a mat", "hello world"]
    refs = ["The cat sat on the mat.", "hello world"]
    assert verbmem(preds, refs) == pytest.approx((8 / 11 + 1.0) / 2 * 100)
    answer = "Paris\n\nQuestion: What is the capital of Italy?\nAnswer: Rome"
    assert knowmem([answer], ["Paris"]) == pytest.approx(100.0)
    assert knowmem([answer], ["Paris"], cut_at_stop_strings=False) < 50
    with pytest.raises(ValueError, match="differ in length"):
        verbmem(preds, refs[:1])
    with pytest.raises(ValueError, match="empty"):
        knowmem([], [])
    with pytest.raises(TypeError, match="not one string"):
        verbmem("abc", "abc")


def test_min_k_percent_score():
    logprobs = [-1.0, -2.0, -3.0, -4.0, -5.0]
    assert min_k_percent_score(logprobs, k=0.4) == pytest.approx(-4.5)  # int(5 * 0.4) = 2 lowest
    assert min_k_percent_score(logprobs, k=0.1) == pytest.approx(-5.0)  # at least one token
    assert min_k_percent_score(logprobs, k=1.0) == pytest.approx(-3.0)
    assert min_k_percent_score(np.array(logprobs)[::-1], k=0.4) == pytest.approx(-4.5)
    with pytest.raises(ValueError, match="NLLs"):
        min_k_percent_score([1.0, 2.0])
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        min_k_percent_score(logprobs, k=0.0)
    with pytest.raises(ValueError, match="1-D"):
        min_k_percent_score([[-1.0]])


def test_auc_and_privleak():
    members, nonmembers = [0.9, 0.8], [0.1, 0.85]
    # Pairs (member > non-member): 0.9>0.1, 0.9>0.85, 0.8>0.1 hold; 0.8>0.85 fails.
    assert auc_members_vs_nonmembers(members, nonmembers) == pytest.approx(0.75)
    assert muse_forget_holdout_auc(forget_scores=members, holdout_scores=nonmembers) == pytest.approx(0.25)
    assert privleak(0.6, 0.5) == pytest.approx(20.0)
    assert privleak(0.0, 0.4772) == pytest.approx(-100.0)
    with pytest.raises(ValueError, match="auc_retrain is 0"):
        privleak(0.5, 0.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        privleak(1.5, 0.5)
    with pytest.raises(ValueError, match="empty"):
        auc_members_vs_nonmembers([], [0.1])


def test_internal_contract_errors_are_not_user_errors():
    with pytest.raises(ValueError) as exc:
        min_k_percent_score([[-1.0]])
    assert not isinstance(exc.value, UserError)
    with pytest.raises(ValueError) as exc:
        auc_members_vs_nonmembers([], [0.1])
    assert not isinstance(exc.value, UserError)


def test_shared_metrics_are_the_core_ones():
    from reliant.core import metrics as core

    assert rouge_l_f1 is core.rouge_l_f1 and rouge_l_recall is core.rouge_l_recall
    assert auc_members_vs_nonmembers([0.9, 0.8], [0.1, 0.85]) == core.auroc([0.9, 0.8], [0.1, 0.85])
