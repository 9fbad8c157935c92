"""TOFU unlearning on a real pretrained model: SmolLM2-135M-Instruct, FLAT against the baselines.

TOFU's recipe, at a size that fits 2 CPU cores:

1. **target**: fine-tune SmolLM2 on the forget split (TOFU forget01: 40 QA about two fictitious
   authors) plus a retain sample (the first ``--retain`` QA of TOFU's ``retain_perturbed``,
   which are also in retain99), as TOFU fine-tunes its base models on all 4,000 QA;
2. **retrained**: fine-tune SmolLM2 the same way on the retain sample only (the reference that
   never saw the forget set; its forget-set truth ratios define forget quality);
3. unlearn the forget set from the target with every method (FLAT and GA, GD, NPO, SimNPO,
   IdkDPO), same learning rate, epochs and batch size for all, as TOFU does;
4. evaluate target, retrained and every unlearned model with TOFU's metrics: forget quality (KS
   p-value of the forget truth ratios against the retrained model's), model utility (harmonic
   mean of probability, ROUGE-L and truth ratio on retain, real authors and world facts), forget
   ROUGE-L and probability.

Everything goes through reliant's Python API (``reliant.unlearning.api``): the same trainer and
evaluation as ``reliant unlearn run`` / ``reliant unlearn eval``, in one process so that the
model loads once and the retrained model's forget set is scored once.

    OMP_NUM_THREADS=1 python benchmarks/bench_smollm2_unlearning.py          # 2 shared CPU cores
    python benchmarks/bench_smollm2_unlearning.py --device cuda --retain 400 --eval-retain 100 \\
        --eval-other 100 --ft-epochs 5 --epochs 5 --max-new-tokens 200     # the bigger run, on a GPU

Writes ``bench_smollm2_unlearning.json`` and ``.png`` under ``--out``; the fine-tuned target and
retrained models are kept in ``--work`` (reused by a later run with the same settings).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

TOFU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tofu"
METHODS = ("flat", "ga", "gd", "npo", "simnpo", "idkdpo")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tofu", type=Path, default=TOFU, help="folder of TOFU's json-lines files")
    parser.add_argument("--retain", type=int, default=40, help="retain QA fine-tuned on (from retain_perturbed)")
    parser.add_argument("--eval-retain", type=int, default=20, help="of those, how many the retain metrics use")
    parser.add_argument("--eval-other", type=int, default=15, help="real-author and world-fact questions scored")
    parser.add_argument("--ft-epochs", type=int, default=3)
    parser.add_argument("--ft-lr", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=3, help="unlearning epochs (TOFU: 5)")
    parser.add_argument("--lr", type=float, default=1e-4, help="unlearning learning rate (TOFU: the fine-tuning one)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48, help="greedy answer length for ROUGE-L")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="smollm2", help="base model (tiny: a smoke run of this script)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.work/smollm2_unlearning"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/smollm2_unlearning"))
    return parser.parse_args(argv)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from reliant.core.seeding import set_seed
    from reliant.unlearning.api import evaluate_tofu, load_model, tofu_summary, unlearn

    forget = read_jsonl(args.tofu / "forget01.json")
    forget_eval = read_jsonl(args.tofu / "forget01_perturbed.json")
    retain = read_jsonl(args.tofu / "retain_perturbed.json")[: args.retain]
    sets = {
        "forget": forget_eval,
        "retain": retain[: args.eval_retain],
        "real_authors": read_jsonl(args.tofu / "real_authors_perturbed.json")[: args.eval_other],
        "world_facts": read_jsonl(args.tofu / "world_facts_perturbed.json")[: args.eval_other],
    }
    train_qa = lambda rows: [{"question": r["question"], "answer": r["answer"]} for r in rows]  # noqa: E731
    fine_tune = dict(epochs=args.ft_epochs, lr=args.ft_lr, batch_size=args.batch_size, seed=args.seed)
    seconds: dict[str, float] = {}
    args.work.mkdir(parents=True, exist_ok=True)

    def fine_tuned(name: str, rows: list[dict]):
        """SmolLM2 fine-tuned on ``rows`` (retain_ft: plain next-token loss through the chat
        template), saved under --work and reused when the same settings ran before."""
        folder = args.work / name
        stamp = {"model": args.model, "rows": len(rows), **fine_tune}
        if (folder / "bench_settings.json").is_file() and json.loads((folder / "bench_settings.json").read_text()) == stamp:
            return load_model(str(folder), device=args.device)
        set_seed(args.seed)
        model, tokenizer = load_model(args.model, device=args.device)
        start = time.perf_counter()
        unlearn(model, tokenizer, [], method="retain_ft", retain=train_qa(rows), **fine_tune)
        seconds[f"fine_tune_{name}"] = round(time.perf_counter() - start, 1)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / "bench_settings.json").write_text(json.dumps(stamp))
        return model, tokenizer

    def evaluate(model, tokenizer, label: str, retrained_truth=None) -> tuple[dict, object]:
        start = time.perf_counter()
        evaluation = evaluate_tofu(model, tokenizer, sets, batch_size=16, max_new_tokens=args.max_new_tokens,
                                   progress=label)
        seconds[f"eval_{label}"] = round(time.perf_counter() - start, 1)
        return tofu_summary(evaluation, retrained_truth), evaluation

    retrained, tokenizer = fine_tuned("retrained", retain)
    retrained_scores, retrained_eval = evaluate(retrained, tokenizer, "retrained")
    retrained_truth = retrained_eval.forget_truth_ratios()
    retrained_scores = tofu_summary(retrained_eval, retrained_truth)
    del retrained

    target, tokenizer = fine_tuned("target", forget + retain)
    target_state = copy.deepcopy(target.state_dict())
    rows = [{"model": "retrained (retain only)", **retrained_scores}]
    target_scores, _ = evaluate(target, tokenizer, "target", retrained_truth)
    rows.append({"model": "target (forget + retain)", **target_scores})

    for method in [m for m in args.methods.split(",") if m]:
        target.load_state_dict(target_state)
        set_seed(args.seed)
        start = time.perf_counter()
        result = unlearn(target, tokenizer, train_qa(forget), method=method, retain=train_qa(retain),
                         epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
        seconds[f"unlearn_{method}"] = round(time.perf_counter() - start, 1)
        scores, evaluation = evaluate(target, tokenizer, method, retrained_truth)
        example = evaluation.sets["forget"].generations[0] if evaluation.sets["forget"].generations else ""
        rows.append({"model": method, **scores, "steps": result.steps, "forget_example": example})
        print(f"{method}: FQ {scores.get('forget_quality', float('nan')):.3g} "
              f"MU {scores.get('model_utility', float('nan')):.3f} forget ROUGE {scores['forget/rouge_l_recall']:.3f}",
              flush=True)

    result = {
        "model": "smollm2 (SmolLM2-135M-Instruct, float32)" if args.model == "smollm2" else args.model,
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "data": {"forget": "TOFU forget01 (40 QA)", "retain_trained": len(retain),
                 "eval_sizes": {k: len(v) for k, v in sets.items()}},
        "fine_tuning": fine_tune,
        "unlearning": {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size},
        "max_new_tokens": args.max_new_tokens,
        "forget_question_example": forget_eval[0]["question"],
        "rows": rows,
        "seconds": seconds,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_smollm2_unlearning.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, args.out / "bench_smollm2_unlearning.png")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    return 0


def plot(rows: list[dict], path: Path) -> None:
    """Forget quality (log scale) against model utility: up and right is better."""
    import math

    from reliant.core.plotting import PALETTE, new_figure

    fig, ax = new_figure(6.4, 4.2)
    for i, row in enumerate(rows):
        fq, mu = row.get("forget_quality"), row.get("model_utility")
        if fq is None or mu is None or math.isnan(mu):
            continue
        ax.scatter([max(fq, 1e-12)], [mu], s=60, color=PALETTE[i % len(PALETTE)], zorder=3)
        ax.annotate(row["model"], (max(fq, 1e-12), mu), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("forget quality (KS p-value vs the retrained model, log)")
    ax.set_ylabel("model utility")
    ax.set_title("TOFU forget01 on SmolLM2-135M-Instruct")
    fig.savefig(path, dpi=120, bbox_inches="tight")


if __name__ == "__main__":
    raise SystemExit(main())
