"""Figures, tables and headline cards of a human-vs-machine analysis, for a run directory.

:func:`add_to_report` writes the tables and figures of one
:func:`~reliant.collaboration.analysis.analyze` result, each figure with a one-line caption
saying what to look for, and returns the headline numbers; :func:`add_headlines` turns them
into report cards, each team against the machine alone and the human alone (higher is
better), and the overlap of the two sources' mistakes against independent errors.
"""

from __future__ import annotations

import numpy as np

from reliant.core.plotting import PALETTE, new_figure
from reliant.core.rundir import RunDirectory

__all__ = ["add_headlines", "add_to_report", "plot_confusions", "plot_curves", "plot_difficulty", "plot_overlap",
           "plot_per_class_error"]

DIFFICULTY = {
    "by_machine_confidence": (
        "Accuracy by machine confidence", "machine-confidence bin (1 = least confident)",
        "bins where the human line lies above the machine line: those rows (bin 1 = the machine's least sure) "
        "are worth deferring to the human; to the right the machine should win.",
    ),
    "by_human_agreement": (
        "Accuracy by human agreement", "human-agreement bin (1 = most disputed)",
        "the gap on the left (bin 1 = the rows annotators disputed most): a machine that stays accurate where "
        "humans disagree errs on different rows, so a team can beat both; if both lines fall together, those "
        "rows are hard for everyone and no team will fix them. Bins are quantile intervals, so tied scores share a "
        "bin: with many unanimous images there are fewer bins than asked, never one group split by row order.",
    ),
}



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


def plot_difficulty(result: dict, key: str = "by_machine_confidence"):
    """Accuracy of the human and the machine per quantile bin of one difficulty score."""
    title, xlabel, _ = DIFFICULTY[key]
    bins = result["difficulty"][key]
    fig, ax = new_figure(5.4, 3.4)
    x = [b["bin"] for b in bins]
    ax.plot(x, [b["human"] for b in bins], marker="o", label="human", color=PALETTE[1])
    ax.plot(x, [b["machine"] for b in bins], marker="s", label="machine", color=PALETTE[0])
    ax.set_xticks(x)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend()
    return fig


def plot_curves(result: dict):
    """Accuracy against the share of rows a human answers (least confident first)."""
    curves = result["curves"]
    f = np.asarray(curves["fractions"])
    fig, ax = new_figure(6.4, 3.8)
    for i, (name, curve) in enumerate(curves.get("by_method", {}).items()):
        ax.plot(f, curve, marker="o", ms=2.5, lw=1.2, color=PALETTE[(4 + i) % len(PALETTE)],
                label=f"defer by {result['deferral'][name]['label']}")
        entry = result["deferral"][name]
        ax.scatter([entry["deferred"]], [entry["accuracy"]], color=PALETTE[(4 + i) % len(PALETTE)], edgecolor="black",
                   zorder=5, s=40)
    ax.plot(f, curves["consult_and_combine"], marker="s", ms=3, label=f"consult: {curves['combiner_used']}",
            color=PALETTE[2])
    ax.axhline(result["machine"]["accuracy"], color=PALETTE[0], ls="--", lw=1, label="machine alone")
    ax.axhline(result["human"]["accuracy"], color=PALETTE[3], ls=":", lw=1, label="human alone")
    ax.set_xlabel("share of rows deferred to / consulted with the human")
    ax.set_ylabel("accuracy")
    ax.set_title("Collaboration accuracy vs deferral rate (dots: cross-fitted rules)")
    ax.legend(fontsize=7)
    return fig


