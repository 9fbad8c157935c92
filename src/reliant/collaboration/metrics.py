"""How two classifiers' mistakes relate: agreement, error overlap and consistency, and the
structure of their confusions.

Numbers in, numbers out; "a" and "b" are any two sources of predictions (a human and a
machine in :mod:`reliant.collaboration`).

* Cohen's kappa of two label sequences: ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the share of
  rows where they agree and ``p_e = sum_k P_a(k) P_b(k)`` the agreement expected of independent
  raters with the same label frequencies.
* Error consistency (Geirhos et al., NeurIPS 2020, Eq. 1-3): Cohen's kappa on the binary
  "correct?" outcomes, ``c_obs`` = share of rows both get right or both get wrong,
  ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)``, ``kappa = (c_obs - c_exp) / (1 - c_exp)``; 0 means the
  two err independently, 1 on the very same rows.
* Error overlap: the 2 x 2 table (both right / only a wrong / only b wrong / both wrong), the
  Jaccard index of the two error sets and the conditional error rates
  ``P(b wrong | a wrong)``.
* Oracle (complementarity) accuracy: ``P(a right or b right)``, the ceiling of any team that
  picks one of the two answers per row (Liu, Wei, Liu & Davis, "Human and AI Perceptual Differences in
  Image Classification Errors", oracle collaboration).
* Confusion similarity: the Pearson correlation of the off-diagonal entries of the two
  row-normalised confusion matrices, and the Jensen-Shannon divergence between the two
  *error distributions* (off-diagonal mass normalised to sum 1: where, among all confusions,
  each source's mistakes go).
* A chi-square test of homogeneity of the two error distributions over (true, predicted)
  pairs (the paper's hypothesis test that human and machine mistakes follow one distribution).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "accuracy",
    "chi2_error_test",
    "cohen_kappa",
    "confusion_similarity",
    "error_consistency",
    "error_distribution",
    "error_overlap",
    "js_divergence",
    "oracle_accuracy",
    "per_class_error",
    "spearman",
]


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


def cohen_kappa(a: np.ndarray, b: np.ndarray, num_classes: int) -> float:
    """Cohen's kappa of two integer label sequences (1 when both are one constant label)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    p_o = float(np.mean(a == b))
    p_e = float(np.dot(np.bincount(a, minlength=num_classes) / len(a), np.bincount(b, minlength=num_classes) / len(b)))
    if p_e >= 1.0:
        return 1.0
    return (p_o - p_e) / (1.0 - p_e)


