"""Learning to defer, post hoc: which rows a fixed machine hands to the human, as one registry.

Every rule sees, for each row, only what is known *before* the human answers: the machine's
logits and optional features ``x`` (e.g. image embeddings). It is fitted on labelled rows
(where the human's answer is known) and then gives each new row a deferral score ``s(x)``
(higher = defer first) and its own threshold ``tau``: the row goes to the human when
``s(x) > tau``. :func:`cross_fitted_deferral` fits each rule on all folds but one and decides
the held-out fold, so every reported number is out of sample. With a human-effort budget ``b``
the threshold becomes ``max(tau, t_b)``, ``t_b`` the ``1 - b`` quantile of the scores on the
fitting rows, so at most about a ``b`` share of new rows is deferred.

Registered rules (``@register_deferral``; names are the ``--deferral-methods`` values):

* ``confidence`` (Liu, Wei, Liu & Davis; threshold-based collaboration): ``s = -max_y p(y|x)``,
  ``tau`` maximising team accuracy on the fitting rows.
* ``compare_confidence`` (Raghu et al., 2019, as in ``human_ai_deferral``'s
  ``CompareConfidence``): a logistic model of ``P(human right | x)`` against the machine's
  confidence ``max_y p(y|x)`` (temperature-calibrated on the fitting rows); ``s`` is their
  difference, ``tau = 0``. With a fixed machine, the one-vs-all surrogate of Verma &
  Nalisnick (2022) reduces to this rule: its rejector head is a logistic model of "human
  right" compared with the machine's class probability.
* ``realizable_surrogate`` (Mozannar et al., AISTATS 2023): a linear rejector ``g(x)`` trained
  with the machine's (calibrated) log-probabilities ``z`` frozen, minimising
  ``-log((exp(z_y) + 1[h = y] exp(g)) / (sum_k exp(z_k) + exp(g)))`` (+ L2); defer when
  ``g(x) > max_y z_y``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from reliant.collaboration.combine import best_threshold, fit_temperature
from reliant.core.arrays import log_softmax
from reliant.core.errors import ConfigError

__all__ = ["DEFERRAL_METHODS", "DeferralData", "DeferralMethod", "cross_fitted_deferral", "deferral_parts",
           "make_deferral", "register_deferral"]

DEFERRAL_METHODS: dict[str, type[DeferralMethod]] = {}


def register_deferral(cls: type[DeferralMethod]) -> type[DeferralMethod]:
    """Add a rule to the registry under ``cls.name`` (the CLI value)."""
    if cls.name in DEFERRAL_METHODS:
        raise ValueError(f"deferral method {cls.name!r} is registered twice")
    DEFERRAL_METHODS[cls.name] = cls
    return cls


def make_deferral(name: str) -> DeferralMethod:
    if name not in DEFERRAL_METHODS:
        raise ConfigError(f"unknown deferral method {name!r} (choose {', '.join(DEFERRAL_METHODS)})",
                          field="deferral_methods")
    return DEFERRAL_METHODS[name]()


@dataclass
class DeferralData:
    """Rows as a deferral rule sees them: machine logits, features (machine log-probabilities
    plus any given ``x``), the other party's answers and, on fitting rows, the labels."""

    logits: np.ndarray
    features: np.ndarray
    other_pred: np.ndarray
    labels: np.ndarray

    def take(self, rows: np.ndarray) -> DeferralData:
        return DeferralData(self.logits[rows], self.features[rows], self.other_pred[rows], self.labels[rows])

    @property
    def machine_pred(self) -> np.ndarray:
        return np.argmax(self.logits, axis=1)


def _standardise(fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = fit.mean(axis=0)
    scale = fit.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)


class DeferralMethod(abc.ABC):
    """Base class: ``fit(data)``, then ``score(data)`` (higher = defer first) and ``threshold_``."""

    name = "base"
    label = "base"
    threshold_: float = 0.0

    @abc.abstractmethod
    def fit(self, data: DeferralData) -> DeferralMethod:
        raise NotImplementedError

    @abc.abstractmethod
    def score(self, data: DeferralData) -> np.ndarray:
        raise NotImplementedError


@register_deferral
class ConfidenceThreshold(DeferralMethod):
    """Defer the rows whose machine confidence is below a threshold fitted for team accuracy."""

    name = "confidence"
    label = "defer below a confidence threshold"

    def fit(self, data: DeferralData) -> ConfidenceThreshold:
        confidence = np.exp(log_softmax(data.logits).max(axis=1))
        t = best_threshold(confidence, data.machine_pred, data.other_pred, data.labels)
        self.threshold_ = -t  # s = -confidence > -t  <=>  confidence < t
        return self

    def score(self, data: DeferralData) -> np.ndarray:
        return -np.exp(log_softmax(data.logits).max(axis=1))


