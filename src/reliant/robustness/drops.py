"""DROPS and its post-hoc baselines as scikit-learn-style estimators on logits.

Every estimator here learns additive per-class offsets ``o`` on a validation set and then
predicts ``argmax_y (logits_y + o_y)``: it reuses a trained model and only rescales its
predictions, ``softmax(logits + o) ∝ p(y|x) exp(o_y)``.

DROPS (Wei, Narasimhan, Amid, Chu, Liu, Kumar: "Distributionally Robust Post-hoc
Classifiers under Prior Shifts", ICLR 2023). The target is the delta-worst accuracy
``min_{g: D(g, r) <= delta} sum_y g_y acc_y(h)`` (their Eq. 2). For fixed weights ``g`` the
best post-hoc classifier is ``h_g(x) = argmax_y g_y p(y|x) / pi_y`` (their Theorem on the
Bayes-optimal rule; ``pi`` is the label prior the model's ``p(y|x)`` was trained under), i.e.
``logits + log g - log pi``. DROPS finds the saddle point of the Lagrangian

    L(g, lambda) = sum_y g_y L_y(h_g) - lambda (D(g, r) - delta),   lambda >= 0,

with ``L_y`` the per-class loss of ``h_g`` on validation (cross-entropy of the adjusted
probabilities, or the 0-1 error), by alternating

* an exponentiated-gradient (mirror) ascent step on ``g``: for KL the proximal form
  ``g <- normalise(exp((log g + eta_g L + eta_g lambda log r) / (1 + eta_g lambda)))``
  (the maximiser of ``eta_g L(g, lambda) - KL(g || g_old)``, whose fixed point is
  ``g ∝ r exp(L / lambda)``), for the other divergences
  ``g <- normalise(g exp(eta_g clip(L - lambda dD/dg)))``;
* a projected dual step ``lambda <- max(0, lambda + eta_lambda (D(g, r) - delta))``.

The projection to ``lambda >= 0`` is the one change from the reference implementation, which
leaves ``lambda`` unconstrained: there a feasible ``g`` drives ``lambda`` negative, turning the
ascent on ``g`` into descent and sending it back towards ``r``. The returned ``g`` is moved
into the ball (:func:`~reliant.robustness.divergences.shrink_into_ball`) if the last iterate
overshoots it.

Groups: with ``groups`` (any integer partition of the rows, e.g. class x attribute) ``g`` and
``r`` live on groups, ``L_a`` is the loss on group ``a``, and the class multipliers become
``alpha_y = sum_a g_a P(y | a) / pi_y`` (Bayes rule under ``a ⊥ x | y``; groups = classes gives
``g_y / pi_y``).

Baselines: :class:`NoAdjustment`; :class:`LogitAdjustment` (Menon et al., ICLR 2021:
``logits - tau log pi``); :class:`BalancedReweighting` (per-class offsets maximising the
validation balanced accuracy by coordinate search); :class:`WorstClassReweighting`
(exponentiated-gradient game over the whole simplex on the 0-1 error, keeping the iterate
with the best validation worst-group accuracy; Narasimhan & Menon, 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reliant.core.arrays import log_softmax, softmax
from reliant.core.data import check_labels
from reliant.core.errors import ConfigError, DataError, check_number
from reliant.robustness.config import LOSSES
from reliant.robustness.divergences import (
    canonical,
    divergence,
    divergence_gradient,
    max_divergence,
    shrink_into_ball,
)
from reliant.robustness.inputs import check_groups, group_accuracy
from reliant.robustness.metrics import balanced_accuracy, delta_worst_accuracy

__all__ = [
    "BalancedReweighting",
    "DROPS",
    "LogitAdjustment",
    "NoAdjustment",
    "PostHocAdjuster",
    "WorstClassReweighting",
    "estimate_prior",
    "make_baselines",
]

_FLOOR = 1e-12


def _validate(logits: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise DataError(f"expected logits of shape (rows, classes >= 2), got {logits.shape}", field="logits")
    if not np.all(np.isfinite(logits)):
        row = int(np.flatnonzero(~np.isfinite(logits).all(axis=1))[0])
        raise DataError(f"contains NaN or infinite values (first at row {row + 1})", field="logits")
    labels = np.asarray(labels)
    if len(labels) != len(logits):
        raise DataError(f"has {len(labels)} rows but logits has {len(logits)}", field="labels")
    labels = check_labels(labels, logits.shape[1])
    if groups is None:
        return logits, labels, labels, logits.shape[1]
    groups = np.asarray(groups)
    if len(groups) != len(logits):
        raise DataError(f"has {len(groups)} rows but logits has {len(logits)}", field="groups")
    groups = check_groups(groups)
    return logits, labels, groups, int(groups.max()) + 1


class PostHocAdjuster:
    """Base class: ``offsets_`` (one per class) are added to the logits before argmax."""

    name = "post-hoc"
    offsets_: np.ndarray

    def _start_fit(self, logits, labels, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Validated ``(logits, labels, groups, num_groups)``; sets ``prior_`` from ``self.prior``
        (every adjuster that corrects for the training prior starts here)."""
        logits, labels, groups, num_groups = _validate(logits, labels, groups)
        self.prior_ = _class_prior(self.prior, logits.shape[1])
        return logits, labels, groups, num_groups

    def _check_fitted(self) -> None:
        if not hasattr(self, "offsets_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(logits, labels) first")

    def decision_function(self, logits: np.ndarray) -> np.ndarray:
        self._check_fitted()
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 2 or logits.shape[1] != len(self.offsets_):
            raise DataError(f"expected logits with {len(self.offsets_)} columns, got shape {logits.shape}", field="logits")
        return logits + self.offsets_

    def predict_proba(self, logits: np.ndarray) -> np.ndarray:
        return softmax(self.decision_function(logits))

    def predict(self, logits: np.ndarray) -> np.ndarray:
        return np.argmax(self.decision_function(logits), axis=1)

    def score(self, logits: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(logits) == np.asarray(labels)))

    def get_params(self, deep: bool = True) -> dict:
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params) -> PostHocAdjuster:
        for key, value in params.items():
            setattr(self, key, value)
        return self


