"""Accuracy under prior shift: mean, balanced, worst-class and delta-worst accuracy.

All functions are numbers in, numbers out. Per-class (or per-group) accuracies ``acc_y``
are computed on the rows of each class; classes absent from the evaluation set are left
out of every statistic (and the target ``r`` is renormalised over those present).

* mean accuracy: fraction of rows predicted correctly.
* balanced accuracy: ``(1/K) sum_y acc_y``.
* worst-class accuracy: ``min_y acc_y``.
* delta-worst accuracy (Wei et al., ICLR 2023, Eq. 2):
  ``min_{g in simplex, D(g, r) <= delta} sum_y g_y acc_y``; ``delta = 0`` is the
  ``r``-weighted (for uniform ``r``: balanced) accuracy, a large ``delta`` the worst-class
  accuracy. For KL it is computed exactly through the dual
  ``max_{lambda >= 0} -lambda log sum_y r_y exp(-acc_y / lambda) - lambda delta``, whose
  optimum ``g ∝ r exp(-acc / lambda)`` is found by bisection on ``lambda``
  (:func:`reliant.robustness.divergences.worst_case_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reliant.robustness.config import DEFAULT_DELTAS
from reliant.robustness.divergences import worst_case_weights
from reliant.robustness.inputs import group_accuracy

__all__ = [
    "DEFAULT_DELTAS",
    "accuracy_report",
    "balanced_accuracy",
    "delta_worst_accuracy",
    "delta_worst_curve",
    "per_group_accuracy",
    "shifted_prior_accuracy",
    "worst_group_accuracy",
]



def per_group_accuracy(predictions: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None,
                       num_groups: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of ``predictions`` on the rows of each group (the class when ``groups`` is
    None) and each group's size; empty groups get NaN."""
    labels = np.asarray(labels)
    groups = labels if groups is None else np.asarray(groups)
    if num_groups is None:
        num_groups = int(groups.max()) + 1
    return group_accuracy(np.asarray(predictions) == labels, groups, num_groups)


def _present(acc: np.ndarray, r: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    acc = np.asarray(acc, dtype=np.float64)
    keep = ~np.isnan(acc)
    if not keep.any():
        raise ValueError("no group has any rows")
    target = np.full(acc.shape, 1.0 / acc.size) if r is None else np.asarray(r, dtype=np.float64)
    target = target[keep]
    return acc[keep], target / target.sum()


def balanced_accuracy(group_acc: np.ndarray, r: np.ndarray | None = None) -> float:
    """``sum_y r_y acc_y`` over present groups (uniform ``r``: the mean of per-group accuracies)."""
    acc, target = _present(group_acc, r)
    return float(np.dot(target, acc))


def worst_group_accuracy(group_acc: np.ndarray) -> float:
    """Lowest accuracy over groups with rows."""
    return float(np.nanmin(np.asarray(group_acc, dtype=np.float64)))


def delta_worst_accuracy(group_acc: np.ndarray, delta: float, r: np.ndarray | None = None,
                         divergence: str = "kl", return_weights: bool = False):
    """Delta-worst accuracy (DROPS Eq. 2): the least ``sum_y g_y acc_y`` over ``g`` with
    ``D(g, r) <= delta``. With ``return_weights`` also the worst ``g`` (over present groups)."""
    acc, target = _present(group_acc, r)
    g = worst_case_weights(acc, target, float(delta), divergence)
    value = float(np.dot(g, acc))
    return (value, g) if return_weights else value


def delta_worst_curve(group_acc: np.ndarray, deltas: Sequence[float] = DEFAULT_DELTAS,
                      r: np.ndarray | None = None, divergence: str = "kl") -> np.ndarray:
    """:func:`delta_worst_accuracy` at each delta (non-increasing in delta)."""
    return np.array([delta_worst_accuracy(group_acc, d, r, divergence) for d in deltas])


def shifted_prior_accuracy(group_acc: np.ndarray, test_prior: np.ndarray) -> float:
    """Expected accuracy on a test set whose class (group) prior is ``q``: ``sum_y q_y acc_y``
    (per-class accuracy does not change under label shift, only the mix does); classes with
    no evaluation rows are left out and ``q`` renormalised."""
    return balanced_accuracy(group_acc, test_prior)


def accuracy_report(predictions: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None,
                    num_groups: int | None = None, *, delta: float = 0.5, r: np.ndarray | None = None,
                    divergence: str = "kl", deltas: Sequence[float] = DEFAULT_DELTAS,
                    test_priors: dict[str, np.ndarray] | None = None) -> dict:
    """Mean, balanced, worst and delta-worst accuracy (plus the curve over ``deltas``, the
    per-group accuracies and, for each named prior in ``test_priors``, the accuracy under that
    shifted test prior) of one set of predictions."""
    acc, sizes = per_group_accuracy(predictions, labels, groups, num_groups)
    shifted = {name: shifted_prior_accuracy(acc, q) for name, q in (test_priors or {}).items()
               if len(q) == len(acc)}
    return {
        "shifted_prior_accuracy": shifted,
        "mean_accuracy": float(np.mean(np.asarray(predictions) == np.asarray(labels))),
        "balanced_accuracy": balanced_accuracy(acc, r),
        "worst_accuracy": worst_group_accuracy(acc),
        "delta_worst_accuracy": delta_worst_accuracy(acc, delta, r, divergence),
        "delta_worst_curve": delta_worst_curve(acc, deltas, r, divergence).tolist(),
        "per_group_accuracy": acc.tolist(),
        "group_sizes": sizes.tolist(),
    }