def add_to_report(run: RunDirectory, result: dict, prefix: str = "", class_names: list[str] | None = None) -> dict:
    """Tables, figures and metrics of :func:`~reliant.collaboration.analysis.analyze` into a
    run directory; returns the headline numbers."""
    run.add_table(f"{prefix}Teams (out-of-fold)", result["teams"],
                  caption="Higher accuracy is better; compare every team with the first two rows (machine alone, "
                          "human alone). Every team is fitted on the other folds and scored on rows it did not see. "
                          "The oracle picks whichever of the two answers is right: the ceiling of deferral, not a "
                          "method (a combination can exceed it by choosing a class neither source chose).",
                  highlight=[i for i, row in enumerate(result["teams"][2:-1], start=2)
                             if row["accuracy"] == result["best_team_accuracy"]])
    run.add_table(f"{prefix}Deferral rules, cross-fitted (per part)", [
        {"rule": entry["label"], "team accuracy": entry["accuracy"], "deferred": entry["deferred"],
         "machine acc on kept rows": entry["machine accuracy on kept rows"],
         "human acc on deferred rows": entry["human accuracy on deferred rows"]}
        for entry in result["deferral"].values()],
        caption="Each rule is fitted on the other folds and decides the held-out fold before seeing the human's "
                "answer. A good rule keeps the rows the machine gets right (high machine accuracy on kept rows) and "
                "hands over rows the human gets right (high human accuracy on deferred rows)"
                + ("" if result.get("budget") is None else f"; at most about {result['budget']:.0%} of rows deferred")
                + ".")
    if result.get("ai_ai") is not None:
        ai = result["ai_ai"]
        run.add_table(f"{prefix}AI-AI teams (machine A with machine B)", ai["teams"],
                      caption=f"The same deferral rules with a second machine in the human's place (cross-fitted), "
                              f"plus parameter-free combinations. Best AI-AI team {ai['best_team_accuracy']:.4f} vs "
                              f"best human-AI team {result['best_team_accuracy']:.4f}; error consistency of the two "
                              f"machines {ai['error_consistency']:.3f} (human vs machine: "
                              f"{result['comparison']['error_consistency']:.3f}).")
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
    ], caption="Low error consistency, 'both wrong' below its independent value and a low off-diagonal correlation "
               "all say the two sources make different mistakes, which is what a team needs.")
    run.add_figure(f"{prefix}Accuracy vs deferral rate", plot_curves(result), save_as="collab_coverage.png",
                   caption="the dots (each rule's cross-fitted decision) above both flat lines (machine alone, human "
                           "alone): that team beats both. The curves rank rows by each rule's out-of-fold score; "
                           "their peak picks the share on the scored rows themselves, so it is optimistic.")
    run.add_figure(f"{prefix}Confusion matrices", plot_confusions(result, class_names), save_as="collab_confusions.png",
                   caption="cells bright in one panel only (bright = a frequent confusion): mistakes one source "
                           "makes and the other does not.")
    run.add_figure(f"{prefix}Per-class error", plot_per_class_error(result, class_names),
                   caption="classes where one bar is much taller (lower is better): there the other source should "
                           "be trusted.")
    run.add_figure(f"{prefix}Error overlap", plot_overlap(result), save_as="collab_overlap.png",
                   caption="the 'both wrong' pair: observed below the independent bar means the mistakes fall on "
                           "different rows, so combining the two can beat both; above it, they share hard rows.")
    for key, (title, _, caption) in DIFFICULTY.items():
        if key in result["difficulty"]:
            run.add_figure(f"{prefix}{title}", plot_difficulty(result, key), caption=caption)
    run.add_table(f"{prefix}Hardest rows (least confident machine, then most disputed humans)", result["hardest_rows"],
                  caption="Worth a look by hand: rows here are often ambiguous or mislabelled.")
    run.add_metrics({"collab": {key: value for key, value in result.items() if key != "hardest_rows"}})
    machine_acc, human_acc = result["machine"]["accuracy"], result["human"]["accuracy"]
    best = result["deferral"][result["best_deferral_method"]]
    return {
        "machine_accuracy": machine_acc,
        "human_accuracy": human_acc,
        "best_team_accuracy": result["best_team_accuracy"],
        "team_beats_both": result["team_beats_both"],
        "deferral_method": result["best_deferral_method"],
        "deferral_label": best["label"],
        "deferral_accuracy": best["accuracy"],
        "deferral_human_consulted": best["deferred"],
        "deferral_by_method": {name: entry["accuracy"] for name, entry in result["deferral"].items()},
        "ai_ai_best_team_accuracy": None if result.get("ai_ai") is None else result["ai_ai"]["best_team_accuracy"],
        "error_consistency": c["error_consistency"],
        "both_wrong": c["overlap_both_wrong"],
        "both_wrong_if_independent": c["overlap_both_wrong_if_independent"],
        "oracle_accuracy": c["oracle_accuracy"],
    }


def add_headlines(run: RunDirectory, headline: dict, group_prefix: str = "") -> None:
    """Report cards: the best team and the deferral team against the machine alone and the
    human alone (higher is better), and how often both are wrong against independent errors
    (lower is better for a team)."""
    teams = f"{group_prefix}teams (out of fold)"
    machine, human = headline["machine_accuracy"], headline["human_accuracy"]
    run.add_headline("best team acc vs machine", headline["best_team_accuracy"], group=teams, baseline=machine,
                     baseline_label="machine alone", better="higher")
    run.add_headline("best team acc vs human", headline["best_team_accuracy"], group=teams, baseline=human,
                     baseline_label="human alone", better="higher")
    deferral = f"{group_prefix}deferral, cross-fitted"
    for name, accuracy in headline["deferral_by_method"].items():
        run.add_headline(f"{name} acc", accuracy, group=deferral, baseline=machine, baseline_label="machine alone",
                         better="higher")
    if headline.get("ai_ai_best_team_accuracy") is not None:
        run.add_headline("best AI-AI team acc", headline["ai_ai_best_team_accuracy"], group=teams,
                         baseline=headline["best_team_accuracy"], baseline_label="best human-AI team", better="higher")
    mistakes = f"{group_prefix}how the mistakes differ"
    run.add_headline("both wrong (share of rows)", headline["both_wrong"], group=mistakes,
                     baseline=headline["both_wrong_if_independent"], baseline_label="if independent", better="lower")
    run.add_headline("error consistency κ", headline["error_consistency"], group=mistakes, baseline=0.0,
                     baseline_label="independent errors")