class _CalibratedMachine(abc.ABC):
    """Shared by the learned rules: a temperature for the machine and standardised features."""

    l2 = 1e-3

    def fit(self, data: DeferralData) -> _CalibratedMachine:
        """Calibrate the machine, standardise the features, then fit the linear rule that
        minimises the subclass's ``_row_loss``; a rule defers where its score exceeds 0."""
        self.temperature_ = fit_temperature(data.logits, data.labels)
        self.mean_, self.scale_ = _standardise(data.features)
        self.weights_ = self._fit_linear(self._design(data), self._row_loss(data))
        self.threshold_ = 0.0
        return self

    @abc.abstractmethod
    def _row_loss(self, data: DeferralData) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``z -> (loss of each row, d loss / d z)`` for the linear score ``z = design @ w``."""
        raise NotImplementedError

    def _log_probs(self, data: DeferralData) -> np.ndarray:
        return log_softmax(data.logits / self.temperature_)

    def _design(self, data: DeferralData) -> np.ndarray:
        x = (data.features - self.mean_) / self.scale_
        return np.hstack([x, np.ones((len(x), 1))])

    def _fit_linear(self, design: np.ndarray, row_loss: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
                    ) -> np.ndarray:
        """Weights ``w`` minimising ``mean(row_loss(design @ w)) + l2 |w|^2`` (bias not
        penalised) by L-BFGS; ``row_loss(z)`` returns each row's loss and its derivative in ``z``."""
        n, d = design.shape

        def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
            loss, d_z = row_loss(design @ w)
            grad = design.T @ d_z / n
            grad[:-1] += 2 * self.l2 * w[:-1]
            return float(np.mean(loss)) + self.l2 * float(w[:-1] @ w[:-1]), grad

        return minimize(objective, np.zeros(d), jac=True, method="L-BFGS-B").x


@register_deferral
class CompareConfidence(_CalibratedMachine, DeferralMethod):
    """Defer when the modelled chance that the human is right exceeds the machine's confidence."""

    name = "compare_confidence"
    label = "compare confidence (human model vs machine)"

    def _row_loss(self, data: DeferralData) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        target = (data.other_pred == data.labels).astype(np.float64)

        def logistic(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return -(target * log_expit(z) + (1 - target) * log_expit(-z)), expit(z) - target

        return logistic

    def human_right_probability(self, data: DeferralData) -> np.ndarray:
        return expit(self._design(data) @ self.weights_)

    def score(self, data: DeferralData) -> np.ndarray:
        return self.human_right_probability(data) - np.exp(self._log_probs(data).max(axis=1))


@register_deferral
class RealizableSurrogate(_CalibratedMachine, DeferralMethod):
    """A linear rejector trained with the realizable surrogate on the frozen machine."""

    name = "realizable_surrogate"
    label = "learned rejector (realizable surrogate)"

    def _row_loss(self, data: DeferralData) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        z = self._log_probs(data)  # frozen classifier outputs: sum_k exp(z_k) = 1
        rows = np.arange(len(z))
        z_label = z[rows, data.labels]
        human_right = data.other_pred == data.labels

        def surrogate(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            denominator = np.logaddexp(0.0, g)  # log(sum_k exp(z_k) + exp(g)) with sum_k exp(z_k) = 1
            numerator = np.where(human_right, np.logaddexp(z_label, g), z_label)
            # d/dg: softmax share of the defer output minus its share in the numerator
            d_g = expit(g) - np.where(human_right, np.exp(g - np.logaddexp(z_label, g)), 0.0)
            return denominator - numerator, d_g

        return surrogate

    def score(self, data: DeferralData) -> np.ndarray:
        return self._design(data) @ self.weights_ - self._log_probs(data).max(axis=1)


def deferral_parts(deferred: np.ndarray, machine_pred: np.ndarray, other_pred: np.ndarray,
                   labels: np.ndarray) -> dict[str, float]:
    """``human_ai_deferral``'s per-part metrics: system accuracy, coverage (share the machine
    keeps), machine accuracy on kept rows, the other party's accuracy on deferred rows (NaN
    when a part is empty) and the deferral rate."""
    deferred = np.asarray(deferred, dtype=bool)
    machine_right = np.asarray(machine_pred) == labels
    other_right = np.asarray(other_pred) == labels
    system = np.where(deferred, other_right, machine_right)
    return {
        "accuracy": float(system.mean()),
        "deferred": float(deferred.mean()),
        "coverage": float(1 - deferred.mean()),
        "machine accuracy on kept rows": float(machine_right[~deferred].mean()) if (~deferred).any() else float("nan"),
        "human accuracy on deferred rows": float(other_right[deferred].mean()) if deferred.any() else float("nan"),
    }


def cross_fitted_deferral(data: DeferralData, methods: Sequence[str], *, folds: int, seed: int,
                          budget: float | None = None,
                          cross_fit: Callable | None = None) -> dict[str, dict]:
    """Out-of-fold decisions of every named rule: ``{name: {"scores", "deferred", "thresholds"}}``
    (scores from the model fitted on the other folds, so a curve ranked by them is out of
    sample too)."""
    from reliant.collaboration.combine import cross_fit as default_cross_fit

    cross_fit = cross_fit or default_cross_fit
    out: dict[str, dict] = {}
    for name in methods:
        thresholds: list[float] = []

        def fit_predict(fit_rows: np.ndarray, eval_rows: np.ndarray, name=name, thresholds=thresholds) -> np.ndarray:
            method = make_deferral(name)
            fit_data = data.take(fit_rows)
            method.fit(fit_data)
            threshold = method.threshold_
            if budget is not None:
                fit_scores = method.score(fit_data)
                # defer at most about a `budget` share: the (1 - budget) quantile of the fitting scores
                cap = np.inf if budget <= 0 else float(np.quantile(fit_scores, 1.0 - budget))
                threshold = max(threshold, cap)
            thresholds.append(float(threshold))
            scores = method.score(data.take(eval_rows))
            return np.stack([scores, (scores > threshold).astype(np.float64)], axis=1)

        values = cross_fit(len(data.labels), folds, seed, fit_predict)
        out[name] = {"scores": values[:, 0], "deferred": values[:, 1] > 0.5, "thresholds": thresholds}
    return out
