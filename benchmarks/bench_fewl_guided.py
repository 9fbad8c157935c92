"""FEWL's second claim, tested on SmolLM2: FEWL scores can reduce hallucination, by choosing the
in-context demonstrations and the supervised fine-tuning answers.

TruthfulQA is split once (``--seed``) into a *pool* of questions whose answers may be shown or
trained on and a disjoint *evaluation* set never used for selection. Each pool question has two
candidate answers, TruthfulQA's best answer and its first incorrect answer (the gold labels only
judge). Who picks the answer shown for each pool question:

* ``random``: a fair coin per question (the no-information baseline);
* ``reference average``: the candidate closer, on average, to the reference LLMs' answers;
* ``FEWL``: the candidate FEWL scores more truthful (``reliant hallucination score`` with SmolLM2
  and the tiny LM as references and SmolLM2 writing the intentionally wrong answers, the
  configuration of ``bench_smollm2_hallucination.py``);
* ``gold``: always the best answer (the ceiling), and ``zero-shot`` / ``base`` (no answers).

Then SmolLM2-135M-Instruct is evaluated on the evaluation questions (TruthfulQA MC1/MC2 from the
log-likelihood of every reference answer, and the greedy answer's ROUGE-L / MiniLM accuracy
against the correct and incorrect lists):

1. **ICL**: each evaluation question follows its ``--shots`` nearest pool questions (MiniLM
   cosine of the questions; the same questions for every picker, only the answers differ);
2. **SFT**: LoRA fine-tuning (TRL, reliant's :func:`reliant.alignment.api.fine_tune`) on the
   pool questions with the picked answers, then asked zero-shot.

    OMP_NUM_THREADS=2 python benchmarks/bench_fewl_guided.py                   # ~30 min on 2 cores
    python benchmarks/bench_fewl_guided.py --pool-questions 300 --eval-questions 400 --device cuda

Writes ``fewl_guided.json`` and ``fewl_guided.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paired_difference, reliant  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PICKERS = ("random", "reference average", "FEWL", "gold")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool-questions", type=int, default=40)
    parser.add_argument("--eval-questions", type=int, default=40)
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--n-wrong", type=int, default=2, help="IW answers per question (FEWL's paper: 5)")
    parser.add_argument("--reference-llm", default="smollm2?batch_size=16,tiny")
    parser.add_argument("--wrong-llm", default="smollm2?batch_size=16")
    parser.add_argument("--fewl-run", type=Path, help="reuse a `hallucination score` run of the same pool")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--no-sft", action="store_true", help="ICL only")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--infer-batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_fewl_guided"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fewl_guided")
    return parser.parse_args(argv)


def split(seed: int, n_pool: int, n_eval: int) -> tuple[list[dict], list[dict]]:
    from reliant.alignment.api import load_eval_items

    items = load_eval_items("truthfulness", None, 10**6)
    order = random.Random(seed).sample(range(len(items)), n_pool + n_eval)
    return [items[i] for i in order[:n_pool]], [items[i] for i in order[n_pool:]]


def fewl_scores(args: argparse.Namespace, pool: list[dict]) -> tuple[dict[str, dict[str, dict]], Path, float]:
    """Per pool question id, per candidate (truthful / false): its FEWL and reference-average scores."""
    run = args.fewl_run
    seconds = 0.0
    if run is None:
        data = args.work / "pool_candidates.jsonl"
        with data.open("w", encoding="utf-8") as f:
            for i, item in enumerate(pool):
                f.write(json.dumps({"id": f"pool-{i}", "question": item["prompt"],
                                    "answers": {"truthful": item["best"], "false": item["false"][0]},
                                    "hallucinated": {"truthful": 0, "false": 1}}) + "\n")
        run = args.work / "fewl"
        seconds = reliant("hallucination", "score", "--data", str(data), "--reference-llm", args.reference_llm,
                          "--wrong-llm", args.wrong_llm, "--n-wrong", str(args.n_wrong), "--seed", str(args.seed),
                          "--out", str(run))
    scores: dict[str, dict[str, dict]] = {}
    for line in (run / "scores.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        scores.setdefault(row["id"], {})[row["model"]] = row
    return scores, run, seconds


def pick(pool: list[dict], scores: dict[str, dict[str, dict]], seed: int) -> dict[str, list[str]]:
    """The answer each picker shows for every pool question."""
    coin = random.Random(seed + 1)
    picked: dict[str, list[str]] = {name: [] for name in PICKERS}
    for i, item in enumerate(pool):
        candidates = {"truthful": item["best"], "false": item["false"][0]}
        row = scores[f"pool-{i}"]
        picked["random"].append(candidates[coin.choice(("truthful", "false"))])
        for name, key in (("reference average", "reference_average"), ("FEWL", "fewl")):
            # A tie keeps the first candidate in the file's order (truthful): count ties below.
            best = max(("truthful", "false"), key=lambda c: row[c][key])
            picked[name].append(candidates[best])
        picked["gold"].append(item["best"])
    return picked


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from reliant.alignment.api import Prompter, Sample, SFTSettings, evaluate, fine_tune
    from reliant.core.embeddings import embed
    from reliant.core.knn import knn
    from reliant.core.models import load_causal_lm
    from reliant.core.seeding import set_seed

    args.work.mkdir(parents=True, exist_ok=True)
    pool, held_out = split(args.seed, args.pool_questions, args.eval_questions)
    scores, fewl_run, fewl_seconds = fewl_scores(args, pool)
    picked = pick(pool, scores, args.seed)
    truthful_share = {name: float(np.mean([a == item["best"] for a, item in zip(answers, pool)]))
                      for name, answers in picked.items()}
    ties = {key: int(sum(row["truthful"][key] == row["false"][key] for row in scores.values()))
            for key in ("fewl", "reference_average")}

    base, tokenizer = load_causal_lm(args.model, device=args.device)
    questions = [item["prompt"] for item in held_out]
    pool_vectors = embed([item["prompt"] for item in pool], device=args.device, show_progress=False)
    _, neighbours = knn(embed(questions, device=args.device, show_progress=False), pool_vectors,
                        min(args.shots, len(pool)), normalized=True, backend="exact")
    common = dict(max_new_tokens=args.max_new_tokens, batch_size=args.infer_batch_size, device=args.device)
    results: dict[str, dict] = {"icl": {}, "sft": {}}
    per_item: dict[str, list[float]] = {}

    def run_eval(model, prompter, label: str) -> dict:
        start = time.perf_counter()
        metrics, rows = evaluate("truthfulness", model, tokenizer, held_out, prompter, label=label, **common)
        per_item[label] = [float(r["mc2"]) for r in rows]
        keep = ("mc1", "mc2", "gen_rougeL_acc", "gen_sim_acc")
        return {**{k: metrics[k] for k in keep}, "eval_seconds": time.perf_counter() - start}

    results["icl"]["zero-shot"] = run_eval(base, Prompter(tokenizer), "ICL zero-shot")
    for name, answers in picked.items():
        shots = {q: [(pool[j]["prompt"], answers[j]) for j in reversed(row)] for q, row in zip(questions, neighbours)}
        results["icl"][name] = run_eval(base, Prompter(tokenizer, shots), f"ICL {name}")
        print(f"ICL {name}: MC2 {results['icl'][name]['mc2']:.3f}", flush=True)
    if not args.no_sft:
        settings = SFTSettings(epochs=args.epochs, lr=args.lr, batch_size=8, max_length=128)
        results["sft"]["base"] = results["icl"]["zero-shot"]
        for name, answers in picked.items():
            set_seed(args.seed)
            samples = [Sample(item["prompt"], answer, "pool") for item, answer in zip(pool, answers)]
            trained, sft = fine_tune(load_causal_lm(args.model, device=args.device)[0], tokenizer, samples, settings,
                                     args.work / "trainer", seed=args.seed, device=args.device,
                                     description=f"SFT {name}")
            shutil.rmtree(args.work / "trainer", ignore_errors=True)
            results["sft"][name] = {**run_eval(trained, Prompter(tokenizer), f"SFT {name}"),
                                    "sft_seconds": sft.seconds, "sft_steps": sft.steps}
            print(f"SFT {name}: MC2 {results['sft'][name]['mc2']:.3f}", flush=True)
            del trained

    differences = {}
    for kind in ("ICL", "SFT"):
        fewl_key = f"{kind} FEWL"
        if fewl_key not in per_item:
            continue
        for other in ("random", "reference average", "gold"):
            differences[f"{kind}: FEWL - {other}"] = paired_difference(per_item[fewl_key], per_item[f"{kind} {other}"])
    out = {
        "data": f"TruthfulQA: {len(pool)} pool questions, {len(held_out)} evaluation questions (seed {args.seed})",
        "model": args.model, "shots": args.shots, "reference_llm": args.reference_llm, "wrong_llm": args.wrong_llm,
        "n_wrong": args.n_wrong, "fewl_run": str(fewl_run), "fewl_seconds": fewl_seconds,
        "truthful_answer_share_picked": truthful_share, "score_ties_between_candidates": ties,
        "results": results, "mc2_differences": differences,
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "platform": platform.platform()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fewl_guided.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    plot(out, args.out / "fewl_guided.png")
    print(json.dumps({"truthful_answer_share_picked": truthful_share, "mc2_differences": differences}, indent=2))
    return 0


def plot(out: dict, path: Path) -> None:
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    fig, axes = new_figure(12.0, 4.0, ncols=3)
    shares = out["truthful_answer_share_picked"]
    axes[0].bar(range(len(shares)), list(shares.values()), color=[PALETTE[i] for i in range(len(shares))])
    axes[0].set_xticks(range(len(shares)))
    axes[0].set_xticklabels(list(shares), rotation=20, fontsize=8)
    axes[0].axhline(0.5, color="black", linestyle=":", linewidth=1)
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title("share of pool answers picked that are true", fontsize=9)
    for ax, kind in zip(axes[1:], ("icl", "sft")):
        rows = out["results"][kind]
        ax.bar(range(len(rows)), [r["mc2"] for r in rows.values()], color=[PALETTE[i % len(PALETTE)]
                                                                           for i in range(len(rows))])
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(list(rows), rotation=20, fontsize=8)
        ax.set_title(f"TruthfulQA MC2 after {kind.upper()} ({out['shots']} shots)" if kind == "icl"
                     else "TruthfulQA MC2 after LoRA SFT", fontsize=9)
    fig.suptitle(f"FEWL-guided demonstrations and fine-tuning, {out['model']} ({out['data']})", fontsize=9)
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    raise SystemExit(main())
