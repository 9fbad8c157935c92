"""The unlearning stage of ``reliant demo``: FLAT, GA and NPO (forget only) forgetting 10% of the
built-in fictitious people from a small tiny LM, scored against the same tiny LM trained
without them (both built once, then cached)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reliant.core.plotting import PALETTE, new_figure
from reliant.core.prompts import qa_prompt, qa_text
from reliant.unlearning import metrics
from reliant.unlearning.api import unlearn
from reliant.unlearning.bench import DEFAULT_LR, DEMO_PEOPLE, demo_settings
from reliant.unlearning.evaluate import TofuEvaluation, evaluate_tofu
from reliant.unlearning.methods import METHOD_LABELS

__all__ = ["builtin_demo", "demo_stage"]

_NAMES = {"target": "Target (before)", "retrained": "Retrained (gold)"}


def _label(name: str) -> str:
    return _NAMES.get(name, METHOD_LABELS.get(name, name))


def builtin_demo(run: Any, seed: int) -> dict:
    """FLAT, GA and NPO forgetting 10% of 40 built-in fictitious people from a small tiny LM,
    scored against the same tiny LM trained without them (both built once, then cached)."""
    from reliant.core.builtin_data import builtin_qa, split_forget_retain
    from reliant.core.models import load_causal_lm
    from reliant.core.tiny_lm import build_tiny_lm

    records = builtin_qa(n_people=DEMO_PEOPLE, seed=0)
    forget, retain = split_forget_retain(records, 0.1)
    tokenizer_texts = [qa_text(r["question"], r["answer"]) for r in records]

    def build(subset: list[dict], name: str) -> Path:
        return build_tiny_lm(
            [qa_prompt(r["question"]) for r in subset], [r["answer"] for r in subset], name=name,
            settings=demo_settings(), tokenizer_texts=tokenizer_texts,
        )

    target_dir, retrained_dir = build(records, "demo-target"), build(retain, "demo-retain")
    rng = np.random.default_rng(seed)
    retain_eval = [retain[i] for i in sorted(rng.choice(len(retain), size=160, replace=False))]
    sets = {"forget": forget, "retain": retain_eval}

    def score(model, tokenizer, name: str):
        return evaluate_tofu(model, tokenizer, sets, batch_size=32, max_new_tokens=40, progress=_label(name))

    model, tokenizer = load_causal_lm(str(retrained_dir), device="cpu")
    retrained = score(model, tokenizer, "retrained")
    results: dict[str, dict[str, float]] = {}
    evaluations: dict[str, TofuEvaluation] = {"retrained": retrained}
    model, tokenizer = load_causal_lm(str(target_dir), device="cpu")
    evaluations["target"] = score(model, tokenizer, "target")
    for method in ("flat", "ga", "npo_forget"):
        model, tokenizer = load_causal_lm(str(target_dir), device="cpu")
        unlearn(model, tokenizer, forget, method=method, epochs=5, lr=DEFAULT_LR[method], seed=seed)
        evaluations[method] = score(model, tokenizer, method)
    for name, evaluation in evaluations.items():
        summary = evaluation.summary()
        results[name] = {
            "forget_quality": float(metrics.forget_quality(evaluation.forget_truth_ratios(), retrained.forget_truth_ratios())),
            "forget_rouge": summary["forget"]["rouge_l_recall"],
            "retain_rouge": summary["retain"]["rouge_l_recall"],
            "retain_probability": summary["retain"]["probability"],
        }
    run.add_table(
        "Unlearning 10% of the built-in people",
        [{"model": _label(n), **v} for n, v in results.items()],
        caption="Forget quality against a tiny LM trained without those people (higher is better); ROUGE-L recall of "
        "greedy answers on forget and retain questions.",
    )
    fig, ax = new_figure(5.6, 3.4)
    names = list(results)
    x = np.arange(len(names))
    ax.bar(x - 0.2, [results[n]["forget_rouge"] for n in names], width=0.4, label="forget ROUGE-L (lower is better)", color=PALETTE[5])
    ax.bar(x + 0.2, [results[n]["retain_rouge"] for n in names], width=0.4, label="retain ROUGE-L (higher is better)", color=PALETTE[2])
    ax.set_xticks(x, [_label(n) for n in names], fontsize=8)
    ax.set_ylim(0, 1.22)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.axhline(results["retrained"]["forget_rouge"], color=PALETTE[5], lw=0.8, ls="--")
    ax.legend(fontsize=8, ncol=2, loc="upper center", frameon=False)
    run.add_figure(
        "Unlearning: forgetting without losing the rest", fig,
        caption="Dashed: forget ROUGE-L of the retrained model, the floor a model that never saw those people reaches "
        "from the shared answer templates.",
    )
    before, flat, ga = results["target"], results["flat"], results["ga"]
    group = "Unlearning (FLAT vs before and vs GA)"
    run.add_headline("FLAT forget ROUGE-L", flat["forget_rouge"], group=group,
                     baseline=before["forget_rouge"], baseline_label="before", better="lower")
    run.add_headline("FLAT retain ROUGE-L", flat["retain_rouge"], group=group,
                     baseline=before["retain_rouge"], baseline_label="before", better="higher")
    run.add_headline("FLAT forget quality", flat["forget_quality"], group=group,
                     baseline=ga["forget_quality"], baseline_label="GA", better="higher")
    return results


def demo_stage(run: Any, seed: int) -> dict:
    """``reliant demo`` entry point (also reachable as ``reliant.unlearning.api.demo_stage``)."""
    return builtin_demo(run, seed)
