"""DS2 end to end on a real pool: the 9k Alpaca pool embedded, rated by an LLM, curated, selected.

The pool is ``alpaca_random_9k.json`` (9,229 random Stanford Alpaca samples, AlpaGasus's
release); the four records with an empty field are dropped (``--empty-fields drop``). Steps,
each the ``reliant`` command a user runs, timed:

1. ``reliant curate rate``: every record rated by ``--rater`` (default SmolLM2-135M-Instruct,
   ``--rating-mode likelihood``: its most probable overall rating after the reply is begun with
   DS2's ``"Overall rating":`` key; SmolLM2 does not write DS2's JSON reliably, see
   docs/results/curation.md);
2. ``reliant curate select`` at each ``--budgets`` (the MiniLM embedding of the pool is made by
   the first and cached for the others): DS2 curation and the random, AlpaGasus-style and
   DEITA-style selections of the same run.

What the selections are worth is read against a stronger rater's judgement of the same
records: AlpaGasus's ``alpaca_claude_t45.json`` holds the 5,305 of the 52,002 Alpaca samples
Claude rated >= 4.5 of 5, and the 9k pool is a random sample of the same 52,002 (935 of its
records, 10.1 %, are in the Claude set: the same share as 5,305 / 52,002). Reported: the share
of each selection Claude approved, against the pool's base rate and against the random
selection of the same run; and the AUROC of the rater's raw rating, its probability-weighted
rating and the DS2-curated score for Claude's approval.

Writes ``ds2_alpaca9k.json`` and ``ds2_alpaca9k.png`` to ``--out``.

    OMP_NUM_THREADS=2 python benchmarks/bench_ds2_alpaca9k.py                   # ~40 min on 2 cores
    python benchmarks/bench_ds2_alpaca9k.py --rate-run runs/rate9k              # reuse a rating
    python benchmarks/bench_ds2_alpaca9k.py --rater 'smollm2?device=cuda&batch_size=64'
    python benchmarks/bench_ds2_alpaca9k.py --rater 'openai:llama3@http://127.0.0.1:8000/v1' \\
        --rating-mode generate                                                  # DS2's own way
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import read_jsonl, reliant  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTIONS = ROOT.parent / "shared" / "data" / "instructions"


def record_key(record: dict) -> tuple[str, str, str]:
    return (str(record.get("instruction", "")).strip(), str(record.get("input", "") or "").strip(),
            str(record.get("output", "")).strip())


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=Path, default=INSTRUCTIONS / "alpaca_random_9k.json")
    parser.add_argument("--reference", type=Path, default=INSTRUCTIONS / "alpaca_claude_t45.json",
                        help="records a stronger rater approved (Alpaca format)")
    parser.add_argument("--rater", default="smollm2?batch_size=8")
    parser.add_argument("--rating-mode", default="likelihood", choices=("likelihood", "generate"))
    parser.add_argument("--budgets", default="300,1000")
    parser.add_argument("--rate-run", type=Path, help="an existing `curate rate` run folder of the same pool")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_ds2_alpaca9k"),
                        help="where the run folders go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/ds2_alpaca9k")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}

    rate_run = args.rate_run
    if rate_run is None:
        rate_run = args.work / "rate"
        times["rate_s"] = reliant("curate", "rate", "--pool", str(args.pool), "--rater", args.rater,
                                  "--rating-mode", args.rating_mode, "--empty-fields", "drop",
                                  "--seed", str(args.seed), "--out", str(rate_run))
    select_runs = {}
    for budget in budgets:
        select_runs[budget] = args.work / f"select{budget}"
        times[f"select_{budget}_s"] = reliant(
            "curate", "select", "--pool", str(args.pool), "--scores", str(rate_run / "scores.npy"),
            "--empty-fields", "drop", "--budget", str(budget), "--embedding-cache", str(args.work / "embeddings"),
            "--seed", str(args.seed), "--out", str(select_runs[budget]))

    records = json.loads(args.pool.read_text())
    approved_keys = {record_key(r) for r in json.loads(args.reference.read_text())}
    ratings = read_jsonl(rate_run / "ratings.jsonl")
    kept_records = [int(r["record"]) for r in ratings]  # 1-based positions in the pool file
    approved = np.array([record_key(records[p - 1]) in approved_keys for p in kept_records])
    base_rate = float(approved.mean())
    raw = np.array([r["score"] for r in ratings])
    overall = np.array([r.get("overall", 0) for r in ratings])
    result: dict = {
        "pool": str(args.pool.name), "rater": args.rater, "rating_mode": args.rating_mode,
        "records_rated": len(ratings), "reference": str(args.reference.name),
        "reference_approved_in_pool": int(approved.sum()), "base_rate": base_rate,
        "overall_histogram_1_to_10": np.bincount(overall, minlength=11)[1:].tolist(),
        "score_histogram_0_to_5": np.bincount(raw, minlength=6).tolist(),
        "auroc_for_reference_approval": {"raw 6-level score": auroc(raw, approved),
                                         "overall rating 1-10": auroc(overall, approved)},
        "times_s": times, "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "selections": {},
    }
    # What a rating could be confused with: the answer's length.
    words = np.array([len(str(records[p - 1].get("output", "")).split()) for p in kept_records])
    result["auroc_for_reference_approval"]["output length in words (shorter first)"] = auroc(-words, approved)
    if "expected_overall" in ratings[0]:
        from scipy.stats import spearmanr

        expected = np.array([r["expected_overall"] for r in ratings])
        result["auroc_for_reference_approval"]["expected overall (probability-weighted)"] = auroc(expected, approved)
        result["spearman_expected_overall_vs_output_words"] = float(spearmanr(expected, words).statistic)
    for budget, run in select_runs.items():
        rows = read_jsonl(run / "scores.jsonl")
        assert [r["record"] for r in rows] == kept_records, "rate and select saw different records"
        curated = np.array([r["curated_score"] for r in rows])
        if budget == budgets[0]:
            result["auroc_for_reference_approval"]["DS2-curated score"] = auroc(curated, approved)
            result["scores_rewritten_by_curation"] = int(np.sum(curated != raw))
        metrics = json.loads((run / "metrics.json").read_text())
        per_method = {}
        for selection in read_jsonl(run / "selections.jsonl"):
            chosen = approved[np.asarray(selection["indices"], dtype=np.int64)]
            per_method[selection["method"]] = {"selected": int(len(chosen)), "approved": int(chosen.sum()),
                                               "approved_share": float(chosen.mean())}
        random_share = per_method["random"]["approved_share"]
        for row in per_method.values():
            row["lift_over_base_rate"] = row["approved_share"] / base_rate
            row["ratio_to_random_same_run"] = row["approved_share"] / random_share if random_share else None
        result["selections"][str(budget)] = {"methods": per_method, "warnings": metrics.get("warnings", []),
                                             "noise_rate_estimate": metrics.get("noise_rate_estimate")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ds2_alpaca9k.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out / "ds2_alpaca9k.png")
    print(json.dumps({k: result[k] for k in ("base_rate", "auroc_for_reference_approval", "times_s")}, indent=2))
    for budget, block in result["selections"].items():
        for method, row in block["methods"].items():
            print(f"k={budget:>5} {method:<45} approved {row['approved_share']:.3f}  "
                  f"x random {row['ratio_to_random_same_run']:.2f}")


def plot(result: dict, path: Path) -> None:
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    fig, (left, right) = new_figure(11.0, 4.0, ncols=2)
    values = np.arange(1, 11)
    left.bar(values, result["overall_histogram_1_to_10"], color=PALETTE[0])
    left.set_xticks(values)
    left.set_xlabel("overall rating (1-10)")
    left.set_ylabel("records")
    left.set_title(f"{result['rater']} ratings ({result['rating_mode']})")
    budgets = list(result["selections"])
    methods = list(result["selections"][budgets[0]]["methods"])
    width = 0.8 / len(methods)
    for m, method in enumerate(methods):
        shares = [result["selections"][b]["methods"][method]["approved_share"] for b in budgets]
        right.bar(np.arange(len(budgets)) + (m - (len(methods) - 1) / 2) * width, shares, width,
                  label=method, color=PALETTE[m % len(PALETTE)])
    right.axhline(result["base_rate"], color="black", linestyle=":", linewidth=1, label="pool base rate")
    right.set_xticks(np.arange(len(budgets)))
    right.set_xticklabels([f"k = {b}" for b in budgets])
    right.set_ylabel("share Claude rated >= 4.5")
    right.set_title("Selections judged by a stronger rater")
    tallest = max([result["base_rate"]] + [row["approved_share"] for block in result["selections"].values()
                                            for row in block["methods"].values()])
    right.set_ylim(0, tallest * 1.55)  # room above the bars for the legend
    right.legend(fontsize=7, loc="upper center", ncol=2)
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    main()
