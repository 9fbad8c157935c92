"""Figures, tables and headline numbers of a DROPS comparison, for a run directory.

:func:`add_to_report` writes the tables and figures of one
:func:`~reliant.robustness.compare.compare_methods` result (each figure with a one-line
caption saying what to look for) and returns the headline numbers;
:func:`add_headlines` turns those into report cards, each with its baseline from the same
run and which way is better.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reliant.core.plotting import PALETTE, new_figure
from reliant.core.rundir import RunDirectory
from reliant.robustness.compare import summary_rows
from reliant.robustness.divergences import canonical
from reliant.robustness.drops import DROPS

__all__ = ["add_headlines", "add_setup", "add_to_report", "plot_delta_worst", "plot_dual", "plot_per_group", "plot_summary",
           "plot_validation_profile",
           "plot_weights"]


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


def add_setup(run: RunDirectory, results: dict, prior_source: str, prefix: str = "") -> None:
    """What the numbers rest on: where the prior π came from (and its values), DROPS' radius
    and how it was chosen, the calibration temperature; and the δ-selection scores."""
    drops: DROPS = results["drops"]
    selection = results["delta_selection"]
    prior = np.asarray(results["prior"])
    rows = [
        {"setting": "training prior π", "value": prior_source},
        {"setting": "π (head … tail)", "value": " ".join(f"{p:.4g}" for p in prior[:20]) + (" …" if len(prior) > 20 else "")},
        {"setting": "DROPS radius δ", "value": f"{drops.delta:g} ({canonical(drops.divergence)} ball), "
                                               + ("fixed by --delta" if selection is None else
                                                  f"selected on validation ({selection['folds']}-fold cross-fitting, "
                                                  f"{selection['metric']})")},
        {"setting": "temperature", "value": "none (logits used as given)" if results["temperature"] == 1.0
         else f"{results['temperature']:.4f}, fitted on validation (logits / T for every method)"},
        {"setting": "δ-worst metric radius", "value": f"{results['eval_delta']:g} (KL ball around the target)"},
    ]
    run.add_table(f"{prefix}Setup", rows, caption="Post-hoc rules divide by the training prior π, so it must be the "
                                                   "prior the model was trained under; it is never defaulted to the "
                                                   "validation label frequencies.")
    if selection is not None:
        best = selection["deltas"].index(selection["delta"])
        run.add_table(f"{prefix}δ selection (out-of-fold on validation)",
                      [{"δ": d, f"out-of-fold {selection['metric']} acc": s} for d, s in
                       zip(selection["deltas"], selection["scores"])],
                      caption="Each δ: DROPS fitted on all validation folds but one, predicting the held-out fold; "
                              "the pooled out-of-fold per-class accuracies are scored (higher is better; ties go to "
                              "the smaller δ). The highlighted δ is refitted on all validation rows.",
                      highlight=[best])


def add_to_report(run: RunDirectory, results: dict, prefix: str = "") -> dict:
    """Figures, tables and metrics of :func:`~reliant.robustness.compare.compare_methods` into
    a run directory; returns the headline numbers (DROPS, logit adjustment and no adjustment:
    worst-class, δ-worst and mean accuracy on the evaluation split)."""
    split = "test" if results["evaluated_on"] == "test" else "val"
    drops: DROPS = results["drops"]
    rows = summary_rows(results)
    run.add_table(f"{prefix}Methods on {results['evaluated_on']}", rows,
                  caption="Higher is better in every column; the highlighted row is DROPS. All methods reuse the "
                          "same trained logits and only add per-class offsets fitted on validation. δ-worst "
                          "accuracy: the lowest reweighting of per-class accuracy within a KL ball around the "
                          "target (uniform), computed exactly. Forward / backward test prior: the expected accuracy "
                          "if the test classes were mixed like the training prior π or its reverse (Σ_y q_y acc_y).",
                  highlight=[len(rows) - 1])
    run.add_figure(f"{prefix}δ-worst accuracy", plot_delta_worst(results),
                   caption="the DROPS line above the others near the dotted δ it was fitted for (higher is better; "
                           "δ = 0 is the balanced accuracy, large δ the worst-class accuracy).",
                   save_as="drops_delta_worst.png")
    run.add_figure(f"{prefix}Worst-class and shifted-prior accuracy", plot_summary(results),
                   caption="the worst-class and backward bars, where a robust method should gain (higher is better; "
                           "forward: test classes mixed like the training prior π; backward: like π reversed).")
    names = [n for n in results["methods"] if n in ("no adjustment", "logit adjustment", "DROPS")]
    run.add_figure(f"{prefix}Per-class accuracy", plot_per_group(results, names=names),
                   caption="the small (tail) classes: adjusted methods should raise them at a small cost to the large "
                           "(head) ones.")
    if drops.history_:
        run.add_figure(f"{prefix}Weights g vs prior", plot_weights(drops),
                       caption="g above r on the classes DROPS finds hard (it upweights them); DROPS predicts "
                               "argmax logits + log g − log π.")
        run.add_figure(f"{prefix}Dual variable", plot_dual(drops),
                       caption="a converged game: λ settles and D(g, r) levels off at or below the dotted δ "
                               "(exponentiated-gradient steps on g alternate with projected dual steps on λ).")
    if split == "test":
        run.add_table(f"{prefix}Methods on validation (fitted there)", summary_rows(results, "val"),
                      caption="The same statistics on the validation rows the offsets were fitted on: optimistic; "
                              "a large gap to the test table means a method overfits validation.")
    metrics = {
        name: {s: {k: v for k, v in rep.items()} for s, rep in entry.items()}
        for name, entry in results["methods"].items()
    }
    run.add_metrics({"drops": {
        "methods": metrics, "deltas": results["deltas"], "eval_delta": results["eval_delta"],
        "evaluated_on": results["evaluated_on"], "delta": drops.delta, "delta_selection": results["delta_selection"],
        "temperature": results["temperature"], "prior": results["prior"],
        "weights": drops.weights_.tolist(), "offsets": drops.offsets_.tolist(), "lambda": drops.lambda_,
        "divergence_value": drops.divergence_,
    }})
    d = results["methods"]["DROPS"][split]
    la = results["methods"]["logit adjustment"][split]
    plain = results["methods"]["no adjustment"][split]
    return {
        "drops_delta": drops.delta,
        "drops_worst_accuracy": d["worst_accuracy"],
        "drops_delta_worst_accuracy": d["delta_worst_accuracy"],
        "logit_adjustment_worst_accuracy": la["worst_accuracy"],
        "logit_adjustment_delta_worst_accuracy": la["delta_worst_accuracy"],
        "drops_mean_accuracy": d["mean_accuracy"],
        "logit_adjustment_mean_accuracy": la["mean_accuracy"],
        "no_adjustment_worst_accuracy": plain["worst_accuracy"],
        "no_adjustment_delta_worst_accuracy": plain["delta_worst_accuracy"],
        "no_adjustment_mean_accuracy": plain["mean_accuracy"],
    }


def add_headlines(run: RunDirectory, headline: dict, eval_delta: float, group_prefix: str = "",
                  stats: Sequence[str] = ("worst_accuracy", "delta_worst_accuracy", "mean_accuracy")) -> None:
    """Report cards: DROPS against logit adjustment, and logit adjustment against the plain
    classifier, on worst-class, δ-worst and mean accuracy (higher is better)."""
    labels = {"worst_accuracy": "worst-class acc", "delta_worst_accuracy": f"δ-worst acc (δ={eval_delta:g})",
              "mean_accuracy": "mean acc"}
    stats = [(key, labels[key]) for key in stats]
    chain = [("drops", f"DROPS (δ = {headline['drops_delta']:g})", "logit_adjustment", "logit adj."),
             ("logit_adjustment", "logit adjustment", "no_adjustment", "no adjustment")]
    for method, group, baseline, baseline_label in chain:
        for key, label in stats:
            run.add_headline(label, headline[f"{method}_{key}"], group=f"{group_prefix}{group}",
                             baseline=headline[f"{baseline}_{key}"], baseline_label=baseline_label, better="higher")


def plot_validation_profile(counts: np.ndarray, ratio: float):
    """Validation rows per class (log scale) of a simulated long-tailed split."""
    fig, ax = new_figure()
    ax.bar(np.arange(len(counts)), counts, color=PALETTE[0])
    ax.set_yscale("log")
    ax.set_xlabel("class")
    ax.set_ylabel("validation rows")
    ax.set_title(f"Long-tailed validation (imbalance ratio {ratio:g})")
    return fig
