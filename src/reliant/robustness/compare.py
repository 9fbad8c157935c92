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

from reliant.core.errors import ConfigError, DataError
from reliant.core.progress import track
from reliant.robustness.divergences import canonical
from reliant.robustness.drops import DROPS, PostHocAdjuster, make_baselines
from reliant.robustness.metrics import DEFAULT_DELTAS, accuracy_report

__all__ = ["compare_methods", "summary_rows"]


def compare_methods(
    val_logits: np.ndarray,
    val_labels: np.ndarray,
    test_logits: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    *,
    val_groups: np.ndarray | None = None,
    test_groups: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    target: np.ndarray | None = None,
    divergence: str = "kl",
    delta: float = 0.5,
    loss: str = "ce",
    steps: int = 400,
    eta_g: float = 0.5,
    eta_lambda: float = 1.0,
    tau: float = 1.0,
    deltas: Sequence[float] = DEFAULT_DELTAS,
    eval_delta: float | None = None,
) -> dict:
    """Fit DROPS and the baselines on validation and evaluate every one on test (on
    validation again when no test set is given).

    Returns ``{"methods": {name: {"val": report, "test": report}}, "models": {name: model},
    "drops": DROPS, "deltas": [...], "eval_delta": float, "evaluated_on": "test"|"validation"}``;
    each report is :func:`~reliant.robustness.metrics.accuracy_report` with the
    delta-worst accuracy in a KL ball around the target (uniform by default).
    """
    if (test_logits is None) != (test_labels is None):
        raise ConfigError("give both test logits and test labels, or neither", field="test_labels")
    if val_groups is not None and test_logits is not None and test_groups is None:
        raise ConfigError("groups were given for validation; give the test groups too", field="test_groups")
    drops = DROPS(delta=delta, divergence=divergence, target=target, prior=prior, loss=loss, steps=steps,
                  eta_g=eta_g, eta_lambda=eta_lambda)
    models: list[PostHocAdjuster] = make_baselines(prior=prior, tau=tau) + [drops]
    num_groups = None
    if val_groups is not None:
        num_groups = int(max(np.max(val_groups), np.max(test_groups) if test_groups is not None else 0)) + 1
    if eval_delta is None:  # the metric ball is KL: reuse the fitted radius when it is a KL radius too
        eval_delta = delta if canonical(divergence) == "kl" else 0.5
    eval_delta = float(eval_delta)
    test_priors = None
    if val_groups is None:  # label-shift test mixes: the training prior itself and its reverse
        k = np.asarray(val_logits).shape[1]
        if prior is not None:
            pi = np.asarray(prior, dtype=np.float64) / np.sum(prior)
        else:
            pi = np.bincount(np.asarray(val_labels, dtype=np.int64), minlength=k).astype(np.float64)
            pi = pi / pi.sum()
        test_priors = {"forward": pi, "backward": pi[::-1].copy()}
    methods: dict[str, dict] = {}
    for model in track(models, "fitting DROPS and the baselines"):  # one bar: each fit + evaluation
        model.fit(val_logits, val_labels, val_groups)
        entry = {"val": accuracy_report(model.predict(val_logits), val_labels, val_groups, num_groups,
                                        delta=eval_delta, r=target, deltas=deltas, test_priors=test_priors)}
        if test_logits is not None:
            if np.asarray(test_logits).shape[1] != np.asarray(val_logits).shape[1]:
                raise DataError(f"has {np.asarray(test_logits).shape[1]} classes but the validation logits have "
                                f"{np.asarray(val_logits).shape[1]}", field="test_logits")
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


