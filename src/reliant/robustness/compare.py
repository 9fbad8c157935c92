"""DROPS against its baselines on one validation (and test) set: the numbers behind every report.

:func:`compare_methods` fits :class:`~reliant.robustness.drops.DROPS` and the post-hoc
baselines of :func:`~reliant.robustness.drops.make_baselines` on validation scores and
evaluates each with :func:`~reliant.robustness.metrics.accuracy_report` (mean, balanced,
worst-class and delta-worst accuracy, and accuracy under the forward / backward long-tailed
test priors). :func:`summary_rows` turns the result into one table row per method.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reliant.core.errors import ConfigError, DataError, check_number
from reliant.core.progress import track
from reliant.robustness.config import CALIBRATIONS, DEFAULT_DELTA_GRID
from reliant.robustness.drops import DROPS, PostHocAdjuster, _class_prior, make_baselines
from reliant.robustness.metrics import DEFAULT_DELTAS, accuracy_report

__all__ = ["compare_methods", "summary_rows"]


def compare_methods(
    val_logits: np.ndarray,
    val_labels: np.ndarray,
    test_logits: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    *,
    prior: np.ndarray | None = None,
    val_groups: np.ndarray | None = None,
    test_groups: np.ndarray | None = None,
    target: np.ndarray | None = None,
    divergence: str = "kl",
    delta: float | None = None,
    delta_grid: Sequence[float] = DEFAULT_DELTA_GRID,
    select_folds: int = 5,
    select_metric: str = "delta_worst",
    eval_delta: float = 0.5,
    calibrate: str = "temperature",
    loss: str = "ce",
    steps: int = 400,
    eta_g: float = 0.5,
    eta_lambda: float = 1.0,
    tau: float = 1.0,
    deltas: Sequence[float] = DEFAULT_DELTAS,
    seed: int = 0,
) -> dict:
    """Fit DROPS and the baselines on validation and evaluate every one on test (on
    validation again when no test set is given).

    ``prior`` (the training label prior π) is required. DROPS' radius is ``delta`` when given,
    otherwise selected from ``delta_grid`` by cross-fitting on validation
    (:func:`~reliant.robustness.selection.select_delta`, ``select_folds`` folds, for
    ``select_metric`` at ``eval_delta``). ``calibrate="temperature"`` divides every logit by one
    temperature fitted on validation first (for every method). Returns ``{"methods": {name:
    {"val": report, "test": report}}, "models": {name: model}, "drops": DROPS, "deltas": [...],
    "eval_delta": float, "evaluated_on": "test"|"validation", "delta_selection": dict | None,
    "temperature": float}``; each report is :func:`~reliant.robustness.metrics.accuracy_report`
    with the δ-worst accuracy in a KL ball of radius ``eval_delta`` around the target.
    """
    from reliant.robustness.selection import select_delta, temperature_calibrate

    if (test_logits is None) != (test_labels is None):
        raise ConfigError("give both test logits and test labels, or neither", field="test_labels")
    if val_groups is not None and test_logits is not None and test_groups is None:
        raise ConfigError("groups were given for validation; give the test groups too", field="test_groups")
    if calibrate not in CALIBRATIONS:
        raise ConfigError(f"unknown calibration {calibrate!r} (choose {', '.join(CALIBRATIONS)})", field="calibrate")
    k = np.asarray(val_logits).shape[1]
    pi = _class_prior(prior, k)
    check_number(eval_delta, "eval_delta", low=0)
    eval_delta = float(eval_delta)
    temperature = 1.0
    if calibrate == "temperature":
        temperature = temperature_calibrate(val_logits, val_labels)
        val_logits = np.asarray(val_logits, dtype=np.float64) / temperature
        if test_logits is not None:
            test_logits = np.asarray(test_logits, dtype=np.float64) / temperature
    params = {"divergence": divergence, "target": target, "prior": pi, "loss": loss, "steps": steps,
              "eta_g": eta_g, "eta_lambda": eta_lambda}
    selection = None
    if delta is None:
        selection = select_delta(val_logits, val_labels, val_groups, deltas=delta_grid, folds=select_folds,
                                 metric=select_metric, eval_delta=eval_delta, seed=seed, **params)
        delta = selection["delta"]
    drops = DROPS(delta=delta, **params)
    models: list[PostHocAdjuster] = make_baselines(prior=pi, tau=tau) + [drops]
    num_groups = None
    if val_groups is not None:
        num_groups = int(max(np.max(val_groups), np.max(test_groups) if test_groups is not None else 0)) + 1
    test_priors = None
    if val_groups is None:  # label-shift test mixes: the training prior itself and its reverse
        test_priors = {"forward": pi, "backward": pi[::-1].copy()}
    methods: dict[str, dict] = {}
    for model in track(models, "fitting DROPS and the baselines"):  # one bar: each fit + evaluation
        model.fit(val_logits, val_labels, val_groups)
        entry = {"val": accuracy_report(model.predict(val_logits), val_labels, val_groups, num_groups,
                                        delta=eval_delta, r=target, deltas=deltas, test_priors=test_priors)}
        if test_logits is not None:
            if np.asarray(test_logits).shape[1] != k:
                raise DataError(f"has {np.asarray(test_logits).shape[1]} classes but the validation logits have "
                                f"{k}", field="test_logits")
            entry["test"] = accuracy_report(model.predict(test_logits), test_labels, test_groups, num_groups,
                                            delta=eval_delta, r=target, deltas=deltas, test_priors=test_priors)
        methods[model.name] = entry
    return {
        "methods": methods,
        "models": {m.name: m for m in models},
        "drops": drops,
        "deltas": list(map(float, deltas)),
        "eval_delta": eval_delta,
        "evaluated_on": "test" if test_logits is not None else "validation",
        "delta_selection": selection,
        "temperature": float(temperature),
        "prior": pi.tolist(),
    }


def summary_rows(results: dict, split: str | None = None) -> list[dict]:
    """One table row per method: mean, balanced, worst and delta-worst accuracy."""
    split = split or ("test" if results["evaluated_on"] == "test" else "val")
    rows = []
    for name, entry in results["methods"].items():
        rep = entry[split]
        rows.append({
            "method": name,
            "mean acc": rep["mean_accuracy"],
            "balanced acc": rep["balanced_accuracy"],
            "worst acc": rep["worst_accuracy"],
            f"δ-worst acc (δ={results['eval_delta']:g})": rep["delta_worst_accuracy"],
            **{f"acc, {name} test prior": value for name, value in rep.get("shifted_prior_accuracy", {}).items()},
        })
    return rows


