"""Human vs machine, post hoc: what a user (or another capability) imports.

    from reliant.collaboration.api import analyze
    result = analyze(machine_logits, human_vote_counts, labels, annotators=1, seed=0)
    result["teams"]            # machine alone, human alone, deferral, combinations, oracle
    result["comparison"]       # kappa, error consistency, overlap, confusion similarity, chi2

:func:`run_analyze` is the ``reliant collab analyze`` command (files in, run directory out) and
:func:`demo_stage` the stage of ``reliant demo`` (synthetic data, no files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reliant.collaboration.analysis import analyze, check_params, difficulty_bins
from reliant.collaboration.combine import (
    DEFAULT_FRACTIONS,
    ConfusionCombiner,
    LogLinearCombiner,
    best_threshold,
    consult_curve,
    cross_fit,
    deferral_curve,
    fit_temperature,
    human_confusion,
    threshold_defer,
)
from reliant.collaboration.metrics import (
    chi2_error_test,
    cohen_kappa,
    confusion_similarity,
    error_consistency,
    error_overlap,
    oracle_accuracy,
)
from reliant.collaboration.synthetic import synthetic_human_machine
from reliant.collaboration.votes import agreement, as_counts, plurality, sample_annotators
from reliant.core.data import check_rows, load_array, load_class_scores, load_labels, required_path
from reliant.core.errors import ConfigError
from reliant.core.plotting import PALETTE, new_figure
from reliant.core.rundir import RunDirectory, run_directory

__all__ = [
    "CollabConfig",
    "ConfusionCombiner",
    "LogLinearCombiner",
    "analyze",
    "deferral_curve",
    "demo_stage",
    "run_analyze",
    "synthetic_human_machine",
    "threshold_defer",
]


# --------------------------------------------------------------------------- figures


def plot_confusions(result: dict, class_names: list[str] | None = None):
    """Row-normalised confusion matrices of the human and the machine, side by side, with the
    diagonal blanked so the mistakes are visible."""
    k = result["classes"]
    names = class_names or [str(i) for i in range(k)]
    fig, axes = new_figure(10.0, 4.4, ncols=2)
    mats = [np.asarray(result["human"]["confusion"]), np.asarray(result["machine"]["confusion"])]
    vmax = max(float(np.nanmax(np.where(np.eye(k, dtype=bool), np.nan, m))) for m in mats) or 1.0
    for ax, mat, title in zip(axes, mats, ["human", "machine"]):
        shown = np.where(np.eye(k, dtype=bool), np.nan, mat)
        image = ax.imshow(shown, cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(f"{title}: P(predicted | true), off-diagonal")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xticklabels(names, rotation=60, fontsize=7)
        ax.set_yticklabels(names, fontsize=7)
        ax.grid(False)
    fig.colorbar(image, ax=axes, shrink=0.8)
    return fig


def plot_per_class_error(result: dict, class_names: list[str] | None = None):
    k = result["classes"]
    names = class_names or [str(i) for i in range(k)]
    fig, ax = new_figure(max(6.0, 0.55 * k + 2), 3.4)
    x = np.arange(k)
    ax.bar(x - 0.2, result["human"]["per_class_error"], 0.4, label="human", color=PALETTE[1])
    ax.bar(x + 0.2, result["machine"]["per_class_error"], 0.4, label="machine", color=PALETTE[0])
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, fontsize=8)
    ax.set_ylabel("error rate")
    ax.set_title("Per-class error rate")
    ax.legend()
    return fig


def plot_overlap(result: dict):
    """Shares of rows by outcome, against what independent errors would give."""
    c = result["comparison"]
    err_h, err_m = 1 - result["human"]["accuracy"], 1 - result["machine"]["accuracy"]
    labels = ["only human wrong", "only machine wrong", "both wrong"]
    observed = [c["overlap_only_a_wrong"], c["overlap_only_b_wrong"], c["overlap_both_wrong"]]
    independent = [err_h * (1 - err_m), err_m * (1 - err_h), err_h * err_m]
    fig, ax = new_figure(6.0, 3.4)
    x = np.arange(3)
    ax.bar(x - 0.2, observed, 0.4, label="observed", color=PALETTE[3])
    ax.bar(x + 0.2, independent, 0.4, label="if errors were independent", color=PALETTE[5])
    ax.set_xticks(x)
    ax.set_xticklabels(labels)
    ax.set_ylabel("share of rows")
    ax.set_title(f"Error overlap (error consistency κ = {c['error_consistency']:.3f})")
    ax.legend()
    return fig


def plot_difficulty(result: dict):
    keys = [("by_machine_confidence", "machine-confidence bin (1 = least confident)")]
    if "by_human_agreement" in result["difficulty"]:
        keys.append(("by_human_agreement", "human-agreement bin (1 = most disputed)"))
    fig, axes = new_figure(5.0 * len(keys), 3.4, ncols=len(keys))
    axes = np.atleast_1d(axes)
    for ax, (key, xlabel) in zip(axes, keys):
        bins = result["difficulty"][key]
        x = [b["bin"] for b in bins]
        ax.plot(x, [b["human"] for b in bins], marker="o", label="human", color=PALETTE[1])
        ax.plot(x, [b["machine"] for b in bins], marker="s", label="machine", color=PALETTE[0])
        ax.set_xticks(x)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy")
        ax.legend()
    axes[0].set_title("Accuracy by difficulty")
    return fig


def plot_curves(result: dict):
    """Accuracy against the share of rows a human answers (least confident first)."""
    curves = result["curves"]
    f = np.asarray(curves["fractions"])
    fig, ax = new_figure(6.4, 3.8)
    ax.plot(f, curves["defer_to_human"], marker="o", ms=3, label="defer: human replaces machine", color=PALETTE[1])
    ax.plot(f, curves["consult_and_combine"], marker="s", ms=3, label=f"consult: {curves['combiner_used']}",
            color=PALETTE[2])
    ax.axhline(result["machine"]["accuracy"], color=PALETTE[0], ls="--", lw=1, label="machine alone")
    ax.axhline(result["human"]["accuracy"], color=PALETTE[3], ls=":", lw=1, label="human alone")
    threshold_row = result["teams"][2]
    ax.scatter([threshold_row["human consulted"]], [threshold_row["accuracy"]], color="black", zorder=5,
               label="fitted threshold (out of fold)")
    ax.set_xlabel("share of rows deferred to / consulted with the human")
    ax.set_ylabel("accuracy")
    ax.set_title("Collaboration accuracy vs deferral rate")
    ax.legend(fontsize=8)
    return fig


def add_to_report(run: RunDirectory, result: dict, prefix: str = "", class_names: list[str] | None = None) -> dict:
    """Tables, figures and metrics of :func:`analyze` into a run directory; returns headline numbers."""
    run.add_table(f"{prefix}Teams (out-of-fold)", result["teams"],
                  caption="Every team is fitted on the other folds and scored on rows it did not see. The oracle "
                          "picks whichever of the two answers is right: the ceiling of deferral, not a method (a "
                          "combination can exceed it by choosing a class neither source chose).",
                  highlight=[i for i, row in enumerate(result["teams"][2:5], start=2)
                             if row["accuracy"] == result["best_team_accuracy"]])
    c = result["comparison"]
    run.add_table(f"{prefix}How the mistakes differ", [
        {"statistic": "accuracy: machine / human", "value": f"{result['machine']['accuracy']:.4f} / "
                                                            f"{result['human']['accuracy']:.4f}"},
        {"statistic": "agreement (Cohen's κ)", "value": f"{c['agreement']:.4f} ({c['cohen_kappa']:.3f})"},
        {"statistic": "error consistency κ (0 = independent errors)", "value": f"{c['error_consistency']:.4f}"},
        {"statistic": "both wrong: observed / if independent",
         "value": f"{c['overlap_both_wrong']:.4f} / {c['overlap_both_wrong_if_independent']:.4f}"},
        {"statistic": "P(machine wrong | human wrong)", "value": f"{c['overlap_p_b_wrong_given_a_wrong']:.4f}"},
        {"statistic": "confusion off-diagonal correlation", "value": f"{c['offdiag_correlation']:.4f}"},
        {"statistic": "JS divergence of error distributions", "value": f"{c.get('error_js_divergence', 0.0):.4f}"},
        {"statistic": "χ² test, same error distribution", "value": f"χ² {c['chi2_chi2']:.1f}, dof {c['chi2_dof']}, "
                                                                   f"p = {c['chi2_p_value']:.2g}"},
        {"statistic": "Spearman(machine confidence, human agreement)",
         "value": f"{result['difficulty']['spearman_confidence_vs_human_agreement']:.4f}"},
    ])
    run.add_figure(f"{prefix}Accuracy vs deferral rate", plot_curves(result), save_as="collab_coverage.png",
                   caption="Rows are handed to the human from the least confident machine prediction up.")
    run.add_figure(f"{prefix}Confusion matrices", plot_confusions(result, class_names), save_as="collab_confusions.png")
    run.add_figure(f"{prefix}Per-class error", plot_per_class_error(result, class_names))
    run.add_figure(f"{prefix}Error overlap", plot_overlap(result), save_as="collab_overlap.png")
    run.add_figure(f"{prefix}Accuracy by difficulty", plot_difficulty(result))
    run.add_table(f"{prefix}Hardest rows (least confident machine, then most disputed humans)", result["hardest_rows"])
    run.add_metrics({"collab": {key: value for key, value in result.items() if key != "hardest_rows"}})
    machine_acc, human_acc = result["machine"]["accuracy"], result["human"]["accuracy"]
    return {
        "machine_accuracy": machine_acc,
        "human_accuracy": human_acc,
        "best_team_accuracy": result["best_team_accuracy"],
        "team_beats_both": result["team_beats_both"],
        "error_consistency": c["error_consistency"],
        "oracle_accuracy": c["oracle_accuracy"],
    }


# --------------------------------------------------------------------------- command


@dataclass
class CollabConfig:
    """``reliant collab analyze`` options."""

    machine_probs: Path | None = None
    machine_logits: Path | None = None
    human_votes: Path | None = None
    labels: Path | None = None
    annotators: int = 1
    folds: int = 2
    alpha: float = 1.0
    bins: int = 5
    class_names: str = ""
    seed: int = 0


def load_inputs(config: CollabConfig) -> dict:
    """Read and cross-check the machine scores, human votes and labels (one-line errors)."""
    if (config.machine_probs is None) == (config.machine_logits is None):
        raise ConfigError("give exactly one of --machine-probs or --machine-logits", field="machine_probs")
    if config.machine_probs is not None:
        path = Path(config.machine_probs)
        logits = load_class_scores(path, name="machine_probs", probabilities=True)
    else:
        path = Path(config.machine_logits)
        logits = load_class_scores(path, name="machine_logits")
    n, k = logits.shape
    votes_path = required_path(config.human_votes, "human_votes")
    raw = load_array(votes_path, name="human_votes", ndim=(1, 2))
    check_rows("human_votes", len(raw), n, votes_path, str(path))
    votes = as_counts(raw, k, name="human_votes", file=votes_path)
    labels_path = required_path(config.labels, "labels")
    labels = load_labels(labels_path, k, rows=n, reference=str(path))
    names = [s.strip() for s in config.class_names.split(",")] if config.class_names.strip() else None
    if names is not None and len(names) != k:
        raise ConfigError(f"expected {k} comma-separated names, got {len(names)}", field="class_names")
    return {"logits": logits, "votes": votes, "labels": labels, "class_names": names}


def run_analyze(config: CollabConfig, out: Path | None = None, overwrite: bool = False) -> tuple[RunDirectory, dict]:
    """``reliant collab analyze``: error analysis and teams, written to a run directory."""
    check_params(annotators=config.annotators, folds=config.folds, alpha=config.alpha, bins=config.bins)
    inputs = load_inputs(config)
    with run_directory("collab analyze", config, out, overwrite=overwrite,
                       title="reliant collab analyze: human vs machine errors and teams") as run:
        run.log(f"{len(inputs['labels'])} rows, {inputs['logits'].shape[1]} classes; "
                f"human = {config.annotators or 'all'} vote(s) per row")
        result = analyze(inputs["logits"], inputs["votes"], inputs["labels"], annotators=config.annotators,
                         folds=config.folds, alpha=config.alpha, bins=config.bins, seed=config.seed)
        headline = add_to_report(run, result, class_names=inputs["class_names"])
        run.add_headline("machine accuracy", headline["machine_accuracy"])
        run.add_headline("human accuracy", headline["human_accuracy"])
        run.add_headline("best team accuracy", headline["best_team_accuracy"])
        run.add_headline("error consistency κ", headline["error_consistency"])
        run.add_metrics({"headline": headline})
        run.file("teams.json").write_text(json.dumps(result["teams"], indent=2) + "\n")
    return run, result


# --------------------------------------------------------------------------- demo


def demo_stage(run: RunDirectory, seed: int) -> dict:
    """Human vs machine on a synthetic problem whose two sources err on different items and
    classes: error analysis, deferral curve and learned teams."""
    data = synthetic_human_machine(n=3000, votes_per_item=20, seed=seed)
    result = analyze(data["logits"], data["votes"], data["labels"], annotators=1, seed=seed)
    headline = add_to_report(run, result, prefix="Collaboration: ")
    run.add_headline("team vs best single (synthetic)",
                     headline["best_team_accuracy"] - max(headline["machine_accuracy"], headline["human_accuracy"]))
    return {**headline, "source": "synthetic human votes and machine logits (reliant.collaboration.synthetic)"}
