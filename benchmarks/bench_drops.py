"""Benchmark DROPS against the plain classifier and post-hoc baselines on long-tailed CIFAR-10.

For each imbalance ratio and seed (and, with --synthetic, on a logistic regression really
trained on a ratio-100 long tail), the cross-validated cleanlab CIFAR-10 test-set
probabilities are turned into a simulated long-tailed model (label-shift Bayes rule, see
``reliant.robustness.longtail.longtail_split``): a long-tailed validation half (where every
post-hoc method is fitted) and a balanced test half (where it is scored). Reported on test:
mean (= balanced) accuracy, worst-class accuracy, delta-worst accuracy (KL ball around
uniform) at several delta, and the accuracy under the forward (training-like) and backward
(reversed) long-tailed test priors. Ratios are against logit adjustment measured in the same
run. Writes drops.json and drops.png.

    python benchmarks/bench_drops.py --ratios 10,100 --seeds 0,1,2,3,4 --out benchmarks/results/drops
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
    accuracy_report,
    delta_worst_accuracy,
    longtail_split,
    make_baselines,
    synthetic_longtail,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cleanlab_cifar10"
EVAL_DELTAS = (0.1, 0.5, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with the cleanlab CIFAR-10 arrays")
    parser.add_argument("--ratios", default="10,100", help="comma-separated imbalance ratios")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--drops-deltas", default="0.1,0.5,1.0", help="KL radii DROPS is fitted with")
    parser.add_argument("--steps", type=int, default=400, help="DROPS iterations")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    probs_file = args.data / "cifar10_test_set_pyx.npy"
    labels_file = args.data / "cifar10_test_set_original_labels.npy"
    if not probs_file.exists():
        print(f"missing {probs_file}", file=sys.stderr)
        return 1
    probs, labels = np.load(probs_file), np.load(labels_file).astype(np.int64)
    ratios = [float(r) for r in args.ratios.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    drops_deltas = [float(d) for d in args.drops_deltas.split(",")]
    runs: list[dict] = []
    start = time.perf_counter()
    settings = [(f"cifar10_ratio_{r:g}", r) for r in ratios] + ([("synthetic_ratio_100", 100.0)] if args.synthetic else [])
    for setting, ratio in settings:
        for seed in seeds:
            if setting.startswith("cifar10"):
                split = longtail_split(probs, labels, ratio=ratio, seed=seed)
            else:
                split = synthetic_longtail(ratio=ratio, seed=seed)
            models = make_baselines(prior=split.prior)
            models += [DROPS(delta=d, prior=split.prior, steps=args.steps) for d in drops_deltas]
            for model in models:
                model.fit(split.val_logits, split.val_labels)
                name = model.name if not isinstance(model, DROPS) else f"DROPS (δ={model.delta:g})"
                runs.append({"setting": setting, "seed": seed, "method": name,
                             **evaluate(model.predict(split.test_logits), split.test_labels, split.prior)})
            print(f"{setting} seed {seed}: done ({time.perf_counter() - start:.0f} s)", flush=True)
    metrics = ["mean", "worst", "forward", "backward"] + [f"delta_worst_{d:g}" for d in EVAL_DELTAS]
    methods = list(dict.fromkeys(r["method"] for r in runs))
    summary = {}
    for key, _ in settings:
        summary[key] = {}
        base = {m: np.array([r[m] for r in runs if r["setting"] == key and r["method"] == "logit adjustment"])
                for m in metrics}
        for method in methods:
            rows = [r for r in runs if r["setting"] == key and r["method"] == method]
            entry = {}
            for m in metrics:
                values = np.array([r[m] for r in rows])
                entry[m] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                            "ratio_vs_logit_adjustment": float(values.mean() / base[m].mean()),
                            "wins_vs_logit_adjustment": int(np.sum(values > base[m] + 1e-12)),
                            "ties": int(np.sum(np.abs(values - base[m]) <= 1e-12))}
            summary[key][method] = entry
    result = {
        "benchmark": "DROPS vs post-hoc baselines on simulated long-tailed CIFAR-10 (cleanlab probabilities)",
        "command": "python benchmarks/bench_drops.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": [k for k, _ in settings], "seeds": seeds, "drops_deltas": drops_deltas, "steps": args.steps,
        "seconds": round(time.perf_counter() - start, 1), "python": platform.python_version(),
        "summary": summary, "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drops.json").write_text(json.dumps(result, indent=2) + "\n")

    fig, axes = new_figure(5.2 * len(settings), 3.8, ncols=len(settings))
    axes = np.atleast_1d(axes)
    shown = ["mean", "worst", "backward", "delta_worst_0.5"]
    for ax, (key, ratio) in zip(axes, settings):
        width = 0.8 / len(methods)
        for i, method in enumerate(methods):
            entry = summary[key][method]
            ax.bar(np.arange(len(shown)) + (i - (len(methods) - 1) / 2) * width, [entry[m]["mean"] for m in shown],
                   width, yerr=[entry[m]["std"] for m in shown], label=method, color=PALETTE[i % len(PALETTE)])
        ax.set_xticks(np.arange(len(shown)))
        ax.set_xticklabels(["mean acc", "worst-class", "backward-LT", "δ-worst (0.5)"])
        lows = [summary[key][m][k]["mean"] for m in methods for k in shown]
        ax.set_ylim(max(0.0, min(lows) - 0.05), 1.0)
        source = "CIFAR-10 (simulated)" if key.startswith("cifar10") else "synthetic (trained)"
        ax.set_title(f"{source}, imbalance ratio {ratio:g} ({len(seeds)} seeds)", fontsize=9)
    axes[0].set_ylabel("test accuracy")
    axes[-1].legend(fontsize=7)
    (args.out / "drops.png").write_bytes(figure_png(fig))
    for key, table in summary.items():
        print(key)
        for method, entry in table.items():
            print(f"  {method:30s} " + "  ".join(f"{m} {entry[m]['mean']:.4f}±{entry[m]['std']:.4f}" for m in metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
