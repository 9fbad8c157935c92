"""Curation feeding alignment, tested on SmolLM2: does a DS2-curated retrieval pool, or a FEWL
filter of the generated samples, make ISARA's rounds better on the domain metric?

The domain is truthfulness (TruthfulQA MC2, the log-likelihood metric, on the packaged
TruthfulQA minus the seeds). ISARA starts from ``--seeds`` TruthfulQA questions with their best
answers (seeded sample) and retrieves in-context examples from an Alpaca pool. Every step is the
``reliant`` command a user runs:

1. ``reliant curate rate`` rates the first ``--pool-records`` of ``alpaca_random_9k.json`` with
   ``--rater`` (SmolLM2 by default, ``--rating-mode likelihood`` as in
   ``bench_ds2_alpaca9k.py``), ``reliant curate select`` picks ``--budget`` records by DS2 and at
   random in the same run (MiniLM embeddings);
2. ``reliant align isara`` once per condition, the same seeds, evaluation items and seed:

   * ``random pool``: the random selection as the retrieval pool;
   * ``DS2 pool``: the DS2 selection;
   * ``DS2 pool + FEWL``: the DS2 selection, and the generated samples filtered by FEWL
     (``--fewl-references``, ``--fewl-wrong-llm``, the best ``--fewl-keep`` share kept);
   * ``DS2 pool + self-judge`` (with ``--with-judge``): ISARA's own Yes/No self-judge.

   The first three run without the judge (``--judge none``) so that each differs from the one
   before it in one thing only.

Two controls come from the first condition's run: the base model and SFT on the seeds alone (no
generated sample), which tells a filter that helps by choosing better samples from one that helps
by keeping fewer.

Reported per round and condition: TruthfulQA MC1/MC2 (mean over ``--run-seeds``; each seed has
its own seed questions, random selection, sampling and training), samples generated / kept /
rejected by FEWL or the judge, and MC2 differences paired over the same evaluation questions of
the same seed (DS2 pool minus random pool, FEWL minus no FEWL, ...) with 95 % bootstrap intervals.

    OMP_NUM_THREADS=2 python benchmarks/bench_isara_curated.py --with-judge --run-seeds 0,1,2   # ~55 min
    python benchmarks/bench_isara_curated.py --pool-records 9229 --budget 1000 --seeds 48 --rounds 3 \\
        --generations 64 --eval-limit 400 --with-judge --run-seeds 0,1,2 --device cuda   # GPU path

Writes ``isara_curated.json`` and ``isara_curated.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paired_difference, read_jsonl, reliant, select_run_records  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POOL = ROOT.parent / "shared" / "data" / "instructions" / "alpaca_random_9k.json"
BASELINES = {"base": "base", "seed_sft": "SFT on the seeds only"}  # stage -> label


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=Path, default=POOL, help="Alpaca-format pool")
    parser.add_argument("--pool-records", type=int, default=3000, help="the first N records of --pool are rated")
    parser.add_argument("--rater", default="smollm2?batch_size=8")
    parser.add_argument("--rate-run", type=Path, help="reuse a `curate rate` run of the same pool records")
    parser.add_argument("--budget", type=int, default=300, help="records selected by DS2 and at random")
    parser.add_argument("--seeds", type=int, default=24, help="TruthfulQA questions given as ISARA's seeds")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--generations", type=int, default=16)
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--eval-limit", type=int, default=40)
    parser.add_argument("--eval-max-new-tokens", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--fewl-references", default="self,tiny")
    parser.add_argument("--fewl-wrong-llm", default="self")
    parser.add_argument("--fewl-keep", type=float, default=0.5)
    parser.add_argument("--with-judge", action="store_true", help="add the ISARA self-judge condition")
    parser.add_argument("--rerun", type=lambda text: [c.strip() for c in text.split(",") if c.strip()], default=[],
                        help="run only these conditions (comma-separated names), read the others from --work")
    parser.add_argument("--report-only", action="store_true",
                        help="rebuild the JSON and plot from the run folders of an earlier run with the same options")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--run-seeds", default="0", help="comma-separated seeds, one full set of runs each")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_isara_curated"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/isara_curated")
    return parser.parse_args(argv)


def write_pool_slice(args: argparse.Namespace) -> Path:
    """The first ``--pool-records`` of the pool, the records rated and selected from."""
    pool_slice = args.work / f"pool{args.pool_records}.json"
    records = json.loads(args.pool.read_text(encoding="utf-8"))[:args.pool_records]
    pool_slice.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return pool_slice


def write_seeds(args: argparse.Namespace, seed: int, work: Path) -> Path:
    """``--seeds`` TruthfulQA questions with their best answers, chosen by ``seed``."""
    from reliant.alignment.api import load_eval_items

    items = load_eval_items("truthfulness", None, 10**6)
    chosen = random.Random(seed).sample(range(len(items)), args.seeds)
    seeds = work / "truthfulqa_seeds.jsonl"
    seeds.write_text("".join(json.dumps({"prompt": items[i]["prompt"], "response": items[i]["best"]}) + "\n"
                             for i in chosen), encoding="utf-8")
    return seeds


def selected_pools(pool_slice: Path, select_run: Path, work: Path) -> dict[str, Path]:
    """``{"random": path, "DS2": path}``: each selection of the select run as an Alpaca file."""
    _, selections = select_run_records(json.loads(pool_slice.read_text(encoding="utf-8")), select_run)
    pools = {}
    for method in ("random", "DS2"):
        pools[method] = work / f"pool_{method}.json"
        pools[method].write_text(json.dumps(selections[method], indent=1), encoding="utf-8")
    return pools


def conditions(args: argparse.Namespace, pools: dict[str, Path]) -> dict[str, list[str]]:
    fewl = ["--fewl-references", args.fewl_references, "--fewl-wrong-llm", args.fewl_wrong_llm,
            "--fewl-keep", str(args.fewl_keep)]
    # The first condition also runs the base model and SFT on the seeds alone (no generated samples).
    runs = {"random pool": ["--pool", str(pools["random"]), "--judge", "none", "--baselines", "base,seed_sft"],
            "DS2 pool": ["--pool", str(pools["DS2"]), "--judge", "none", "--baselines", ""],
            "DS2 pool + FEWL": ["--pool", str(pools["DS2"]), "--judge", "none", "--baselines", "", *fewl]}
    if args.with_judge:
        runs["DS2 pool + self-judge"] = ["--pool", str(pools["DS2"]), "--judge", "self", "--baselines", ""]
    return runs


def stage_samples(run: Path, stage: str) -> list[dict]:
    return read_jsonl(run / stage / "eval_samples.jsonl")


def run_folder_name(condition: str) -> str:
    return "isara_" + condition.replace(" + ", "_").replace(" ", "_").replace("-", "_")


def filter_audit(runs: list[Path], rounds: list[str]) -> dict:
    """What a filter kept and rejected, over ``runs``: counts, mean answer length, and how often
    the answer is TruthfulQA's own truthful non-answer "I have no comment." (a filter that drops
    it prefers confident answers to honest abstentions)."""
    from reliant.alignment.api import NO_COMMENT

    audit = {}
    for part in ("kept", "rejected"):
        rows = [r for run in runs for stage in rounds for r in read_jsonl(run / stage / f"{part}.jsonl")
                if part == "kept" or str(r.get("reason", "")).startswith(("FEWL:", "judge:"))]
        words = [len(r["response"].split()) for r in rows]
        audit[part] = {"samples": len(rows), "mean_answer_words": sum(words) / max(1, len(words)),
                       "no_comment_answers": sum(r["response"].strip().rstrip(".").lower() ==
                                                 NO_COMMENT.rstrip(".").lower() for r in rows)}
    return audit


def run_seed(args: argparse.Namespace, seed: int, pool_slice: Path, rate_run: Path,
             times: dict[str, float]) -> dict[str, Path]:
    """Every condition's ``align isara`` run folder for one seed (seed questions, random selection,
    sampling and training all follow it)."""
    work = args.work / f"seed-{seed}"
    if args.report_only:
        return {name: work / run_folder_name(name) for name in conditions(args, {"random": Path(), "DS2": Path()})}
    work.mkdir(parents=True, exist_ok=True)
    seeds = write_seeds(args, seed, work)
    select_run = work / f"select{args.budget}"
    times[f"seed {seed}: select_s"] = reliant(
        "curate", "select", "--pool", str(pool_slice), "--scores", str(rate_run / "scores.npy"), "--empty-fields",
        "drop", "--budget", str(args.budget), "--embedding-cache", str(args.work / "embeddings"), "--seed", str(seed),
        "--overwrite", "--out", str(select_run))
    pools = selected_pools(pool_slice, select_run, work)
    common = ["--model", args.model, "--seeds", str(seeds), "--domain", "truthfulness", "--rounds", str(args.rounds),
              "--generations", str(args.generations), "--shots", str(args.shots),
              "--max-new-tokens", str(args.max_new_tokens), "--eval-limit", str(args.eval_limit),
              "--eval-max-new-tokens", str(args.eval_max_new_tokens), "--epochs", str(args.epochs),
              "--device", args.device, "--seed", str(seed)]
    runs = {}
    for name, extra in conditions(args, pools).items():
        runs[name] = work / run_folder_name(name)
        if args.rerun and name not in args.rerun:
            continue  # an earlier run of the same options made it
        # A rerun starts over: the stage checkpoints an earlier run of this bench left in its own
        # work folder would otherwise be refused (`align isara` never drops them by itself).
        shutil.rmtree(runs[name].with_name(runs[name].name + ".checkpoints"), ignore_errors=True)
        times[f"seed {seed}: isara {name} s"] = reliant("align", "isara", *common, *extra, "--overwrite",
                                                        "--out", str(runs[name]))
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    run_seeds = [int(s) for s in args.run_seeds.split(",")]
    times: dict[str, float] = {}
    pool_slice = write_pool_slice(args)
    rate_run = args.rate_run
    if rate_run is None and not args.report_only:
        rate_run = args.work / "rate"
        times["rate_s"] = reliant("curate", "rate", "--pool", str(pool_slice), "--rater", args.rater,
                                  "--rating-mode", "likelihood", "--empty-fields", "drop", "--seed", "0",
                                  "--out", str(rate_run))
    runs_by_seed = {seed: run_seed(args, seed, pool_slice, rate_run, times) for seed in run_seeds}

    rounds = [f"round-{i}" for i in range(1, args.rounds + 1)]
    names = list(runs_by_seed[run_seeds[0]])

    def mc2(name: str, stage: str) -> list[float]:
        """Per-question MC2 of one condition and stage, every seed's questions one after another."""
        source = {seed: runs[name] for seed, runs in runs_by_seed.items()}
        if stage in BASELINES:  # evaluated once per seed, in the first condition's run
            source = {seed: runs[names[0]] for seed, runs in runs_by_seed.items()}
        return [s["mc2"] for seed in run_seeds for s in stage_samples(source[seed], stage)]

    results: dict[str, dict] = {}
    for name in names:
        per_round = {}
        for stage in rounds:
            rows = []
            for seed in run_seeds:
                metrics = json.loads((runs_by_seed[seed][name] / "metrics.json").read_text())
                row = next(r for r in metrics["rounds"] if r["round"] == stage)
                rows.append({"seed": seed, **{k: metrics["stages"][stage][k] for k in ("mc1", "mc2")},
                             **{k: row.get(k, 0) for k in ("generated", "kept", "rejected_fewl", "rejected_judge",
                                                           "sft_samples")}})
            per_round[stage] = {"mc1": sum(r["mc1"] for r in rows) / len(rows),
                                "mc2": sum(r["mc2"] for r in rows) / len(rows),
                                **{k: sum(r[k] for r in rows) for k in ("generated", "kept", "rejected_fewl",
                                                                         "rejected_judge")},
                                "per_seed": rows}
        results[name] = {"runs": [str(runs_by_seed[s][name]) for s in run_seeds], "rounds": per_round}
    baselines = {}
    for stage in BASELINES:
        rows = [json.loads((runs_by_seed[s][names[0]] / "metrics.json").read_text())["stages"][stage]
                for s in run_seeds]
        baselines[stage] = {k: sum(r[k] for r in rows) / len(rows) for k in ("mc1", "mc2")}
    comparisons = {}
    pairs = [("DS2 pool", "random pool"), ("DS2 pool + FEWL", "DS2 pool"), ("DS2 pool + FEWL", "random pool")]
    if args.with_judge:
        pairs += [("DS2 pool + self-judge", "DS2 pool"), ("DS2 pool + FEWL", "DS2 pool + self-judge")]
    for a, b in pairs:
        for stage in rounds:
            comparisons[f"{a} - {b}, {stage}"] = paired_difference(mc2(a, stage), mc2(b, stage))
    for stage in BASELINES:
        for name in names:
            comparisons[f"{name}, {rounds[-1]} - {BASELINES[stage]}"] = paired_difference(mc2(name, rounds[-1]),
                                                                                         mc2(name, stage))
    fewl_kept = [r.get("fewl_score") for seed in run_seeds
                 for r in read_jsonl(runs_by_seed[seed]["DS2 pool + FEWL"] / rounds[0] / "kept.jsonl")]
    audits = {name: filter_audit([runs_by_seed[s][name] for s in run_seeds], rounds)
              for name in names if name in ("DS2 pool + FEWL", "DS2 pool + self-judge")}
    # Does a condition do better by choosing better samples or by training on fewer of them? Rank
    # correlation, over every (condition, round, seed), of the generated samples trained on with
    # MC2 minus the same seed's SFT on the seeds alone.
    from scipy.stats import spearmanr

    seed_sft = {s: json.loads((runs_by_seed[s][names[0]] / "metrics.json").read_text())["stages"]["seed_sft"]["mc2"]
                for s in run_seeds}
    points = [{"condition": name, "round": stage_name, "seed": row["seed"],
               "generated_trained_on": row["sft_samples"] - args.seeds,
               "mc2_minus_seed_sft": row["mc2"] - seed_sft[row["seed"]]}
              for name, result in results.items() for stage_name, stage in result["rounds"].items()
              for row in stage["per_seed"]]
    rho, p_value = spearmanr([p["generated_trained_on"] for p in points], [p["mc2_minus_seed_sft"] for p in points])
    dose = {"points": points, "spearman": float(rho), "p_value": float(p_value)}
    earlier = args.out / "isara_curated.json"
    if (args.report_only or args.rerun) and earlier.is_file():  # the times of the runs not redone
        times = {**json.loads(earlier.read_text()).get("times_s", {}), **times}
    out = {"model": args.model, "domain": "truthfulness (TruthfulQA MC2, log-likelihood)",
           "pool": f"{args.pool.name}[:{args.pool_records}]", "rater": args.rater, "budget": args.budget,
           "seeds": args.seeds, "run_seeds": run_seeds, "rounds": args.rounds, "generations": args.generations,
           "shots": args.shots, "eval_items_per_seed": args.eval_limit, "epochs": args.epochs,
           "fewl": {"references": args.fewl_references, "wrong_llm": args.fewl_wrong_llm, "keep": args.fewl_keep},
           "base": baselines["base"], "seed_sft": baselines["seed_sft"],
           "results": results, "paired_mc2_differences": comparisons, "fewl_scores_kept_round_1": fewl_kept,
           "filter_audit (kept vs rejected by the filter)": audits, "generated_samples_vs_mc2": dose,
           "times_s": times, "machine": {"python": platform.python_version(), "platform": platform.platform()}}
    (args.out / "isara_curated.json").write_text(json.dumps(out, indent=2) + "\n")
    plot(out, args.out / "isara_curated.png")
    print(json.dumps({k: out[k] for k in ("base", "paired_mc2_differences")}, indent=1))
    return 0