def error_consistency(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Geirhos et al. (2020) error consistency: kappa of the two "correct?" sequences (0 when
    either source is always right or always wrong, where it is undefined)."""
    ca = np.asarray(correct_a, dtype=bool)
    cb = np.asarray(correct_b, dtype=bool)
    p_a, p_b = float(ca.mean()), float(cb.mean())
    c_obs = float(np.mean(ca == cb))
    c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)
    if c_exp >= 1.0:
        return 0.0
    return (c_obs - c_exp) / (1.0 - c_exp)


def error_overlap(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """The 2 x 2 outcome table (shares of rows), the Jaccard index of the error sets and the
    conditional error rates."""
    ca = np.asarray(correct_a, dtype=bool)
    cb = np.asarray(correct_b, dtype=bool)
    both_wrong = float(np.mean(~ca & ~cb))
    only_a = float(np.mean(~ca & cb))
    only_b = float(np.mean(ca & ~cb))
    either_wrong = both_wrong + only_a + only_b
    err_a, err_b = 1.0 - float(ca.mean()), 1.0 - float(cb.mean())
    return {
        "both_right": float(np.mean(ca & cb)),
        "only_a_wrong": only_a,
        "only_b_wrong": only_b,
        "both_wrong": both_wrong,
        "jaccard_errors": both_wrong / either_wrong if either_wrong > 0 else 0.0,
        "p_b_wrong_given_a_wrong": both_wrong / err_a if err_a > 0 else 0.0,
        "p_a_wrong_given_b_wrong": both_wrong / err_b if err_b > 0 else 0.0,
        # what independent errors would give: P(both wrong) = err_a * err_b
        "both_wrong_if_independent": err_a * err_b,
    }


def oracle_accuracy(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """``P(a right or b right)``: the best any per-row choice between the two can do."""
    return float(np.mean(np.asarray(correct_a, dtype=bool) | np.asarray(correct_b, dtype=bool)))


def per_class_error(confusion: np.ndarray) -> np.ndarray:
    """``1 - C[y, y]`` of a row-normalised confusion matrix."""
    return 1.0 - np.diag(np.asarray(confusion, dtype=np.float64))


def error_distribution(confusion_counts: np.ndarray) -> np.ndarray:
    """Off-diagonal confusion mass normalised to sum 1 (a K x K matrix, zero diagonal): the
    share of all mistakes that are "true y predicted k"."""
    counts = np.asarray(confusion_counts, dtype=np.float64).copy()
    np.fill_diagonal(counts, 0.0)
    total = counts.sum()
    return counts / total if total > 0 else counts


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log, in ``[0, log 2]``) of two distributions of one shape."""
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log(x[mask] / m[mask])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def confusion_similarity(conf_a: np.ndarray, conf_b: np.ndarray, counts_a: np.ndarray | None = None,
                         counts_b: np.ndarray | None = None) -> dict[str, float]:
    """Pearson correlation of the off-diagonal entries of two row-normalised confusion
    matrices and, given the raw counts, the JS divergence of the two error distributions."""
    a = np.asarray(conf_a, dtype=np.float64)
    b = np.asarray(conf_b, dtype=np.float64)
    off = ~np.eye(a.shape[0], dtype=bool)
    x, y = a[off], b[off]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    corr = float(np.corrcoef(x, y)[0, 1]) if x.size > 1 and x.std() > 0 and y.std() > 0 else 0.0
    out = {"offdiag_correlation": corr}
    if counts_a is not None and counts_b is not None:
        out["error_js_divergence"] = js_divergence(error_distribution(counts_a), error_distribution(counts_b))
    return out


def chi2_error_test(counts_a: np.ndarray, counts_b: np.ndarray, min_expected: float = 5.0) -> dict[str, float]:
    """Chi-square test of homogeneity: do the two sources' mistakes spread over the same
    (true, predicted) pairs? Pairs with fewer than ``min_expected`` expected errors are pooled
    into one "other" cell so the chi-square approximation holds."""
    from scipy.stats import chi2_contingency

    a = error_distribution_counts(counts_a)
    b = error_distribution_counts(counts_b)
    table = np.stack([a, b])
    totals = table.sum(axis=1, keepdims=True)
    if np.any(totals == 0):
        return {"chi2": 0.0, "dof": 0, "p_value": 1.0}
    expected = table.sum(axis=0, keepdims=True) * totals / table.sum()
    small = expected.min(axis=0) < min_expected
    kept = table[:, ~small]
    if small.any():
        kept = np.concatenate([kept, table[:, small].sum(axis=1, keepdims=True)], axis=1)
    kept = kept[:, kept.sum(axis=0) > 0]
    if kept.shape[1] < 2:
        return {"chi2": 0.0, "dof": 0, "p_value": 1.0}
    chi2, p_value, dof, _ = chi2_contingency(kept)
    return {"chi2": float(chi2), "dof": int(dof), "p_value": float(p_value)}


def error_distribution_counts(confusion_counts: np.ndarray) -> np.ndarray:
    """The off-diagonal counts of a confusion matrix as a flat vector."""
    counts = np.asarray(confusion_counts, dtype=np.float64)
    off = ~np.eye(counts.shape[0], dtype=bool)
    return counts[off]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(spearmanr(x, y).statistic)
