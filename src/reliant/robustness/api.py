"""Robustness to prior shift, post hoc: what a user (or another capability) imports.

    from reliant.robustness.api import DROPS, compare_methods
    drops = DROPS(delta=0.5).fit(val_logits, val_labels)      # weights_ = g in the KL ball
    test_pred = drops.predict(test_logits)                    # argmax logits + log g - log pi
    results = compare_methods(val_logits, val_labels, test_logits, test_labels)

:func:`run_drops` is the ``reliant robust drops`` command (files in, run directory out),
:func:`run_longtail` the ``reliant robust longtail`` one, :func:`demo_stage` the stage of
``reliant demo``. ``__all__`` lists the public names; the formulas live in
:mod:`reliant.robustness.metrics` and :mod:`reliant.robustness.divergences`, and the array
helpers shared with other capabilities (labels, softmax, confusion matrices) in
:mod:`reliant.core.data` and :mod:`reliant.core.arrays`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reliant.core.arrays import softmax
from reliant.core.data import check_rows, load_array, load_class_scores, load_labels, required_path, save_array
from reliant.core.errors import ConfigError, DataError, check_number
from reliant.core.plotting import PALETTE, new_figure
from reliant.core.rundir import RunDirectory, run_directory
from reliant.robustness.divergences import DIVERGENCES, canonical, divergence, worst_case_weights
from reliant.robustness.drops import (
    DROPS,
    BalancedReweighting,
    LogitAdjustment,
    NoAdjustment,
    PostHocAdjuster,
    WorstClassReweighting,
    make_baselines,
)
from reliant.robustness.inputs import check_groups, load_vector
from reliant.robustness.longtail import LongTailSplit, exponential_profile, longtail_split, synthetic_longtail
from reliant.robustness.metrics import (
    DEFAULT_DELTAS,
    accuracy_report,
    balanced_accuracy,
    delta_worst_accuracy,
    delta_worst_curve,
    per_group_accuracy,
    worst_group_accuracy,
)

__all__ = [
    "DEFAULT_DELTAS",
    "DIVERGENCES",
    "DROPS",
    "BalancedReweighting",
    "DropsConfig",
    "LogitAdjustment",
    "LongTailConfig",
    "LongTailSplit",
    "NoAdjustment",
    "PostHocAdjuster",
    "WorstClassReweighting",
    "accuracy_report",
    "compare_methods",
    "demo_stage",
    "longtail_split",
    "run_drops",
    "run_longtail",
    "synthetic_longtail",
]

SHARED_DATA = Path(os.environ.get("RELIANT_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))
"""``../shared/data`` beside the repository (real data for demos; absent in installs);
``RELIANT_SHARED_DATA`` points elsewhere."""


# --------------------------------------------------------------------------- evaluation


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
    for model in models:
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


# --------------------------------------------------------------------------- figures


def _method_colours(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def plot_delta_worst(results: dict, split: str | None = None):
    """Delta-worst accuracy against delta, one line per method."""
    split = split or ("test" if results["evaluated_on"] == "test" else "val")
    colours = _method_colours(list(results["methods"]))
    fig, ax = new_figure(6.4, 3.8)
    deltas = np.asarray(results["deltas"])
    for name, entry in results["methods"].items():
        ax.plot(deltas, entry[split]["delta_worst_curve"], marker="o", ms=3, label=name, color=colours[name],
                lw=2.2 if name == "DROPS" else 1.3)
    ax.axvline(results["drops"].delta, color="grey", ls=":", lw=1)
    ax.set_xscale("symlog", linthresh=0.05)
    ax.set_xlim(left=0)
    ax.set_xlabel("δ (KL radius of the prior shift around the target)")
    ax.set_ylabel("δ-worst accuracy")
    ax.set_title(f"Accuracy under the worst prior shift ({split})")
    ax.legend(fontsize=8)
    return fig


def plot_per_group(results: dict, split: str | None = None, names: Sequence[str] | None = None):
    """Per-class (or per-group) accuracy bars for each method."""
    split = split or ("test" if results["evaluated_on"] == "test" else "val")
    names = list(names or results["methods"])
    colours = _method_colours(list(results["methods"]))
    first = results["methods"][names[0]][split]
    k = len(first["per_group_accuracy"])
    fig, ax = new_figure(max(6.0, 0.55 * k + 2), 3.6)
    width = 0.8 / len(names)
    x = np.arange(k)
    for i, name in enumerate(names):
        acc = np.asarray(results["methods"][name][split]["per_group_accuracy"], dtype=float)
        ax.bar(x + (i - (len(names) - 1) / 2) * width, acc, width, label=name, color=colours[name])
    ax.set_xticks(x)
    ax.set_xlabel("class (or group); sizes: " + " ".join(str(s) for s in first["group_sizes"][:20])
                  + (" …" if k > 20 else ""), fontsize=8)
    ax.set_ylabel("accuracy")
    lows = [np.nanmin(results["methods"][n][split]["per_group_accuracy"]) for n in names]
    ax.set_ylim(max(0.0, min(lows) - 0.1), 1.0)
    ax.set_title(f"Per-class accuracy ({split})")
    ax.legend(fontsize=7, ncols=min(len(names), 3))
    return fig


def plot_summary(results: dict, split: str | None = None):
    """Mean, worst-class and shifted-prior accuracy of every method, side by side."""
    split = split or ("test" if results["evaluated_on"] == "test" else "val")
    names = list(results["methods"])
    colours = _method_colours(names)
    first = results["methods"][names[0]][split]
    keys = [("mean_accuracy", "mean"), ("worst_accuracy", "worst class")]
    keys += [(f"shifted:{name}", f"{name} test prior") for name in first.get("shifted_prior_accuracy", {})]
    fig, ax = new_figure(7.0, 3.6)
    width = 0.8 / len(names)
    lows = []
    for i, name in enumerate(names):
        rep = results["methods"][name][split]
        values = [rep["shifted_prior_accuracy"][k.split(":", 1)[1]] if k.startswith("shifted:") else rep[k]
                  for k, _ in keys]
        lows.extend(values)
        ax.bar(np.arange(len(keys)) + (i - (len(names) - 1) / 2) * width, values, width, label=name,
               color=colours[name])
    ax.set_xticks(np.arange(len(keys)))
    ax.set_xticklabels([label for _, label in keys])
    ax.set_ylim(max(0.0, min(lows) - 0.05), 1.0)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Worst-class and shifted-prior accuracy ({split})")
    ax.legend(fontsize=7, ncols=2)
    return fig


def plot_weights(drops: DROPS):
    """DROPS weights ``g`` against the target ``r`` and the training prior ``pi``."""
    g = drops.weights_
    k = len(g)
    fig, ax = new_figure(max(6.0, 0.5 * k + 2), 3.4)
    x = np.arange(k)
    ax.bar(x - 0.27, g, 0.27, label="g (DROPS)", color=PALETTE[0])
    ax.bar(x, drops.target_, 0.27, label="r (target)", color=PALETTE[2])
    if len(drops.prior_) == k:
        ax.bar(x + 0.27, drops.prior_, 0.27, label="π (training prior)", color=PALETTE[1])
    ax.set_xticks(x)
    ax.set_xlabel("class" if len(drops.prior_) == k else "group")
    ax.set_ylabel("weight")
    ax.set_yscale("log")
    ax.set_title(f"Learned weights: {canonical(drops.divergence)}(g, r) = {drops.divergence_:.3f} ≤ δ = {drops.delta:g}")
    ax.legend(fontsize=8)
    return fig


def plot_dual(drops: DROPS):
    """The multiplier lambda (projected to >= 0) and D(g, r) over the DROPS iterations."""
    fig, axes = new_figure(7.6, 3.0, ncols=2)
    steps = [h.step for h in drops.history_]
    axes[0].plot(steps, [h.lam for h in drops.history_], color=PALETTE[0])
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("λ (dual variable, ≥ 0)")
    axes[1].plot(steps, [h.divergence for h in drops.history_], color=PALETTE[3], label="D(g, r)")
    axes[1].axhline(drops.delta, color="grey", ls=":", label="δ")
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("divergence")
    axes[1].legend(fontsize=8)
    return fig


def add_to_report(run: RunDirectory, results: dict, prefix: str = "") -> dict:
    """Figures, tables and metrics of :func:`compare_methods` into a run directory; returns
    the headline numbers."""
    split = "test" if results["evaluated_on"] == "test" else "val"
    drops: DROPS = results["drops"]
    rows = summary_rows(results)
    run.add_table(f"{prefix}Methods on {results['evaluated_on']}", rows,
                  caption="All methods reuse the same trained logits and only add per-class offsets fitted on "
                          "validation. δ-worst accuracy: the lowest reweighting of per-class accuracy within a KL "
                          "ball around the target (uniform), computed exactly. Forward / backward test prior: the "
                          "expected accuracy if the test classes were mixed like the training prior π or its "
                          "reverse (Σ_y q_y acc_y).",
                  highlight=[len(rows) - 1])
    run.add_figure(f"{prefix}δ-worst accuracy", plot_delta_worst(results),
                   caption="δ = 0 is the balanced accuracy; large δ the worst-class accuracy. Dotted: the δ DROPS was "
                           "fitted for.", save_as="drops_delta_worst.png")
    run.add_figure(f"{prefix}Worst-class and shifted-prior accuracy", plot_summary(results),
                   caption="Forward: test classes mixed like the training prior π; backward: like π reversed.")
    names = [n for n in results["methods"] if n in ("no adjustment", "logit adjustment", "DROPS")]
    run.add_figure(f"{prefix}Per-class accuracy", plot_per_group(results, names=names))
    if drops.history_:
        run.add_figure(f"{prefix}Weights g vs prior", plot_weights(drops),
                       caption="DROPS predicts argmax logits + log g − log π.")
        run.add_figure(f"{prefix}Dual variable", plot_dual(drops),
                       caption="Exponentiated-gradient steps on g alternate with projected dual steps on λ.")
    if split == "test":
        run.add_table(f"{prefix}Methods on validation (fitted there)", summary_rows(results, "val"))
    metrics = {
        name: {s: {k: v for k, v in rep.items()} for s, rep in entry.items()}
        for name, entry in results["methods"].items()
    }
    run.add_metrics({"drops": {
        "methods": metrics, "deltas": results["deltas"], "eval_delta": results["eval_delta"],
        "evaluated_on": results["evaluated_on"],
        "weights": drops.weights_.tolist(), "offsets": drops.offsets_.tolist(), "lambda": drops.lambda_,
        "divergence_value": drops.divergence_,
    }})
    d = results["methods"]["DROPS"][split]
    la = results["methods"]["logit adjustment"][split]
    return {
        "drops_worst_accuracy": d["worst_accuracy"],
        "drops_delta_worst_accuracy": d["delta_worst_accuracy"],
        "logit_adjustment_worst_accuracy": la["worst_accuracy"],
        "logit_adjustment_delta_worst_accuracy": la["delta_worst_accuracy"],
        "drops_mean_accuracy": d["mean_accuracy"],
        "logit_adjustment_mean_accuracy": la["mean_accuracy"],
    }


# --------------------------------------------------------------------------- commands


@dataclass
class DropsConfig:
    """``reliant robust drops`` options."""

    logits: Path | None = None
    labels: Path | None = None
    test_logits: Path | None = None
    test_labels: Path | None = None
    groups: Path | None = None
    test_groups: Path | None = None
    prior: Path | None = None
    target: Path | None = None
    probs: bool = False
    divergence: str = "kl"
    delta: float = 0.5
    loss: str = "ce"
    steps: int = 400
    eta_g: float = 0.5
    eta_lambda: float = 1.0
    tau: float = 1.0
    deltas: str = ",".join(f"{d:g}" for d in DEFAULT_DELTAS)
    seed: int = 0


def parse_deltas(text: str) -> list[float]:
    try:
        values = [float(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"expected comma-separated numbers, got {text!r}", field="deltas") from None
    if not values or any(not np.isfinite(v) or v < 0 for v in values):
        raise ConfigError(f"expected non-negative numbers, got {text!r}", field="deltas")
    return sorted(set(values))


def load_inputs(config: DropsConfig) -> dict:
    """Read and cross-check every array named in the config (one-line errors)."""
    logits_path = required_path(config.logits, "logits")
    labels_path = required_path(config.labels, "labels")
    val_logits = load_class_scores(logits_path, name="logits", probabilities=config.probs)
    k = val_logits.shape[1]
    val_labels = load_labels(labels_path, k, name="labels", rows=len(val_logits), reference=str(logits_path))
    inputs = {"val_logits": val_logits, "val_labels": val_labels, "test_logits": None, "test_labels": None,
              "val_groups": None, "test_groups": None, "prior": None, "target": None}
    if (config.test_logits is None) != (config.test_labels is None):
        missing = "test_labels" if config.test_labels is None else "test_logits"
        raise ConfigError(f"give --test-logits and --test-labels together (missing --{missing.replace('_', '-')})",
                          field=missing)
    if config.test_logits is not None:
        test_logits = load_class_scores(config.test_logits, name="test_logits", probabilities=config.probs)
        if test_logits.shape[1] != k:
            raise DataError(f"has {test_logits.shape[1]} classes but {logits_path} has {k}",
                            file=config.test_logits, field="test_logits")
        inputs["test_logits"] = test_logits
        inputs["test_labels"] = load_labels(config.test_labels, k, name="test_labels", rows=len(test_logits),
                                            reference=str(config.test_logits))
    if config.groups is not None:
        groups = load_array_groups(config.groups, "groups", len(val_logits), str(logits_path))
        inputs["val_groups"] = groups
        if config.test_logits is not None:
            if config.test_groups is None:
                raise ConfigError("--groups needs --test-groups when a test set is given", field="test_groups")
            inputs["test_groups"] = load_array_groups(config.test_groups, "test_groups", len(inputs["test_logits"]),
                                                      str(config.test_logits))
    elif config.test_groups is not None:
        raise ConfigError("--test-groups needs --groups for the validation set", field="groups")
    if config.prior is not None:
        inputs["prior"] = load_vector(config.prior, k, name="prior")
    if config.target is not None:
        n_groups = k
        if inputs["val_groups"] is not None:
            n_groups = int(inputs["val_groups"].max()) + 1
            if inputs["test_groups"] is not None:
                n_groups = max(n_groups, int(inputs["test_groups"].max()) + 1)
        inputs["target"] = load_vector(config.target, n_groups, name="target")
    return inputs


def load_array_groups(path: Path, name: str, rows: int, reference: str) -> np.ndarray:
    groups = load_array(path, name=name, ndim=(1, 2), dtype="int")
    groups = groups.reshape(-1) if groups.ndim == 2 and groups.shape[1] == 1 else groups
    check_rows(name, len(groups), rows, path, reference)
    return check_groups(groups, name=name, file=path)


def run_drops(config: DropsConfig, out: Path | None = None, overwrite: bool = False) -> tuple[RunDirectory, dict]:
    """``reliant robust drops``: fit DROPS and the baselines, write a run directory."""
    deltas = parse_deltas(config.deltas)
    # Every option is checked before any file is read or any method is fitted.
    DROPS(delta=config.delta, divergence=config.divergence, loss=config.loss, steps=config.steps,
          eta_g=config.eta_g, eta_lambda=config.eta_lambda)._check_params()
    check_number(config.tau, "tau")
    inputs = load_inputs(config)
    with run_directory("robust drops", config, out, overwrite=overwrite,
                       title="reliant robust drops: distributionally robust post-hoc classifier") as run:
        k = inputs["val_logits"].shape[1]
        run.log(f"validation: {len(inputs['val_labels'])} rows, {k} classes; "
                f"test: {0 if inputs['test_labels'] is None else len(inputs['test_labels'])} rows")
        results = compare_methods(
            inputs["val_logits"], inputs["val_labels"], inputs["test_logits"], inputs["test_labels"],
            val_groups=inputs["val_groups"], test_groups=inputs["test_groups"], prior=inputs["prior"],
            target=inputs["target"], divergence=config.divergence, delta=config.delta, loss=config.loss,
            steps=config.steps, eta_g=config.eta_g, eta_lambda=config.eta_lambda, tau=config.tau, deltas=deltas,
        )
        if results["evaluated_on"] == "validation":
            run.add_text("Note", "No test set was given: every number is measured on the validation set the "
                                 "methods were fitted on, so it is optimistic.")
        headline = add_to_report(run, results)
        drops: DROPS = results["drops"]
        run.log(f"DROPS: lambda = {drops.lambda_:.4f}, D(g, r) = {drops.divergence_:.4f} (delta {config.delta})")
        run.add_headline("DROPS worst-class acc", headline["drops_worst_accuracy"])
        run.add_headline(f"DROPS δ-worst acc (δ={results['eval_delta']:g})", headline["drops_delta_worst_accuracy"])
        run.add_headline("logit adj. worst-class acc", headline["logit_adjustment_worst_accuracy"])
        run.add_headline(f"logit adj. δ-worst acc", headline["logit_adjustment_delta_worst_accuracy"])
        run.file("weights.json").write_text(json.dumps({
            "weights_g": drops.weights_.tolist(), "target_r": drops.target_.tolist(),
            "prior_pi": drops.prior_.tolist(), "class_offsets": drops.offsets_.tolist(),
            "lambda": drops.lambda_, "divergence": canonical(config.divergence),
            "divergence_value": drops.divergence_, "delta": config.delta,
        }, indent=2) + "\n")
        scored = inputs["test_logits"] if inputs["test_logits"] is not None else inputs["val_logits"]
        save_array(drops.predict(scored), run.file("predictions.npy"))
        run.add_metrics({"headline": headline})
    return run, results


@dataclass
class LongTailConfig:
    """``reliant robust longtail`` options."""

    probs: Path | None = None
    labels: Path | None = None
    ratio: float = 100.0
    val_fraction: float = 0.5
    val_profile: str = "longtail"
    seed: int = 0


def run_longtail(config: LongTailConfig, out: Path | None = None, overwrite: bool = False) -> RunDirectory:
    """``reliant robust longtail``: simulate a long-tailed model from probabilities on a
    labelled set and write validation/test arrays (``val_logits.npy``, ``val_labels.npy``,
    ``test_logits.npy``, ``test_labels.npy``, ``prior.npy``)."""
    check_number(config.ratio, "ratio", low=1)
    check_number(config.val_fraction, "val_fraction", low=0, high=1, low_open=True, high_open=True)
    if config.val_profile not in ("longtail", "balanced"):
        raise ConfigError(f"unknown validation profile {config.val_profile!r} (longtail or balanced)",
                          field="val_profile")
    probs_path = required_path(config.probs, "probs")
    labels_path = required_path(config.labels, "labels")
    logits = load_class_scores(probs_path, name="probs", probabilities=True)
    labels = load_labels(labels_path, logits.shape[1], rows=len(logits), reference=str(probs_path))
    split = longtail_split(softmax(logits), labels, ratio=config.ratio, seed=config.seed,
                           val_fraction=config.val_fraction, val_profile=config.val_profile)
    with run_directory("robust longtail", config, out, overwrite=overwrite,
                       title="reliant robust longtail: a simulated long-tailed model") as run:
        for key in ("val_logits", "val_labels", "test_logits", "test_labels", "prior", "val_index", "test_index"):
            save_array(split[key], run.file(f"{key}.npy"))
        counts = np.bincount(split.val_labels, minlength=logits.shape[1])
        run.add_table("Validation rows per class", [{"class": y, "validation rows": int(c), "training prior π": p}
                                                   for y, (c, p) in enumerate(zip(counts, split.prior))])
        fig, ax = new_figure()
        ax.bar(np.arange(len(counts)), counts, color=PALETTE[0])
        ax.set_yscale("log")
        ax.set_xlabel("class")
        ax.set_ylabel("validation rows")
        ax.set_title(f"Long-tailed validation (imbalance ratio {config.ratio:g})")
        run.add_figure("Validation profile", fig)
        run.add_metrics({"val_rows": int(len(split.val_labels)), "test_rows": int(len(split.test_labels)),
                         "val_counts": counts.tolist(), "prior": split.prior.tolist()})
        run.add_headline("validation rows", int(len(split.val_labels)))
        run.add_headline("test rows", int(len(split.test_labels)))
    return run


# --------------------------------------------------------------------------- demo


def cifar10_files() -> tuple[Path, Path] | None:
    """The shared cross-validated CIFAR-10 probabilities and labels, when present."""
    folder = SHARED_DATA / "cleanlab_cifar10"
    probs, labels = folder / "cifar10_test_set_pyx.npy", folder / "cifar10_test_set_original_labels.npy"
    return (probs, labels) if probs.is_file() and labels.is_file() else None


def demo_stage(run: RunDirectory, seed: int) -> dict:
    """DROPS vs logit adjustment on a long-tailed CIFAR-10 model (simulated from the shared
    cross-validated probabilities) or, without them, on a synthetic long-tailed problem."""
    files = cifar10_files()
    if files is not None:
        split = longtail_split(np.load(files[0]), np.load(files[1]).astype(np.int64), ratio=100.0, seed=seed)
        source = "CIFAR-10 (cleanlab cross-validated probabilities, simulated ratio-100 long tail)"
    else:
        split = synthetic_longtail(seed=seed)
        source = "synthetic Gaussian mixture, logistic regression trained with ratio-100 long tail"
    run.log(f"robustness demo on {source}")
    results = compare_methods(split.val_logits, split.val_labels, split.test_logits, split.test_labels,
                              prior=split.prior, delta=0.5)
    headline = add_to_report(run, results, prefix="Robustness: ")
    run.add_headline("DROPS worst-class acc", headline["drops_worst_accuracy"])
    run.add_headline("logit adj. worst-class acc", headline["logit_adjustment_worst_accuracy"])
    return {**headline, "source": source}
