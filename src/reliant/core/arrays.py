"""Small numerics on classifier outputs that several capabilities need (robustness,
collaboration, curation): a stable softmax / log-softmax, probabilities back to logits, and
the (soft) confusion matrix. Numbers in, numbers out; reading and checking files is
:mod:`reliant.core.data`'s job."""

from __future__ import annotations

import numpy as np

__all__ = ["confusion_matrix", "fit_temperature", "log_softmax", "probabilities_to_logits", "softmax"]


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax ``exp(z - max z) / sum exp(z - max z)`` in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z - logsumexp(z)`` in float64 (``scipy.special.log_softmax``)."""
    from scipy.special import log_softmax as _log_softmax

    return _log_softmax(np.asarray(logits, dtype=np.float64), axis=axis)


def probabilities_to_logits(probs: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """``log p`` (floored at ``floor``), the logits whose softmax is ``p``."""
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), floor, None))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int, normalize: bool = True) -> np.ndarray:
    """``C[y, k]`` = (fraction of) rows of true class ``y`` predicted ``k``. ``predictions`` may
    be integer predictions or a matrix of per-row prediction distributions (soft counts).
    With ``normalize`` each row is divided by its total (a class with no rows is NaN)."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    if predictions.ndim == 1:
        np.add.at(counts, (labels, predictions), 1.0)
    else:
        np.add.at(counts, labels, predictions.astype(np.float64))
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            counts = np.where(totals > 0, counts / np.maximum(totals, 1e-300), np.nan)
    return counts


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """``argmin_T`` of the mean cross-entropy of ``softmax(logits / T)`` (searched over log T in
    [-4, 4]): temperature scaling, shared by DROPS' calibration and the human-machine combination."""
    from scipy.optimize import minimize  # here, so that importing arrays costs only numpy

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))

    def nll(log_t: np.ndarray) -> float:
        return float(-np.mean(log_softmax(logits / np.exp(log_t[0]), axis=1)[rows, labels]))

    result = minimize(nll, np.zeros(1), method="L-BFGS-B", bounds=[(-4.0, 4.0)])
    return float(np.exp(result.x[0]))
