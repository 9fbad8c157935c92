"""Choosing DROPS' radius δ on validation, out of fold, and calibrating the logits first.

The paper fits DROPS for one radius δ and reports the δ-worst accuracy over a range of
evaluation radii; its reference code takes δ as a flag (default 0.2). A user has no test set
to tune it on, and the radius that was fitted need not be the one that serves the target
metric best (on long-tailed CIFAR-10 δ = 0.5 lost to δ = 0.1 on every metric, δ-worst at 0.5
included). :func:`select_delta` therefore picks δ from a grid by *cross-fitting on the
validation rows*: the rows are split into class-stratified folds, DROPS is fitted for each
δ on all folds but one and predicts the held-out fold, and the pooled out-of-fold
predictions give one per-class accuracy vector per δ, scored by the target metric
(δ-worst accuracy at the evaluation radius by default; worst-class or balanced accuracy on
request). Pooling matters: the rarest classes have only a handful of validation rows, too
few for a per-fold score. Ties go to the smallest δ (the least aggressive reweighting;
δ = 0 is logit adjustment towards the uniform target). The chosen δ is then refitted on all
validation rows by the caller.

:func:`temperature_calibrate` is the optional step of the reference code (``cal_type=temp``):
one temperature fitted by maximum likelihood on the validation logits and applied to every
split before any post-hoc method, so DROPS' cross-entropy game sees calibrated losses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reliant.core.arrays import fit_temperature
from reliant.core.errors import ConfigError, check_number
from reliant.core.progress import track
from reliant.robustness.config import SELECT_METRICS
from reliant.robustness.inputs import group_accuracy
from reliant.robustness.metrics import balanced_accuracy, delta_worst_accuracy, worst_group_accuracy

__all__ = ["select_delta", "stratified_folds", "temperature_calibrate"]


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold id per row: each class's rows shuffled (seeded) and dealt round-robin, so every
    fold holds about the same share of every class (a class with fewer rows than folds is
    absent from some folds, never from the pooled out-of-fold predictions)."""
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for y in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == y))
        # continue the round-robin across classes so the small classes do not all start in fold 0
        fold_of[rows] = (offset + np.arange(len(rows))) % folds
        offset += len(rows)
    return fold_of


def _score(acc: np.ndarray, metric: str, eval_delta: float, target: np.ndarray | None, divergence: str) -> float:
    if metric == "delta_worst":
        return delta_worst_accuracy(acc, eval_delta, target, divergence)
    if metric == "worst":
        return worst_group_accuracy(acc)
    return balanced_accuracy(acc, target)


def select_delta(logits: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None, *,
                 deltas: Sequence[float], folds: int = 5, metric: str = "delta_worst", eval_delta: float = 0.5,
                 seed: int = 0, **drops_params) -> dict:
    """The radius in ``deltas`` whose out-of-fold DROPS predictions score best on ``metric``.

    ``drops_params`` are the other :class:`~reliant.robustness.drops.DROPS` arguments (prior,
    target, divergence, loss, steps, step sizes). Returns ``{"delta": chosen, "scores": [one
    per delta], "deltas": [...], "metric", "eval_delta", "folds"}``.
    """
    from reliant.robustness.drops import DROPS, _validate

    if metric not in SELECT_METRICS:
        raise ConfigError(f"unknown selection metric {metric!r} (choose {', '.join(SELECT_METRICS)})",
                          field="select_metric")
    check_number(folds, "select_folds", low=2, integer=True)
    grid = sorted({float(d) for d in deltas})
    if not grid:
        raise ConfigError("give at least one radius to select from", field="delta_grid")
    for d in grid:
        check_number(d, "delta_grid", low=0)
    logits, labels, group_ids, num_groups = _validate(logits, labels, groups)
    fold_of = stratified_folds(group_ids, folds, seed)  # stratify on what is reweighted: classes or groups
    target = drops_params.get("target")
    divergence = drops_params.get("divergence", "kl")
    scores = []
    for delta in track(grid, "selecting DROPS' δ on validation (out of fold)"):
        predictions = np.empty(len(labels), dtype=np.int64)
        for fold in range(folds):
            held_out = fold_of == fold
            if not held_out.any():
                continue
            fit_rows = ~held_out
            model = DROPS(delta=delta, **drops_params)
            model.fit(logits[fit_rows], labels[fit_rows], None if groups is None else group_ids[fit_rows])
            predictions[held_out] = model.predict(logits[held_out])
        acc, _ = group_accuracy(predictions == labels, group_ids, num_groups)
        # the metric ball is KL, as in the reports; DROPS' own ball may be another divergence
        scores.append(_score(acc, metric, eval_delta, target, "kl"))
    best = int(np.argmax(np.round(scores, 12)))  # argmax takes the first: the smallest delta among ties
    return {"delta": grid[best], "scores": [float(s) for s in scores], "deltas": grid, "metric": metric,
            "eval_delta": float(eval_delta), "folds": int(folds), "divergence": divergence}


def temperature_calibrate(val_logits: np.ndarray, val_labels: np.ndarray) -> float:
    """The temperature ``T`` minimising the validation cross-entropy of ``softmax(logits / T)``."""
    return fit_temperature(np.asarray(val_logits, dtype=np.float64), np.asarray(val_labels, dtype=np.int64))