PRIOR_REQUIRED = ("the training label prior π is required: pass prior= (counts or probabilities, one per class; "
                  "estimate_prior(train_labels, num_classes) counts a training-label array). The validation "
                  "frequencies are not a default: a balanced validation set would turn logit adjustment into a no-op")


def estimate_prior(train_labels: np.ndarray, num_classes: int, *, file=None) -> np.ndarray:
    """``π_y``: the share of training rows labelled ``y``. A class with no training rows has no
    finite ``log π_y`` (every post-hoc rule divides by ``π``), so it is an error naming it."""
    labels = check_labels(np.asarray(train_labels), num_classes, name="train_labels", file=file)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    if np.any(counts == 0):
        missing = int(np.flatnonzero(counts == 0)[0])
        raise DataError(f"class {missing} has no training rows, so its prior would be 0 (log π undefined); "
                        "give --prior instead", file=file, field="train_labels")
    return counts / counts.sum()


def _class_prior(prior: np.ndarray | None, num_classes: int) -> np.ndarray:
    """The label prior the model was trained under, normalised; required (see PRIOR_REQUIRED)."""
    if prior is None:
        raise ConfigError(PRIOR_REQUIRED, field="prior")
    prior = np.asarray(prior, dtype=np.float64).reshape(-1)
    if prior.size != num_classes or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise DataError(f"prior needs {num_classes} positive values, got {prior.size}", field="prior")
    return prior / prior.sum()


def _group_class_matrix(labels: np.ndarray, groups: np.ndarray, num_groups: int, num_classes: int) -> np.ndarray:
    """``M[a, y] = P(y | a)`` on validation (rows of empty groups are uniform)."""
    counts = np.zeros((num_groups, num_classes))
    np.add.at(counts, (groups, labels), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1.0), 1.0 / num_classes)


