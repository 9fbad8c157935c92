"""Post-hoc human-machine teams: deferral by machine confidence and learned combinations.

All teams are fitted on one part of the rows and evaluated on another (see
:func:`cross_fit`), so no team sees the labels it is scored on.

* Deferral (Liu, Wei, Liu & Davis, threshold-based collaboration): the machine answers when its
  confidence ``max_y p(y|x)`` is at least a threshold ``t``, the human otherwise.
  :func:`deferral_curve` sweeps the share of rows deferred (the least confident first), and
  :func:`best_threshold` picks ``t`` maximising accuracy on the fitting rows.
* :class:`ConfusionCombiner` (Bayesian combination, as in Kerrigan, Smyth & Steyvers, NeurIPS
  2021): with the human's votes ``h_1..h_m`` conditionally independent of the machine given the
  true class,
  ``P(y | x, h) ∝ softmax(z(x) / T)_y  prod_j  P(h_j | y)``,
  where ``T`` is a temperature fitted by maximum likelihood (calibration of the machine) and
  ``P(h = k | y) = (N_yk + alpha) / (N_y + K alpha)`` the human confusion matrix estimated from
  the fitting rows with Dirichlet smoothing ``alpha``.
* :class:`LogLinearCombiner` (a learned combination): ``score_y = a log p(y|x) + b log v_y + c_y``
  with ``v`` the human vote shares smoothed by ``alpha`` and ``a, b, c`` fitted by minimising
  the cross-entropy on the fitting rows (convex; L-BFGS). ``a = 0`` or ``b = 0`` recovers either
  source alone, so the fitted team can fall back on the better one.
* :func:`consult_curve`: the human is consulted on the least confident share of rows only and
  the combiner's answer is used there (the machine's elsewhere): accuracy against the share
  of rows a human looks at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from reliant.core.arrays import fit_temperature, log_softmax

__all__ = [
    "ConfusionCombiner",
    "LogLinearCombiner",
    "best_threshold",
    "consult_curve",
    "cross_fit",
    "deferral_curve",
    "fit_temperature",  # re-exported from core.arrays (collaboration.api lists it)
    "human_confusion",
    "threshold_defer",
]

DEFAULT_FRACTIONS: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 1.0, 21), 3))


def human_confusion(votes: np.ndarray, labels: np.ndarray, num_classes: int, alpha: float = 1.0) -> np.ndarray:
    """``P(h = k | y)``: votes for ``k`` on rows of class ``y``, Dirichlet(``alpha``)-smoothed."""
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, labels, np.asarray(votes, dtype=np.float64))
    counts += alpha
    return counts / counts.sum(axis=1, keepdims=True)


class ConfusionCombiner:
    """Calibrated machine probabilities times the human's confusion-matrix likelihood."""

    name = "combine: confusion matrix (Bayes)"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, logits: np.ndarray, votes: np.ndarray, labels: np.ndarray) -> ConfusionCombiner:
        k = logits.shape[1]
        self.temperature_ = fit_temperature(logits, labels)
        self.confusion_ = human_confusion(votes, labels, k, self.alpha)
        return self

    def log_proba(self, logits: np.ndarray, votes: np.ndarray) -> np.ndarray:
        """``log P(y | x, h)`` normalised per row."""
        scores = log_softmax(np.asarray(logits, dtype=np.float64) / self.temperature_, axis=1)
        # sum_j log P(h_j | y) = sum_k n_k log P(h = k | y)
        scores = scores + np.asarray(votes, dtype=np.float64) @ np.log(self.confusion_).T
        return scores - logsumexp(scores, axis=1, keepdims=True)

    def predict(self, logits: np.ndarray, votes: np.ndarray) -> np.ndarray:
        return np.argmax(self.log_proba(logits, votes), axis=1)


class LogLinearCombiner:
    """``a log p(y|x) + b log v_y + c_y``, fitted by cross-entropy (a learned combination)."""

    name = "combine: learned log-linear"

    def __init__(self, alpha: float = 0.5, l2: float = 1e-3) -> None:
        self.alpha = alpha
        self.l2 = l2

    def _features(self, logits: np.ndarray, votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        machine = log_softmax(np.asarray(logits, dtype=np.float64), axis=1)
        v = np.asarray(votes, dtype=np.float64) + self.alpha
        human = np.log(v / v.sum(axis=1, keepdims=True))
        return machine, human

    def fit(self, logits: np.ndarray, votes: np.ndarray, labels: np.ndarray) -> LogLinearCombiner:
        machine, human = self._features(logits, votes)
        n, k = machine.shape
        rows = np.arange(n)
        onehot = np.zeros((n, k))
        onehot[rows, labels] = 1.0

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            a, b, c = theta[0], theta[1], theta[2:]
            scores = a * machine + b * human + c
            logp = scores - logsumexp(scores, axis=1, keepdims=True)
            residual = np.exp(logp) - onehot  # d(-log p_label)/d score
            loss = -np.mean(logp[rows, labels]) + self.l2 * float(c @ c)
            grad = np.concatenate([
                [np.sum(residual * machine) / n, np.sum(residual * human) / n],
                residual.mean(axis=0) + 2 * self.l2 * c,
            ])
            return loss, grad

        theta0 = np.concatenate([[1.0, 1.0], np.zeros(k)])
        result = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                          bounds=[(0.0, None), (0.0, None)] + [(None, None)] * k)
        self.machine_weight_, self.human_weight_ = float(result.x[0]), float(result.x[1])
        self.bias_ = result.x[2:]
        return self

    def log_proba(self, logits: np.ndarray, votes: np.ndarray) -> np.ndarray:
        machine, human = self._features(logits, votes)
        scores = self.machine_weight_ * machine + self.human_weight_ * human + self.bias_
        return scores - logsumexp(scores, axis=1, keepdims=True)

    def predict(self, logits: np.ndarray, votes: np.ndarray) -> np.ndarray:
        return np.argmax(self.log_proba(logits, votes), axis=1)


