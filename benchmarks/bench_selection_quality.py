"""DS2's "less is more" claim, tested by fine-tuning: SmolLM2 LoRA-SFT on each selection of a pool.

DS2 (Pang et al. 2025) reports that a curated subset of an instruction pool trains a better model
than a random subset of the same size, than the raw LLM rating without curation, and even than the
whole pool. This script checks that with a real model, offline:

1. the selections come from a ``reliant curate select`` run of the pool (``--select-run``: its
   ``selections.jsonl`` holds DS2's, the random, the AlpaGasus-style raw-rating and the
   DEITA-style choices; ``benchmarks/bench_ds2_alpaca9k.py`` makes such runs of the 9k Alpaca
   pool rated by SmolLM2); ``--lima`` adds k samples of LIMA (human-curated, 1,029 samples) and
   ``--full`` the whole pool (a GPU-sized job);
2. each training set fine-tunes a fresh SmolLM2-135M-Instruct with LoRA (TRL ``SFTTrainer``,
   reliant's :func:`reliant.alignment.api.fine_tune`) for the same number of epochs, so every
   set gets the same budget of steps per sample;
3. every model, and the base model, is evaluated on IFEval (rule-based, prompt-level strict and
   loose accuracy), TruthfulQA MC1/MC2 (log-likelihood of the reference answers) and the
   AlpaGasus test sets (Vicuna, Koala, WizardLM, Self-Instruct) by a pairwise judge against the
   base model's answers, asked in both orders (win / tie / lose; winning score
   ``(wins - losses) / n + 1``, AlpaGasus's).

DS2 against each other set is a paired comparison on the same items; the JSON holds the
difference and its 95 % bootstrap interval, so a difference inside the noise reads as such.

    OMP_NUM_THREADS=2 python benchmarks/bench_selection_quality.py \\
        --select-run runs/bench_ds2_alpaca9k/select300                          # ~45 min on 2 cores
    python benchmarks/bench_selection_quality.py --select-run RUN --lima --full --epochs 3 \\
        --ifeval-items 541 --truthfulqa-items 817 --pairwise-items 200 --device cuda --seeds 0,1,2

Writes ``selection_quality.json`` and ``selection_quality.png`` to ``--out``.
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
from _common import paired_difference, read_jsonl, select_run_records  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTIONS = ROOT.parent / "shared" / "data" / "instructions"
TEST_SETS = {  # AlpaGasus's four test sets: file -> the field holding the request
    "vicuna": ("vicuna_test_set.jsonl", "text"),
    "koala": ("koala_test_set.jsonl", "prompt"),
    "wizardlm": ("wizardlm_test_set.jsonl", "Instruction"),
    "sinstruct": ("sinstruct_test_set.jsonl", "instruction"),
}
DEFAULT_METHODS = "DS2,random,score threshold (AlpaGasus-style)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--select-run", type=Path, required=True, help="a `reliant curate select` run folder")
    parser.add_argument("--pool", type=Path, default=INSTRUCTIONS / "alpaca_random_9k.json",
                        help="the pool the select run selected from")
    parser.add_argument("--methods", default=DEFAULT_METHODS,
                        help="comma-separated selection names of selections.jsonl to train on")
    parser.add_argument("--lima", action="store_true", help="also train on k random LIMA samples")
    parser.add_argument("--lima-file", type=Path, default=INSTRUCTIONS / "lima.json")
    parser.add_argument("--full", action="store_true", help="also train on the whole pool (GPU-sized)")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=160, help="tokens of prompt + response (longer are cut)")
    parser.add_argument("--ifeval-items", type=int, default=40)
    parser.add_argument("--truthfulqa-items", type=int, default=60)
    parser.add_argument("--pairwise-items", type=int, default=32, help="spread over the four AlpaGasus test sets")
    parser.add_argument("--judge", default="base",
                        help="pairwise judge: base (the base model) or an LLM backend spec, e.g. openai:<m>@<url>")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--infer-batch-size", type=int, default=8)
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_selection_quality"),
                        help="per-model answers and training logs")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/selection_quality")
    return parser.parse_args(argv)



def sample_of(record: dict):
    from reliant.alignment.api import Sample

    prompt = str(record["instruction"]).strip()
    extra = str(record.get("input") or "").strip()
    return Sample(f"{prompt}\n\n{extra}" if extra else prompt, str(record["output"]).strip(), "pool")


def training_sets(args: argparse.Namespace) -> dict[str, list]:
    """Name -> the samples of each training set, from the select run's selections of the pool."""
    records = json.loads(args.pool.read_text(encoding="utf-8"))
    kept_records, selections = select_run_records(records, args.select_run)
    kept = [sample_of(r) for r in kept_records]
    sets: dict[str, list] = {}
    for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
        if name not in selections:
            sys.exit(f"{args.select_run / 'selections.jsonl'}: no selection {name!r} (has: {', '.join(selections)})")
        sets[name] = [sample_of(r) for r in selections[name]]
    k = len(next(iter(sets.values())))
    if args.lima:
        lima = [sample_of(r) for r in json.loads(args.lima_file.read_text(encoding="utf-8"))]
        sets[f"LIMA ({min(k, len(lima))} of {len(lima)})"] = random.Random(0).sample(lima, min(k, len(lima)))
    if args.full:
        sets[f"full pool ({len(kept)})"] = kept
    return sets