def _group_losses(adjusted: np.ndarray, labels: np.ndarray, groups: np.ndarray, num_groups: int, loss: str) -> np.ndarray:
    """Per-group mean loss of the adjusted logits: cross-entropy or 0-1 error."""
    if loss == "ce":
        per_row = -log_softmax(adjusted)[np.arange(len(labels)), labels]
    else:
        per_row = (np.argmax(adjusted, axis=1) != labels).astype(np.float64)
    sizes = np.bincount(groups, minlength=num_groups).astype(np.float64)
    sums = np.bincount(groups, weights=per_row, minlength=num_groups)
    return np.where(sizes > 0, sums / np.maximum(sizes, 1.0), 0.0)


class NoAdjustment(PostHocAdjuster):
    """The trained model as it is: ``argmax logits``."""

    name = "no adjustment"

    def fit(self, logits, labels, groups=None) -> NoAdjustment:
        logits, _, _, _ = _validate(logits, labels, groups)
        self.offsets_ = np.zeros(logits.shape[1])
        self.weights_ = np.full(logits.shape[1], 1.0 / logits.shape[1])
        return self


class LogitAdjustment(PostHocAdjuster):
    """Post-hoc logit adjustment (Menon et al., ICLR 2021, Eq. 10): ``logits - tau log pi``."""

    name = "logit adjustment"

    def __init__(self, tau: float = 1.0, prior: np.ndarray | None = None) -> None:
        self.tau = tau
        self.prior = prior

    def fit(self, logits, labels, groups=None) -> LogitAdjustment:
        check_number(self.tau, "tau")
        logits, labels, _, _ = self._start_fit(logits, labels, groups)
        self.offsets_ = -self.tau * np.log(self.prior_)
        self.weights_ = np.full(logits.shape[1], 1.0 / logits.shape[1])
        return self


class BalancedReweighting(PostHocAdjuster):
    """Per-class offsets that maximise the validation balanced (mean per-group) accuracy.

    Starts from logit adjustment and runs ``rounds`` sweeps of exact coordinate search: for
    each class in turn it tries every offset change on a grid of ``grid`` values in
    ``[-span, span]`` and keeps the best (ties: the smallest change), so the validation
    balanced accuracy never decreases.
    """

    name = "balanced-optimal reweighting"

    def __init__(self, prior: np.ndarray | None = None, rounds: int = 3, span: float = 3.0, grid: int = 61) -> None:
        self.prior = prior
        self.rounds = rounds
        self.span = span
        self.grid = grid

    def fit(self, logits, labels, groups=None) -> BalancedReweighting:
        logits, labels, groups, num_groups = self._start_fit(logits, labels, groups)
        k = logits.shape[1]
        offsets = -np.log(self.prior_)
        steps = np.linspace(-self.span, self.span, self.grid)
        steps = steps[np.argsort(np.abs(steps), kind="stable")]  # ties resolve to the smallest move
        sizes = np.maximum(np.bincount(groups, minlength=num_groups), 1).astype(np.float64)
        present = np.bincount(groups, minlength=num_groups) > 0
        for _ in range(self.rounds):
            for y in range(k):
                scores = logits + offsets
                others = scores.copy()
                others[:, y] = -np.inf
                best_other = others.max(axis=1)
                best_other_class = others.argmax(axis=1)
                # predictions for every candidate offset of class y (n x grid)
                pick_y = (logits[:, y][:, None] + offsets[y] + steps[None, :]) > best_other[:, None]
                preds = np.where(pick_y, y, best_other_class[:, None])
                correct = preds == labels[:, None]
                hits = np.zeros((num_groups, len(steps)))
                np.add.at(hits, groups, correct.astype(np.float64))
                balanced = (hits / sizes[:, None])[present].mean(axis=0)
                offsets[y] += steps[int(np.argmax(balanced))]
        self.offsets_ = offsets - offsets.max()
        self.weights_ = softmax(self.offsets_ + np.log(self.prior_))
        return self


