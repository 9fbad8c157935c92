"""Benchmark human-machine teams on CIFAR-10: CIFAR-10H human votes + cleanlab machine probabilities.

For each number of annotators ("the human" is that many votes drawn per image from the ~51
CIFAR-10H votes, answered by plurality) and each seed, runs
``reliant.collaboration.api.analyze`` (2-fold cross-fitting: every team is scored on images
it was not fitted on) and records machine alone, human alone, every registered deferral rule
(cross-fitted, with its per-part metrics; and again under each human-effort budget), the two
learned combinations and the oracle, the in-sample maximum of the deferral curve (the old
headline) next to the cross-fitted numbers, plus the error statistics. It also records the
"accuracy by human agreement" bins as the old code cut them (equal row counts in row order,
splitting tied scores) and as they are cut now (mid-rank quantiles, ties kept together). The
baseline of the ratios is the better single source measured in the same run. Writes
collab.json and collab.png.

    python benchmarks/bench_collab.py --annotators 1,3 --seeds 0,1,2 --budgets 0.1,0.2,0.3 --out benchmarks/results/collab

CIFAR-10H is CC BY-NC-SA 4.0: read from ../shared/data, never shipped with reliant.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from reliant.collaboration.api import agreement, analyze, difficulty_bins
from reliant.core.plotting import PALETTE, figure_png, new_figure

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--annotators", default="1,3", help="comma-separated votes per image forming 'the human'")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--budgets", default="0.1,0.2,0.3", help="comma-separated human-effort budgets (shares)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/collab"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    probs_file = args.data / "cleanlab_cifar10" / "cifar10_test_set_pyx.npy"
    labels_file = args.data / "cleanlab_cifar10" / "cifar10_test_set_original_labels.npy"
    votes_file = args.data / "cifar10h" / "cifar10h-counts.npy"
    for file in (probs_file, labels_file, votes_file):
        if not file.exists():
            print(f"missing {file}", file=sys.stderr)
            return 1
    logits = np.log(np.clip(np.load(probs_file), 1e-12, None))
    labels = np.load(labels_file).astype(np.int64)
    votes = np.load(votes_file)
    annotators = [int(a) for a in args.annotators.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    budgets = [float(b) for b in args.budgets.split(",")] if args.budgets else []
    start = time.perf_counter()
    runs = []
    example = None
    for k in annotators:
        for seed in seeds:
            result = analyze(logits, votes, labels, annotators=k, seed=seed)
            if example is None:
                example = result
            row = {"annotators": k, "seed": seed,
                   **{team["team"].split(" (")[0] if team["team"].startswith("human alone") else team["team"]:
                      team["accuracy"] for team in result["teams"]},
                   **{f"defer {name}: {part}": value for name, entry in result["deferral"].items()
                      for part, value in entry.items() if part not in ("label", "thresholds")},
                   "deferral curve maximum (in-sample, old headline)": result["best_curve_accuracy"],
                   "error_consistency": result["comparison"]["error_consistency"],
                   "cohen_kappa": result["comparison"]["cohen_kappa"],
                   "both_wrong": result["comparison"]["overlap_both_wrong"],
                   "both_wrong_if_independent": result["comparison"]["overlap_both_wrong_if_independent"],
                   "offdiag_correlation": result["comparison"]["offdiag_correlation"],
                   "chi2_p_value": result["comparison"]["chi2_p_value"],
                   "team_beats_both": result["team_beats_both"],
                   "best_team": result["best_team_accuracy"]}
            for b in budgets:
                capped = analyze(logits, votes, labels, annotators=k, seed=seed, budget=b)
                row.update({f"budget {b:g}, defer {name}: {part}": value for name, entry in capped["deferral"].items()
                            for part, value in entry.items() if part in ("accuracy", "deferred")})
            runs.append(row)
            print(f"annotators {k} seed {seed}: machine {row['machine alone']:.4f} human {row['human alone']:.4f} "
                  f"best team {row['best_team']:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
    numeric = [key for key in runs[0] if key not in ("annotators", "seed", "team_beats_both")]
    summary = {}
    for k in annotators:
        rows = [r for r in runs if r["annotators"] == k]
        best_single = np.array([max(r["machine alone"], r["human alone"]) for r in rows])
        summary[f"annotators_{k}"] = {
            key: {"mean": float(np.mean([r[key] for r in rows])), "std": float(np.std([r[key] for r in rows], ddof=1))
                  if len(rows) > 1 else 0.0}
            for key in numeric
        }
        summary[f"annotators_{k}"]["team_beats_both_seeds"] = int(sum(r["team_beats_both"] for r in rows))
        summary[f"annotators_{k}"]["best_team_ratio_vs_best_single"] = float(
            np.mean([r["best_team"] for r in rows]) / best_single.mean())
    # "accuracy by human agreement": the old bins (np.array_split of the sorted rows) vs the new ones
    human_agreement = agreement(votes)
    correct = {"machine": np.argmax(logits, axis=1) == labels}
    order = np.argsort(human_agreement, kind="stable")
    old_bins = [{"bin": i + 1, "rows": len(part), "score from": float(human_agreement[part].min()),
                 "score to": float(human_agreement[part].max()),
                 "machine": float(np.mean(correct["machine"][part]))} for i, part in enumerate(np.array_split(order, 5))]
    bins = {"old_array_split": old_bins, "new_tie_aware": difficulty_bins(human_agreement, correct, 5),
            "unanimous_share": float(np.mean(human_agreement == 1.0))}
    result = {
        "benchmark": "human-machine teams on CIFAR-10 (CIFAR-10H votes, cleanlab cross-validated probabilities)",
        "command": "python benchmarks/bench_collab.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "annotators": annotators, "seeds": seeds, "budgets": budgets, "agreement_bins": bins, "seconds": round(time.perf_counter() - start, 1),
        "python": platform.python_version(), "summary": summary, "runs": runs,
        "curves_seed0_annotators_first": example["curves"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "collab.json").write_text(json.dumps(result, indent=2) + "\n")

    fig, axes = new_figure(11.0, 3.8, ncols=2)
    teams = ["machine alone", "human alone", "defer: defer below a confidence threshold",
             "defer: compare confidence (human model vs machine)", "defer: learned rejector (realizable surrogate)",
             "combine: confusion matrix (Bayes)", "combine: learned log-linear"]
    short = ["machine", "human", "confidence\nthreshold", "compare\nconfidence", "realizable\nsurrogate",
             "Bayes\ncombination", "log-linear\ncombination"]
    width = 0.8 / len(annotators)
    for i, k in enumerate(annotators):
        s = summary[f"annotators_{k}"]
        axes[0].bar(np.arange(len(teams)) + (i - (len(annotators) - 1) / 2) * width, [s[t]["mean"] for t in teams],
                    width, yerr=[s[t]["std"] for t in teams], label=f"human = {k} vote{'s' if k > 1 else ''}",
                    color=PALETTE[i])
    axes[0].set_xticks(np.arange(len(teams)))
    axes[0].set_xticklabels(short, fontsize=8)
    axes[0].set_ylim(0.9, 1.0)
    axes[0].set_ylabel("accuracy (out of fold)")
    axes[0].set_title(f"CIFAR-10 teams ({len(seeds)} seeds)")
    axes[0].legend(fontsize=8)
    curves = example["curves"]
    for i, (name, curve) in enumerate(curves["by_method"].items()):
        axes[1].plot(curves["fractions"], curve, marker="o", ms=2.5, label=f"defer by {name} (ranked out of fold)",
                     color=PALETTE[(4 + i) % len(PALETTE)])
        entry = example["deferral"][name]
        axes[1].scatter([entry["deferred"]], [entry["accuracy"]], color=PALETTE[(4 + i) % len(PALETTE)],
                        edgecolor="black", zorder=5)
    axes[1].plot(curves["fractions"], curves["consult_and_combine"], marker="s", ms=3,
                 label=f"consult: {curves['combiner_used']}", color=PALETTE[2])
    axes[1].set_xlabel("share of images given to the human (least confident first)")
    axes[1].set_ylabel("accuracy")
    axes[1].set_title(f"Accuracy vs deferral rate (human = {annotators[0]} vote, seed {seeds[0]})")
    axes[1].legend(fontsize=8)
    (args.out / "collab.png").write_bytes(figure_png(fig))
    for key, table in summary.items():
        print(key, {name: (round(v["mean"], 4), round(v["std"], 4)) if isinstance(v, dict) else v
                    for name, v in table.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
