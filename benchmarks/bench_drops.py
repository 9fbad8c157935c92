"""Benchmark DROPS against the plain classifier and post-hoc baselines on long-tailed CIFAR-10,
and measure the choices behind ``reliant robust drops``' defaults.

For each setting and seed, the cross-validated cleanlab CIFAR-10 test-set probabilities are
turned into a simulated long-tailed model (label-shift Bayes rule, see
``reliant.robustness.longtail.longtail_split``): a validation half (long-tailed like training,
or balanced as in the paper) where every post-hoc method is fitted, and a balanced test half
where it is scored. With --synthetic also a logistic regression really trained on a ratio-100
long tail. Methods in the same run:

* logit adjustment and DROPS with the prior **estimated from the validation labels** (the old
  silent default of ``--prior``) and with the true training prior;
* DROPS at fixed radii (0.1; 0.2, the reference code's default; 0.5, reliant's old default);
* DROPS with δ **selected on validation** (class-stratified 5-fold cross-fitting, δ-worst
  accuracy at 0.5, ``reliant.robustness.selection.select_delta``), without and with
  temperature calibration (the reference code's ``cal_type=temp``).

Reported on test: mean accuracy, worst-class accuracy, δ-worst accuracy (KL ball around
uniform) at 0.1 / 0.5 / 1, accuracy under the forward / backward long-tailed test priors, and
the chosen δ. Writes drops.json and drops.png.

    python benchmarks/bench_drops.py --seeds 0,1,2 --out benchmarks/results/drops
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from reliant.core.plotting import PALETTE, figure_png, new_figure
from reliant.robustness.api import (
    DROPS,
    LogitAdjustment,
    NoAdjustment,
    accuracy_report,
    delta_worst_accuracy,
    longtail_split,
    select_delta,
    synthetic_longtail,
    temperature_calibrate,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cleanlab_cifar10"
EVAL_DELTAS = (0.1, 0.5, 1.0)
FIXED_DELTAS = (0.1, 0.2, 0.5)
GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with the cleanlab CIFAR-10 arrays")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--steps", type=int, default=400, help="DROPS iterations")
    parser.add_argument("--folds", type=int, default=5, help="cross-fitting folds of the δ selection")
    parser.add_argument("--synthetic", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the synthetic problem (a logistic regression really trained on a ratio-100 "
                             "long tail, reliant.robustness.longtail.synthetic_longtail)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/drops"))
    return parser.parse_args(argv)


def evaluate(pred: np.ndarray, labels: np.ndarray, prior: np.ndarray) -> dict:
    rep = accuracy_report(pred, labels, delta=0.5, test_priors={"forward": prior, "backward": prior[::-1].copy()})
    acc = np.asarray(rep["per_group_accuracy"])
    out = {"mean": rep["mean_accuracy"], "worst": rep["worst_accuracy"],
           "forward": rep["shifted_prior_accuracy"]["forward"], "backward": rep["shifted_prior_accuracy"]["backward"]}
    for d in EVAL_DELTAS:
        out[f"delta_worst_{d:g}"] = delta_worst_accuracy(acc, d)
    return out


def methods_for(split, seed: int, steps: int, folds: int) -> list[tuple[str, object, np.ndarray, float | None]]:
    """(name, fitted model, test logits it predicts on, delta) for every method of one split."""
    val, y, test, prior = split.val_logits, split.val_labels, split.test_logits, split.prior
    val_freq = np.bincount(y, minlength=val.shape[1]) / len(y)
    out = [("no adjustment", NoAdjustment().fit(val, y), test, None),
           ("logit adjustment, validation frequencies (old default)", LogitAdjustment(prior=val_freq).fit(val, y),
            test, None),
           ("logit adjustment, training prior", LogitAdjustment(prior=prior).fit(val, y), test, None),
           ("DROPS δ=0.5, validation frequencies (old default)",
            DROPS(delta=0.5, prior=val_freq, steps=steps).fit(val, y), test, 0.5)]
    for d in FIXED_DELTAS:
        out.append((f"DROPS δ={d:g}", DROPS(delta=d, prior=prior, steps=steps).fit(val, y), test, d))
    for calibrate in (False, True):
        temperature = temperature_calibrate(val, y) if calibrate else 1.0
        v, t = val / temperature, test / temperature
        chosen = select_delta(v, y, deltas=GRID, folds=folds, eval_delta=0.5, seed=seed, prior=prior,
                              steps=steps)["delta"]
        name = "DROPS, δ selected on validation" + (" + temperature" if calibrate else "")
        out.append((name, DROPS(delta=chosen, prior=prior, steps=steps).fit(v, y), t, chosen))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    probs_file = args.data / "cifar10_test_set_pyx.npy"
    labels_file = args.data / "cifar10_test_set_original_labels.npy"
    if not probs_file.exists():
        print(f"missing {probs_file}", file=sys.stderr)
        return 1
    probs, labels = np.load(probs_file), np.load(labels_file).astype(np.int64)
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = [("cifar10_ratio_10_longtail_val", 10.0, "longtail"), ("cifar10_ratio_100_longtail_val", 100.0, "longtail"),
                ("cifar10_ratio_100_balanced_val", 100.0, "balanced")]
    if args.synthetic:
        settings.append(("synthetic_ratio_100", 100.0, "longtail"))
    runs: list[dict] = []
    start = time.perf_counter()
    for setting, ratio, profile in settings:
        for seed in seeds:
            if setting.startswith("cifar10"):
                split = longtail_split(probs, labels, ratio=ratio, seed=seed, val_profile=profile)
            else:
                split = synthetic_longtail(ratio=ratio, seed=seed)
            for name, model, test_logits, delta in methods_for(split, seed, args.steps, args.folds):
                runs.append({"setting": setting, "seed": seed, "method": name, "delta": delta,
                             **evaluate(model.predict(test_logits), split.test_labels, split.prior)})
            print(f"{setting} seed {seed}: done ({time.perf_counter() - start:.0f} s)", flush=True)
    metrics = ["mean", "worst", "forward", "backward"] + [f"delta_worst_{d:g}" for d in EVAL_DELTAS]
    methods = list(dict.fromkeys(r["method"] for r in runs))
    summary = {}
    for key, _, _ in settings:
        summary[key] = {}
        base = {m: np.array([r[m] for r in runs if r["setting"] == key and r["method"] == "logit adjustment, training prior"])
                for m in metrics}
        for method in methods:
            rows = [r for r in runs if r["setting"] == key and r["method"] == method]
            entry = {"deltas": [r["delta"] for r in rows]}
            for m in metrics:
                values = np.array([r[m] for r in rows])
                entry[m] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                            "wins_vs_logit_adjustment": int(np.sum(values > base[m] + 1e-12)),
                            "ties": int(np.sum(np.abs(values - base[m]) <= 1e-12))}
            summary[key][method] = entry
    result = {
        "benchmark": "DROPS vs post-hoc baselines on simulated long-tailed CIFAR-10 (cleanlab probabilities): "
                     "prior source, fixed vs selected δ, temperature calibration",
        "command": "python benchmarks/bench_drops.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": [k for k, _, _ in settings], "seeds": seeds, "grid": list(GRID), "steps": args.steps,
        "folds": args.folds, "seconds": round(time.perf_counter() - start, 1), "python": platform.python_version(),
        "summary": summary, "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drops.json").write_text(json.dumps(result, indent=2) + "\n")

    fig, axes = new_figure(5.4 * len(settings), 4.2, ncols=len(settings))
    axes = np.atleast_1d(axes)
    shown = ["mean", "worst", "delta_worst_0.5", "delta_worst_1"]
    for ax, (key, ratio, profile) in zip(axes, settings):
        width = 0.8 / len(methods)
        for i, method in enumerate(methods):
            entry = summary[key][method]
            ax.bar(np.arange(len(shown)) + (i - (len(methods) - 1) / 2) * width, [entry[m]["mean"] for m in shown],
                   width, yerr=[entry[m]["std"] for m in shown], label=method, color=PALETTE[i % len(PALETTE)],
                   hatch="//" if i >= len(PALETTE) else None)
        ax.set_xticks(np.arange(len(shown)))
        ax.set_xticklabels(["mean acc", "worst-class", "δ-worst (0.5)", "δ-worst (1)"])
        lows = [summary[key][m][k]["mean"] for m in methods for k in shown]
        ax.set_ylim(max(0.0, min(lows) - 0.03), 1.0)
        source = "CIFAR-10 (simulated)" if key.startswith("cifar10") else "synthetic (trained)"
        ax.set_title(f"{source}, ratio {ratio:g}, {profile} validation ({len(seeds)} seeds)", fontsize=9)
    axes[0].set_ylabel("test accuracy")
    axes[-1].legend(fontsize=6)
    (args.out / "drops.png").write_bytes(figure_png(fig))
    for key, table in summary.items():
        print(key)
        for method, entry in table.items():
            print(f"  {method:58s} " + "  ".join(f"{m} {entry[m]['mean']:.4f}±{entry[m]['std']:.4f}" for m in metrics)
                  + f"  δ {entry['deltas']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
