"""Learning-rate sweep of unlearning methods on the built-in demo pair of tiny LMs.

Uses the same 40-person target and retain-only models as ``reliant demo`` (cached after the
first build) and prints one JSON line per (method, lr): forget quality against the retrained
model, ROUGE-L recall on forget and retain questions, retain answer probability. Writes all rows
to ``--out``/sweep.json.

    python benchmarks/sweep_unlearn_lr.py --methods flat,ga,npo --lrs 3e-4,1e-3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from reliant.core.builtin_data import builtin_qa, split_forget_retain
from reliant.core.models import load_causal_lm
from reliant.core.prompts import qa_prompt, qa_text
from reliant.core.tiny_lm import build_tiny_lm
from reliant.unlearning import metrics
from reliant.unlearning.api import unlearn
from reliant.unlearning.bench import DEMO_PEOPLE, demo_settings
from reliant.unlearning.evaluate import evaluate_tofu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="flat,ga,npo_forget")
    parser.add_argument("--lrs", default="3e-4,1e-3")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/unlearn_lr_sweep")
    args = parser.parse_args()

    records = builtin_qa(n_people=DEMO_PEOPLE, seed=0)
    forget, retain = split_forget_retain(records, 0.1)
    tokenizer_texts = [qa_text(r["question"], r["answer"]) for r in records]

    def build(subset: list[dict], name: str) -> Path:
        return build_tiny_lm([qa_prompt(r["question"]) for r in subset], [r["answer"] for r in subset], name=name,
                             settings=demo_settings(), tokenizer_texts=tokenizer_texts)

    target_dir, retrained_dir = build(records, "demo-target"), build(retain, "demo-retain")
    rng = np.random.default_rng(args.seed)
    sets = {"forget": forget, "retain": [retain[i] for i in sorted(rng.choice(len(retain), size=160, replace=False))]}

    def score(model_dir: Path, method: str | None = None, lr: float | None = None) -> object:
        model, tokenizer = load_causal_lm(str(model_dir), device="cpu")
        if method:
            unlearn(model, tokenizer, forget, method=method, retain=retain, epochs=args.epochs, lr=lr, seed=args.seed)
        return evaluate_tofu(model, tokenizer, sets, batch_size=32, max_new_tokens=40,
                             progress=f"{method} lr {lr:g}" if method else "retrained")

    retrained = score(retrained_dir)
    rows = []

    def report(name: str, lr: float | None, evaluation, seconds: float = 0.0) -> None:
        summary = evaluation.summary()
        row = {
            "model": name, "lr": lr, "seconds": round(seconds, 1),
            "forget_quality": float(metrics.forget_quality(evaluation.forget_truth_ratios(), retrained.forget_truth_ratios())),
            "forget_rouge": summary["forget"]["rouge_l_recall"], "retain_rouge": summary["retain"]["rouge_l_recall"],
            "retain_probability": summary["retain"]["probability"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    report("retrained", None, retrained)
    report("target", None, score(target_dir))
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        for lr in [float(x) for x in args.lrs.split(",")]:
            began = time.perf_counter()
            evaluation = score(target_dir, method, lr)
            report(method, lr, evaluation, time.perf_counter() - began)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps({"epochs": args.epochs, "seed": args.seed, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