def pairwise_requests(limit: int) -> list[str]:
    from reliant.alignment.api import spread

    per_set = max(1, limit // len(TEST_SETS))
    requests = []
    for filename, field in TEST_SETS.values():
        rows = read_jsonl(INSTRUCTIONS / filename)
        texts = []
        for row in rows:
            text = str(row[field]).strip()
            instances = row.get("instances") or []
            if instances and str(instances[0].get("input", "")).strip():
                text = f"{text}\n\n{instances[0]['input'].strip()}"
            texts.append(text)
        requests += spread(texts, per_set)
    return requests


class Evaluator:
    """The same items, prompts and judge for every model of the run."""

    def __init__(self, args: argparse.Namespace, base, tokenizer) -> None:
        from reliant.alignment.api import PairwiseJudge, Prompter, load_eval_items
        from reliant.core.llm import TransformersBackend, make_backend

        self.args, self.tokenizer = args, tokenizer
        self.prompter = Prompter(tokenizer)
        self.ifeval = load_eval_items("instructions", None, args.ifeval_items)
        self.truthfulqa = load_eval_items("truthfulness", None, args.truthfulqa_items)
        self.requests = pairwise_requests(args.pairwise_items)
        judge = (TransformersBackend((base, tokenizer), batch_size=args.infer_batch_size) if args.judge == "base"
                 else make_backend(args.judge))
        self.judge = PairwiseJudge(judge)
        self.base_answers: list[str] | None = None

    def answers(self, model) -> list[str]:
        from reliant.core.models import greedy_generate

        return greedy_generate(model, self.tokenizer, [self.prompter(q) for q in self.requests],
                               max_new_tokens=self.args.max_new_tokens, batch_size=self.args.infer_batch_size)

    def __call__(self, model, label: str) -> tuple[dict, dict]:
        from reliant.alignment.api import evaluate

        common = dict(max_new_tokens=self.args.max_new_tokens, batch_size=self.args.infer_batch_size,
                      device=self.args.device)
        start = time.perf_counter()
        ifeval, ifeval_rows = evaluate("instructions", model, self.tokenizer, self.ifeval, self.prompter,
                                       label=f"{label} IFEval", **common)
        truthful, truthful_rows = evaluate("truthfulness", model, self.tokenizer, self.truthfulqa, self.prompter,
                                           label=f"{label} TruthfulQA", **{**common, "max_new_tokens": 32})
        answers = self.answers(model)
        metrics = {"ifeval": ifeval, "truthfulqa": {k: truthful[k] for k in ("mc1", "mc2")}}
        per_item = {"ifeval_prompt_strict": [float(all(r["strict"])) for r in ifeval_rows],
                    "truthfulqa_mc2": [float(r["mc2"]) for r in truthful_rows]}
        if self.base_answers is None:
            self.base_answers = answers  # the base model is evaluated first: the pairwise reference
        else:
            outcomes = self.judge.compare(self.requests, answers, self.base_answers)
            counts = {o: outcomes.count(o) for o in ("win", "tie", "lose")}
            metrics["pairwise_vs_base"] = {**counts, "winning_score": (counts["win"] - counts["lose"]) / len(outcomes)
                                           + 1}
            per_item["pairwise_points"] = [{"win": 1.0, "tie": 0.0, "lose": -1.0}[o] for o in outcomes]
        metrics["eval_seconds"] = time.perf_counter() - start
        return metrics, {"per_item": per_item, "answers": answers}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from reliant.alignment.api import SFTSettings, fine_tune
    from reliant.core.models import load_causal_lm
    from reliant.core.seeding import set_seed

    sets = training_sets(args)
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = SFTSettings(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, max_length=args.max_length)
    args.work.mkdir(parents=True, exist_ok=True)
    base, tokenizer = load_causal_lm(args.model, device=args.device)
    evaluator = Evaluator(args, base, tokenizer)
    print(f"base model: evaluating ({len(evaluator.ifeval)} IFEval, {len(evaluator.truthfulqa)} TruthfulQA, "
          f"{len(evaluator.requests)} pairwise items)", flush=True)
    base_metrics, base_detail = evaluator(base, "base")
    results = {"base model": {"seeds": {"-": base_metrics}}}
    detail = {"base model": base_detail}
    for name, samples in sets.items():
        results[name] = {"samples": len(samples), "seeds": {}}
        for seed in seeds:
            set_seed(seed)
            model = load_causal_lm(args.model, device=args.device)[0]
            trainer_dir = args.work / "trainer"
            trained, sft = fine_tune(model, tokenizer, samples, settings, trainer_dir, seed=seed, device=args.device,
                                     description=f"{name}: fine-tuning")
            shutil.rmtree(trainer_dir, ignore_errors=True)
            metrics, info = evaluator(trained, f"{name} (seed {seed})")
            metrics["sft"] = {"steps": sft.steps, "seconds": sft.seconds, "tokens": sft.tokens,
                              "tokens_per_second": sft.tokens_per_second, "final_loss": sft.losses[-1]}
            results[name]["seeds"][str(seed)] = metrics
            detail[f"{name} / seed {seed}"] = info
            print(f"{name} seed {seed}: IFEval strict {metrics['ifeval']['prompt_strict']:.3f}, "
                  f"MC2 {metrics['truthfulqa']['mc2']:.3f}, winning score vs base "
                  f"{metrics['pairwise_vs_base']['winning_score']:.3f} ({sft.seconds:.0f} s SFT)", flush=True)
            del trained, model
    comparisons = compare_ds2(detail, sets, seeds)
    out = {"select_run": str(args.select_run), "pool": args.pool.name, "model": args.model,
           "settings": {k: v for k, v in vars(args).items() if k not in ("select_run", "pool", "work", "out",
                                                                          "lima_file")},
           "items": {"ifeval": len(evaluator.ifeval), "truthfulqa": len(evaluator.truthfulqa),
                     "pairwise": len(evaluator.requests)},
           "results": results, "ds2_minus_other": comparisons,
           "machine": {"python": platform.python_version(), "torch": torch.__version__,
                       "threads": torch.get_num_threads(), "platform": platform.platform()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "selection_quality.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    (args.work / "answers.json").write_text(json.dumps(detail, indent=1) + "\n", encoding="utf-8")
    plot(out, args.out / "selection_quality.png")
    print(json.dumps(comparisons, indent=2))
    return 0


def compare_ds2(detail: dict, sets: dict, seeds: list[int]) -> dict:
    """DS2 minus each other training set (and the base model), paired over items and seeds."""
    if "DS2" not in sets:
        return {}

    def pooled(name: str, key: str) -> list[float]:
        if name == "base model":
            return [x for _ in seeds for x in detail[name]["per_item"][key]]
        return [x for s in seeds for x in detail[f"{name} / seed {s}"]["per_item"][key]]

    comparisons = {}
    for other in ["base model", *(n for n in sets if n != "DS2")]:
        row = {}
        for key in ("ifeval_prompt_strict", "truthfulqa_mc2", "pairwise_points"):
            if key == "pairwise_points" and other == "base model":
                continue  # the pairwise score is already against the base model
            row[key] = paired_difference(pooled("DS2", key), pooled(other, key))
        comparisons[other] = row
    return comparisons


def plot(out: dict, path: Path) -> None:
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    names = list(out["results"])
    panels = [("IFEval prompt-level strict", lambda m: m["ifeval"]["prompt_strict"]),
              ("TruthfulQA MC2", lambda m: m["truthfulqa"]["mc2"]),
              ("winning score vs base (1 = even)", lambda m: m.get("pairwise_vs_base", {}).get("winning_score", 1.0))]
    fig, axes = new_figure(13.0, 4.2, ncols=3)
    for ax, (title, get) in zip(axes, panels):
        for i, name in enumerate(names):
            values = [get(m) for m in out["results"][name]["seeds"].values()]
            ax.bar(i, float(np.mean(values)), color=PALETTE[i % len(PALETTE)],
                   yerr=float(np.std(values)) if len(values) > 1 else None, capsize=3)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([n.replace(" (AlpaGasus-style)", "\n(AlpaGasus)") for n in names], rotation=30,
                           ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
    if len(axes) > 2:
        axes[2].axhline(1.0, color="black", linestyle=":", linewidth=1)
    fig.suptitle(f"SmolLM2 LoRA-SFT on selections of {out['pool']}", fontsize=10)
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    raise SystemExit(main())
