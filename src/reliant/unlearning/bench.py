"""The unlearning benchmark: every method on one TOFU split, against the retrained model.

No pretrained checkpoint can be downloaded here, so the benchmark follows TOFU's protocol
with tiny built-in LMs: a *target* model is trained from scratch on the retain authors,
the forget authors, and the real-authors / world-facts QA; a *retrained* model on the same
data without the forget authors (TOFU's retain-only gold reference). Both share one
tokenizer, as fine-tunes of one base model would. Each method then unlearns the forget
authors from a fresh copy of the target, and is scored with TOFU's metrics (forget
quality against the retrained model, model utility) and MUSE's (VerbMem on forget answers,
PrivLeak from the Min-K% attack on forget vs never-seen holdout authors, with MUSE's AUC
convention: a target that still knows the forget authors reads about -100 %, the retrained
model 0; the other membership attacks of :mod:`reliant.memorization.api` are reported as
``mia_*`` AUCs).

To keep the benchmark affordable on two CPU cores, the retain side is the first 20 authors
of TOFU (``retain_perturbed``, the 400 QA TOFU evaluates on) rather than all 180 or 190;
holdout authors (never trained on) are authors 20..29 of ``full``. TOFU's answers are long,
so training the two reference models dominates the first run (tens of minutes on two CPU
cores); they are cached for later runs.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reliant.core.errors import ConfigError
from reliant.core.plotting import PALETTE, new_figure
from reliant.core.progress import progress_bar
from reliant.core.prompts import qa_prompt, qa_text
from reliant.unlearning import metrics
from reliant.unlearning.config import SPLITS, BenchConfig, MethodParams, UnlearnSettings
from reliant.unlearning.evaluate import TofuEvaluation, evaluate_tofu, mia_suite, muse_verbmem, privleak_auc
from reliant.unlearning.methods import METHOD_LABELS, available_methods

__all__ = ["BenchConfig", "BenchData", "run_benchmark", "score_model", "tofu_bench_data", "train_reference_models"]

QA_PER_AUTHOR = 20

# Step sizes tuned once for the tiny models (a from-scratch 2M-parameter LM moves much
# more per step than a 7B fine-tune, so TOFU's 1e-5 would do nothing here).
# One learning rate for every method, as TOFU's protocol does. 3e-4 is the largest rate at
# which no method collapses the built-in tiny LM in 5 epochs (at 1e-3 FLAT and GA drive
# retain ROUGE-L to ~0); see docs/results/unlearning.md.
# The benchmark's and the demo's reference models: small enough to train in minutes on 2 CPU cores.
SMALL_LM_SETTINGS = dict(vocab_size=2048, hidden_size=128, num_layers=3, num_heads=4, intermediate_size=384)
DEMO_PEOPLE = 40

DEFAULT_LR = {method: 3e-4 for method in available_methods()}


# --------------------------------------------------------------------------- data


@dataclass
class BenchData:
    train_target: list[dict]
    train_retrained: list[dict]
    forget: list[dict]
    retain_eval: list[dict]
    real_authors: list[dict]
    world_facts: list[dict]
    holdout: list[dict]

    def eval_sets(self) -> dict[str, list[dict]]:
        return {"forget": self.forget, "retain": self.retain_eval, "real_authors": self.real_authors, "world_facts": self.world_facts}


def tofu_bench_data(split: str, eval_retain: int = 200, seed: int = 0) -> BenchData:
    """The benchmark's subsets of the shipped TOFU files (see the module docstring)."""
    from reliant.unlearning.api import load_tofu

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r} (choose {', '.join(SPLITS)})", field="split")
    full = [dict(r) for r in load_tofu("full")]
    forget = [dict(r) for r in load_tofu(f"{split}_perturbed")]
    retain = [dict(r) for r in load_tofu("retain_perturbed")]
    real = [dict(r) for r in load_tofu("real_authors_perturbed")]
    world = [dict(r) for r in load_tofu("world_facts_perturbed")]
    n_retain_authors = len(retain) // QA_PER_AUTHOR
    holdout = full[n_retain_authors * QA_PER_AUTHOR : (n_retain_authors + 10) * QA_PER_AUTHOR]
    forget_questions = {r["question"] for r in forget}
    assert not forget_questions & {r["question"] for r in retain + holdout}
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(retain), size=min(eval_retain, len(retain)), replace=False))
    return BenchData(
        train_target=retain + forget + real + world,
        train_retrained=retain + real + world,
        forget=forget,
        retain_eval=[retain[i] for i in chosen],
        real_authors=real,
        world_facts=world,
        holdout=holdout,
    )