def plot(out: dict, path: Path) -> None:
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    fig, axes = new_figure(15.0, 4.0, ncols=3)
    names = list(out["results"])
    for i, name in enumerate(names):
        rounds = out["results"][name]["rounds"]
        xs = [0, *range(1, len(rounds) + 1)]
        axes[0].plot(xs, [out["base"]["mc2"], *[r["mc2"] for r in rounds.values()]], marker="o", color=PALETTE[i],
                     label=name)
    axes[0].axhline(out["seed_sft"]["mc2"], color="black", linestyle=":", linewidth=1)
    axes[0].annotate("SFT on the seeds only", (out["rounds"], out["seed_sft"]["mc2"]), fontsize=7, ha="right",
                     va="bottom")
    axes[0].set_xticks(range(0, out["rounds"] + 1))
    axes[0].set_xticklabels(["base", *[f"round {i}" for i in range(1, out["rounds"] + 1)]])
    axes[0].set_ylabel("TruthfulQA MC2 (higher is better)")
    axes[0].set_title(f"ISARA rounds, {out['eval_items_per_seed']} held-out questions x {len(out['run_seeds'])} "
                      "seed(s)", fontsize=9)
    axes[0].legend(fontsize=8, frameon=False)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        rounds = list(out["results"][name]["rounds"].values())
        axes[1].bar([r + i * width for r in range(len(rounds))], [r["kept"] for r in rounds], width,
                    color=PALETTE[i], label=name)
    axes[1].set_xticks([r + width * (len(names) - 1) / 2 for r in range(out["rounds"])])
    axes[1].set_xticklabels([f"round {i}" for i in range(1, out["rounds"] + 1)])
    axes[1].set_ylabel(f"generated samples kept (of {out['generations'] * len(out['run_seeds'])})")
    axes[1].set_title("what each filter keeps", fontsize=9)
    dose = out["generated_samples_vs_mc2"]
    for i, name in enumerate(names):
        mine = [p for p in dose["points"] if p["condition"] == name]
        axes[2].scatter([p["generated_trained_on"] for p in mine], [p["mc2_minus_seed_sft"] for p in mine],
                        color=PALETTE[i], s=18, label=name)
    axes[2].axhline(0, color="black", linestyle=":", linewidth=1)
    axes[2].set_xlabel("generated samples trained on (besides the seeds)")
    axes[2].set_ylabel("MC2 minus SFT on the seeds only")
    axes[2].set_title(f"more generated samples, lower MC2 (Spearman {dose['spearman']:.2f}, "
                      f"p = {dose['p_value']:.1g})", fontsize=9)
    fig.suptitle(f"Curation feeding alignment: {out['model']}, pool {out['pool']} (k = {out['budget']}), "
                 f"{out['seeds']} TruthfulQA seeds", fontsize=9)
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    raise SystemExit(main())