class WorstClassReweighting(PostHocAdjuster):
    """Weights maximising the validation worst-group accuracy: the DROPS game over the whole
    simplex (no divergence constraint, so ``lambda = 0``) on the 0-1 error,
    ``g <- normalise(g exp(eta err_g))``, keeping the iterate whose classifier has the best
    validation worst-group accuracy (ties: the better balanced accuracy)."""

    name = "worst-optimal reweighting"

    def __init__(self, prior: np.ndarray | None = None, steps: int = 300, eta: float = 1.0) -> None:
        self.prior = prior
        self.steps = steps
        self.eta = eta

    def fit(self, logits, labels, groups=None) -> WorstClassReweighting:
        logits, labels, groups, num_groups = self._start_fit(logits, labels, groups)
        k = logits.shape[1]
        mapping = _group_class_matrix(labels, groups, num_groups, k)
        g = np.full(num_groups, 1.0 / num_groups)
        best = (-np.inf, -np.inf)
        best_g = g
        for _ in range(self.steps + 1):
            adjusted = logits + np.log(np.maximum(g @ mapping, _FLOOR)) - np.log(self.prior_)
            errors = _group_losses(adjusted, labels, groups, num_groups, "01")
            acc, _ = group_accuracy(np.argmax(adjusted, axis=1) == labels, groups, num_groups)
            key = (float(np.nanmin(acc)), balanced_accuracy(acc))
            if key > best:
                best, best_g = key, g.copy()
            g = g * np.exp(self.eta * errors)
            g = np.maximum(g / g.sum(), _FLOOR)
            g /= g.sum()
        self.weights_ = best_g
        self.offsets_ = np.log(np.maximum(best_g @ mapping, _FLOOR)) - np.log(self.prior_)
        return self


@dataclass
class DropsStep:
    """One iteration of the DROPS game (for plots and tests)."""

    step: int
    lam: float
    divergence: float
    objective: float