def train_reference_models(data: BenchData, settings: Any, label: str) -> tuple[Path, Path]:
    """The target and retrained tiny LMs (cached after the first build)."""
    from reliant.core.tiny_lm import build_tiny_lm

    tokenizer_texts = [qa_text(r["question"], r["answer"]) for r in data.train_target + data.holdout]

    def build(records: list[dict], name: str) -> Path:
        return build_tiny_lm(
            [qa_prompt(r["question"]) for r in records], [r["answer"] for r in records],
            name=name, settings=settings, tokenizer_texts=tokenizer_texts,
        )

    return build(data.train_target, f"{label}-target"), build(data.train_retrained, f"{label}-retrained")


# --------------------------------------------------------------------------- scoring


@dataclass
class ModelScores:
    metrics: dict[str, float]
    evaluation: TofuEvaluation
    forget_holdout_auc: float
    """MUSE's Min-K% AUC, holdout texts positive (what PrivLeak compares)."""
    samples: list[str]


def _verbmem_pairs(records: Sequence[dict]) -> tuple[list[str], list[str]]:
    """MUSE-style verbatim probe on QA: the prompt holds the first half of the answer."""
    prompts, truths = [], []
    for r in records:
        words = r["answer"].split()
        cut = max(1, len(words) // 2)
        prompts.append(f"{qa_prompt(r['question'])} {' '.join(words[:cut])}")
        truths.append(" ".join(words[cut:]))
    return prompts, truths


def score_model(model: Any, tokenizer: Any, data: BenchData, config: BenchConfig, sample_questions: Sequence[str],
                progress: str | None = None) -> ModelScores:
    """TOFU and MUSE-style scores of one model; ``progress`` names its progress bars."""
    from reliant.core.models import greedy_generate

    def label(what: str) -> str | None:
        return f"{progress} {what}" if progress else None

    evaluation = evaluate_tofu(model, tokenizer, data.eval_sets(), batch_size=32, max_new_tokens=config.max_new_tokens,
                               progress=progress)
    flat = {f"{s}/{m}": v for s, values in evaluation.summary().items() for m, v in values.items()}
    utility = evaluation.model_utility()
    flat["model_utility"] = utility
    prompts, truths = _verbmem_pairs(data.forget)
    flat["verbmem_forget"] = muse_verbmem(model, tokenizer, prompts, truths, batch_size=32, progress=label("VerbMem"))
    flat.update(mia_suite(model, tokenizer, [qa_text(r["question"], r["answer"]) for r in data.forget],
                          [qa_text(r["question"], r["answer"]) for r in data.holdout], batch_size=32,
                          progress=label("membership attacks")))
    auc = privleak_auc(flat)
    flat["forget_holdout_auc"] = auc
    samples = greedy_generate(model, tokenizer, [qa_prompt(q) for q in sample_questions], max_new_tokens=config.max_new_tokens)
    return ModelScores(flat, evaluation, auc, samples)


def _with_reference(scores: ModelScores, retrained: ModelScores) -> None:
    scores.metrics["forget_quality"] = float(
        metrics.forget_quality(scores.evaluation.forget_truth_ratios(), retrained.evaluation.forget_truth_ratios())
    )
    scores.metrics["privleak"] = float(metrics.privleak(scores.forget_holdout_auc, retrained.forget_holdout_auc))


# --------------------------------------------------------------------------- the run


def method_settings(config: BenchConfig, method: str) -> UnlearnSettings:
    """The training settings of one benchmarked method: the bench's shared rate, epochs and
    batch, FLAT's divergence, and every method's own published defaults."""
    lr = config.lr if config.lr is not None else DEFAULT_LR[method]
    params = MethodParams(divergence=config.flat.divergence, reduction=config.flat.reduction)
    return UnlearnSettings(
        method=method, epochs=config.epochs, lr=lr, batch_size=config.batch_size, seed=config.seed, method_params=params,
    )


def run_benchmark(run: Any, config: BenchConfig) -> dict[str, Any]:
    """Train references, run every method, score, and fill ``run`` with table and plots."""
    from reliant.core.models import load_causal_lm
    from reliant.core.tiny_lm import TinyLMSettings
    from reliant.unlearning.api import load_templates, unlearn

    methods = list(config.methods)
    data = tofu_bench_data(config.split, config.eval_retain, config.seed)
    run.log(
        f"TOFU {config.split}: target trained on {len(data.train_target)} QA, retrained on "
        f"{len(data.train_retrained)}, forget {len(data.forget)}, holdout {len(data.holdout)}"
    )
    # The default tiny architecture would take tens of minutes on TOFU's long answers.
    settings = TinyLMSettings(**{**SMALL_LM_SETTINGS, "epochs": config.target_epochs, "seed": config.seed})
    sample_questions = [r["question"] for r in data.forget[: config.samples]]
    rows: dict[str, ModelScores] = {}
    templates = load_templates()
    retain_records = data.train_retrained
    histories: dict[str, list[dict]] = {}
    timings: dict[str, dict[str, float]] = {}
    # One bar over the stages (reference models, their scores, one stage per method); each
    # stage draws its own bars below it (tiny-LM training, unlearning steps, scoring passes).
    with progress_bar(f"unlearn bench TOFU {config.split}", total=2 + len(methods)) as stages:
        stages.advance(0, status="training the target and retrained models")
        began = time.perf_counter()
        target_dir, retrained_dir = train_reference_models(data, settings, f"tofu-{config.split}")
        run.log(f"reference models ready in {time.perf_counter() - began:.0f} s: {target_dir.name}, {retrained_dir.name}")
        stages.advance(1, status="scoring the target and retrained models")
        model, tokenizer = load_causal_lm(str(retrained_dir), device="cpu")
        retrained = score_model(model, tokenizer, data, config, sample_questions, progress="retrained")
        model, tokenizer = load_causal_lm(str(target_dir), device="cpu")
        target = score_model(model, tokenizer, data, config, sample_questions, progress="target")
        for scores in (target, retrained):
            _with_reference(scores, retrained)
        rows["target"], rows["retrained"] = target, retrained
        for method in methods:
            stages.advance(1, status=METHOD_LABELS[method])
            model, tokenizer = load_causal_lm(str(target_dir), device="cpu")
            settings = method_settings(config, method)
            lr = settings.lr
            result = unlearn(model, tokenizer, data.forget, method=method, retain=retain_records, templates=templates,
                             settings=settings)
            scores = score_model(model, tokenizer, data, config, sample_questions, progress=METHOD_LABELS[method])
            _with_reference(scores, retrained)
            rows[method] = scores
            histories[method] = result.history
            timings[method] = {"seconds": result.seconds, "tokens_per_second": result.tokens / max(result.seconds, 1e-9),
                               "lr": lr}
            run.log(
                f"{METHOD_LABELS[method]}: FQ {scores.metrics['forget_quality']:.3g}, "
                f"MU {scores.metrics['model_utility']:.3f}, forget ROUGE {scores.metrics['forget/rouge_l_recall']:.3f} "
                f"({result.seconds:.0f} s)"
            )
        stages.advance(1, status="done")

    table = _table(rows, timings)
    _report(run, config, rows, table, histories, sample_questions, data)
    return {
        "split": config.split,
        "methods": {name: {**scores.metrics, **timings.get(name, {})} for name, scores in rows.items()},
        "table": table,
        "claim": _claim(rows, methods),
        "config": asdict(config),
    }


def _label(name: str) -> str:
    return {"target": "Target (before)", "retrained": "Retrained (gold)"}.get(name, METHOD_LABELS.get(name, name))


def _table(rows: dict[str, ModelScores], timings: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    table = []
    for name, scores in rows.items():
        m = scores.metrics
        table.append(
            {
                "method": _label(name),
                "forget quality": m["forget_quality"],
                "log10 FQ": math.log10(max(m["forget_quality"], 1e-300)),
                "model utility": m["model_utility"],
                "forget ROUGE-L": m["forget/rouge_l_recall"],
                "forget prob": m["forget/probability"],
                "retain ROUGE-L": m["retain/rouge_l_recall"],
                "extraction strength": m["forget/extraction_strength"],
                "VerbMem": m["verbmem_forget"],
                "MIA Min-K++ AUC": m["mia_min_k_pp"],
                "PrivLeak %": m["privleak"],
                "seconds": timings.get(name, {}).get("seconds", float("nan")),
            }
        )
    return table


def _claim(rows: dict[str, ModelScores], methods: list[str]) -> dict[str, Any]:
    """The paper's qualitative claim, checked: FLAT forgets (forget quality well above the
    target's) while keeping model utility at or above GA, GD and NPO."""
    if "flat" not in rows:
        return {}
    flat = rows["flat"].metrics
    target = rows["target"].metrics
    compared = {m: rows[m].metrics["model_utility"] for m in ("ga", "gd", "npo", "npo_forget") if m in rows}
    return {
        "flat_forget_quality_over_target": flat["forget_quality"] / max(target["forget_quality"], 1e-300),
        "flat_model_utility": flat["model_utility"],
        "baseline_model_utility": compared,
        "flat_utility_at_or_above_baselines": all(flat["model_utility"] >= v for v in compared.values()),
        "flat_forgets": flat["forget_quality"] > 10 * target["forget_quality"]
        and flat["forget/rouge_l_recall"] < target["forget/rouge_l_recall"],
    }


def _report(run: Any, config: BenchConfig, rows, table, histories, sample_questions, data) -> None:
    target, retrained = rows["target"].metrics, rows["retrained"].metrics
    run.add_headline("target forget quality", target["forget_quality"], group="Target (before) vs retrained (gold)",
                     baseline=retrained["forget_quality"], baseline_label="retrained", better="higher")
    run.add_headline("target model utility", target["model_utility"], group="Target (before) vs retrained (gold)",
                     baseline=retrained["model_utility"], baseline_label="retrained", better="higher")
    ga = rows["ga"].metrics if "ga" in rows else None
    for name, scores in rows.items():
        if name in ("target", "retrained"):
            continue
        m, label = scores.metrics, METHOD_LABELS[name]
        if ga is not None and name != "ga":
            group, baseline, baseline_label = f"{label} vs GA", ga, "GA"
        else:  # GA itself (or no GA in this run): against the model before unlearning
            group, baseline, baseline_label = f"{label} vs before", target, "before"
        run.add_headline(f"{label} forget quality", m["forget_quality"], group=group,
                         baseline=baseline["forget_quality"], baseline_label=baseline_label, better="higher")
        run.add_headline(f"{label} model utility", m["model_utility"], group=group,
                         baseline=baseline["model_utility"], baseline_label=baseline_label, better="higher")
        run.add_headline(f"{label} forget ROUGE-L", m["forget/rouge_l_recall"], group=group,
                         baseline=baseline["forget/rouge_l_recall"], baseline_label=baseline_label, better="lower")
    run.add_table(
        f"TOFU {config.split}: every method against the retrained model",
        table,
        caption="Compare each method's row with the retrained row (the goal) and the target row (the start). "
        "Forget quality: KS-test p-value of forget-set truth ratios against the retrained model (higher is "
        "better; the retrained model scores 1). Model utility: TOFU's harmonic mean over retain, real authors and "
        "world facts. PrivLeak: relative gap of MUSE's Min-K% AUC to the retrained model's (0 is ideal; about -100 "
        "means the forget set still looks trained on). VerbMem on MUSE's 0-100 scale.",
    )

    fig, ax = new_figure(6.4, 4.2)
    for i, (name, scores) in enumerate(rows.items()):
        m = scores.metrics
        marker = {"target": "X", "retrained": "*"}.get(name, "o")
        size = 160 if name in ("target", "retrained", "flat") else 70
        color = "black" if name in ("target", "retrained") else PALETTE[i % len(PALETTE)]
        ax.scatter(m["model_utility"], max(m["forget_quality"], 1e-30), s=size, marker=marker, color=color,
                   edgecolor="black" if name == "flat" else None, linewidths=1.5, zorder=3)
        ax.annotate(_label(name), (m["model_utility"], max(m["forget_quality"], 1e-30)), textcoords="offset points",
                    xytext=(6, 4), fontsize=8, fontweight="bold" if name == "flat" else "normal")
    ax.set_yscale("log")
    ax.set_xlabel("model utility (higher is better)")
    ax.set_ylabel("forget quality (KS p-value, log)")
    ax.set_title(f"Forgetting vs utility on TOFU {config.split} (tiny LM)")
    run.add_figure("Trade-off: forget quality vs model utility", fig,
                   caption="Up and to the right is better: look for methods that rise from the target (X) towards the "
                   "retrained model (*) without moving left, i.e. forgetting without losing utility.",
                   save_as="tradeoff.png")

    fig, ax = new_figure(6.4, 3.6)
    for i, (method, history) in enumerate(histories.items()):
        losses = [h["loss"] for h in history]
        if losses:
            ax.plot(np.arange(1, len(losses) + 1), losses, label=METHOD_LABELS[method], color=PALETTE[(i + 2) % len(PALETTE)])
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=7, ncol=3)
    run.add_figure("Unlearning losses", fig,
                   caption="Training loss per step for each method; a loss that runs away downwards marks a method "
                   "that is destroying the model rather than forgetting.")

    sample_rows = []
    for q_index, question in enumerate(sample_questions):
        row = {"question": question, "true answer": data.forget[q_index]["answer"]}
        for name, scores in rows.items():
            row[_label(name)] = scores.samples[q_index]
        sample_rows.append(row)
    run.add_table("Sample generations on forget questions", sample_rows)


# --------------------------------------------------------------------------- demo models


def demo_settings() -> Any:
    """The tiny-LM architecture of the demo's reference models (see :mod:`.demo`)."""
    from reliant.core.tiny_lm import TinyLMSettings

    return TinyLMSettings(**SMALL_LM_SETTINGS)