def _deferral_order(confidence: np.ndarray) -> np.ndarray:
    """Rows from least to most confident (stable, so ties keep row order)."""
    return np.argsort(np.asarray(confidence, dtype=np.float64), kind="stable")


def deferral_curve(confidence: np.ndarray, machine_pred: np.ndarray, other_pred: np.ndarray, labels: np.ndarray,
                   fractions: Sequence[float] = DEFAULT_FRACTIONS) -> np.ndarray:
    """Accuracy when the ``f`` share of least confident rows take ``other_pred`` (the human's
    answer, or a team's) and the rest the machine's, for each ``f`` in ``fractions``."""
    order = _deferral_order(confidence)
    machine_right = (np.asarray(machine_pred) == labels)[order]
    other_right = (np.asarray(other_pred) == labels)[order]
    n = len(order)
    # accuracy(m deferred) = (sum of other_right over the first m + machine_right over the rest) / n
    other_cum = np.concatenate([[0], np.cumsum(other_right)])
    machine_tail = np.concatenate([[0], np.cumsum(machine_right[::-1])])[::-1]
    counts = np.clip(np.round(np.asarray(fractions, dtype=np.float64) * n).astype(int), 0, n)
    return (other_cum[counts] + machine_tail[counts]) / n


def consult_curve(confidence: np.ndarray, machine_pred: np.ndarray, team_pred: np.ndarray, labels: np.ndarray,
                  fractions: Sequence[float] = DEFAULT_FRACTIONS) -> np.ndarray:
    """:func:`deferral_curve` with the team's (combined) answer on the consulted rows."""
    return deferral_curve(confidence, machine_pred, team_pred, labels, fractions)


def best_threshold(confidence: np.ndarray, machine_pred: np.ndarray, human_pred: np.ndarray,
                   labels: np.ndarray) -> float:
    """The confidence threshold maximising accuracy of "machine if confidence >= t else human"
    on these rows (ties: the lowest threshold, i.e. the fewest deferrals)."""
    order = _deferral_order(confidence)
    conf = np.asarray(confidence, dtype=np.float64)[order]
    machine_right = (np.asarray(machine_pred) == labels)[order]
    human_right = (np.asarray(human_pred) == labels)[order]
    # deferring the first m rows gains human_right - machine_right on each of them
    gain = np.concatenate([[0], np.cumsum(human_right.astype(np.int64) - machine_right.astype(np.int64))])
    # a threshold can only separate rows of distinct confidence: m must be at a change point
    valid = np.concatenate([[True], conf[1:] > conf[:-1], [True]])
    gain = np.where(valid, gain, np.iinfo(np.int64).min)
    m = int(np.argmax(gain))
    if m == 0:
        return float(conf[0])  # defer nothing: every row has confidence >= the lowest
    if m == len(conf):
        return float(np.nextafter(conf[-1], np.inf))
    return float(conf[m])


def threshold_defer(confidence: np.ndarray, machine_pred: np.ndarray, human_pred: np.ndarray,
                    threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The team's answers under a threshold and the mask of deferred rows."""
    deferred = np.asarray(confidence) < threshold
    return np.where(deferred, human_pred, machine_pred), deferred


def cross_fit(n: int, folds: int, seed: int, fit_and_predict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Out-of-fold outputs: rows are shuffled (seeded) into ``folds`` parts; each part's output
    comes from ``fit_and_predict(fit_rows, eval_rows)`` fitted on the other parts."""
    rng = np.random.default_rng(seed)
    parts = np.array_split(rng.permutation(n), folds)
    out = None
    for i, eval_rows in enumerate(parts):
        fit_rows = np.concatenate([p for j, p in enumerate(parts) if j != i])
        values = np.asarray(fit_and_predict(np.sort(fit_rows), np.sort(eval_rows)))
        if out is None:
            out = np.zeros((n,) + values.shape[1:], dtype=values.dtype)
        out[np.sort(eval_rows)] = values
    return out