class DROPS(PostHocAdjuster):
    """Distributionally robust post-hoc classifier (Wei et al., ICLR 2023).

    ``DROPS(delta=0.5).fit(val_logits, val_labels)`` learns ``weights_`` (``g``, one per class
    or group, inside ``{g : D(g, r) <= delta}``), ``offsets_ = log(g M) - log pi`` and then
    ``predict`` / ``predict_proba`` on any logits. ``history_`` records ``lambda`` (always
    ``>= 0``), ``D(g, r)`` and the Lagrangian per step.

    Parameters: ``divergence`` (kl, reverse_kl, l1, l2), ``delta`` (ball radius; the CLI
    selects it on validation, see :func:`reliant.robustness.selection.select_delta`),
    ``target`` (``r``; uniform when None), ``prior`` (the training label prior ``pi``,
    required: :func:`estimate_prior` counts it from training labels), ``loss`` (``ce`` as in the reference code, or ``01``), ``steps``,
    ``eta_g``, ``eta_lambda``, ``lambda_init``, ``tol`` (stop early once an iteration moves
    ``log g`` and ``lambda`` by at most ``tol``; 0 runs every step).
    """

    name = "DROPS"

    def __init__(
        self,
        delta: float = 0.2,  # the reference code's default; the best fixed radius in docs/results/robustness.md
        divergence: str = "kl",
        target: np.ndarray | None = None,
        prior: np.ndarray | None = None,
        loss: str = "ce",
        steps: int = 400,
        eta_g: float = 0.5,
        eta_lambda: float = 1.0,
        lambda_init: float = 1.0,
        tol: float = 1e-7,
    ) -> None:
        self.delta = delta
        self.divergence = divergence
        self.target = target
        self.prior = prior
        self.loss = loss
        self.steps = steps
        self.eta_g = eta_g
        self.eta_lambda = eta_lambda
        self.lambda_init = lambda_init
        self.tol = tol

    def _check_params(self) -> str:
        kind = canonical(self.divergence)
        check_number(self.delta, "delta", low=0)
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r} (choose {' or '.join(LOSSES)})", field="loss")
        check_number(self.steps, "steps", low=1, integer=True)
        for name in ("eta_g", "eta_lambda"):
            check_number(getattr(self, name), name, low=0, low_open=True)
        check_number(self.lambda_init, "lambda_init", low=0)
        check_number(self.tol, "tol", low=0)
        return kind

    def fit(self, logits, labels, groups=None) -> DROPS:
        kind = self._check_params()
        logits, labels, groups, num_groups = self._start_fit(logits, labels, groups)
        k = logits.shape[1]
        mapping = _group_class_matrix(labels, groups, num_groups, k)
        if self.target is None:
            r = np.full(num_groups, 1.0 / num_groups)
        else:
            r = np.asarray(self.target, dtype=np.float64).reshape(-1)
            if r.size != num_groups or np.any(r <= 0):
                raise DataError(f"target needs {num_groups} positive values (one per class or group), got {r.size}",
                                field="target")
            r = r / r.sum()
        self.target_ = r
        log_prior = np.log(self.prior_)

        def adjusted_logits(g: np.ndarray) -> np.ndarray:
            return logits + np.log(np.maximum(g @ mapping, _FLOOR)) - log_prior

        g = r.copy()
        lam = float(self.lambda_init)
        history: list[DropsStep] = []
        if self.delta > 0:
            for step in range(1, self.steps + 1):
                losses = _group_losses(adjusted_logits(g), labels, groups, num_groups, self.loss)
                if kind == "kl":
                    log_g = (np.log(g) + self.eta_g * losses + self.eta_g * lam * np.log(r)) / (1.0 + self.eta_g * lam)
                else:
                    ascent = losses - lam * divergence_gradient(g, r, kind)
                    log_g = np.log(g) + np.clip(self.eta_g * ascent, -1.0, 1.0)
                previous_g, previous_lam = g, lam
                g = np.exp(log_g - log_g.max())
                g = np.maximum(g / g.sum(), _FLOOR)
                g /= g.sum()
                gap = divergence(g, r, kind) - self.delta
                lam = max(0.0, lam + self.eta_lambda * gap)  # projected dual step: lambda >= 0
                history.append(DropsStep(step, lam, gap + self.delta, float(np.dot(g, losses) - lam * gap)))
                # a fixed point of both updates: further steps would not move (g, lambda)
                if (self.tol > 0 and abs(lam - previous_lam) <= self.tol
                        and np.max(np.abs(np.log(g) - np.log(previous_g))) <= self.tol):
                    break
        self.history_ = history
        self.lambda_ = lam
        self.weights_ = shrink_into_ball(g, r, self.delta, kind)
        self.divergence_ = divergence(self.weights_, r, kind)
        self.max_divergence_ = max_divergence(r, kind)
        self.offsets_ = np.log(np.maximum(self.weights_ @ mapping, _FLOOR)) - log_prior
        self.mapping_ = mapping
        return self

    def class_weights(self) -> np.ndarray:
        """The weights as seen by each class (``g M``; equals ``weights_`` without groups)."""
        self._check_fitted()
        return self.weights_ @ self.mapping_


def make_baselines(prior: np.ndarray | None = None, tau: float = 1.0) -> list[PostHocAdjuster]:
    """The baselines DROPS is compared with, in report order."""
    return [
        NoAdjustment(),
        LogitAdjustment(tau=tau, prior=prior),
        BalancedReweighting(prior=prior),
        WorstClassReweighting(prior=prior),
    ]


def validation_delta_worst(model: PostHocAdjuster, logits, labels, groups=None, delta: float = 0.5,
                           r: np.ndarray | None = None, divergence_kind: str = "kl") -> float:
    """Delta-worst accuracy of a fitted adjuster on (validation) data."""
    logits, labels, groups, num_groups = _validate(logits, labels, groups)
    acc, _ = group_accuracy(model.predict(logits) == labels, groups, num_groups)
    return delta_worst_accuracy(acc, delta, r, divergence_kind)
