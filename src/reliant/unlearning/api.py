"""Python entry points for LLM unlearning: start with :func:`unlearn`.

>>> from reliant.unlearning import api
>>> model, tokenizer = api.load_model("tiny")                       # or an HF id / local dir
>>> forget = api.load_qa("forget.jsonl")                           # question/answer records
>>> result = api.unlearn(model, tokenizer, forget, method="flat")  # model is updated in place
>>> scores = api.evaluate_tofu(model, tokenizer, {"forget": api.load_tofu("forget05_perturbed")})

``api.available_methods()`` lists the registered methods (:mod:`reliant.unlearning.methods`).
The command line (``reliant unlearn run|eval|bench``) calls ``run_unlearning``,
``run_evaluation`` and ``run_bench`` in :mod:`reliant.unlearning.workflows` (the benchmark
itself is :func:`reliant.unlearning.bench.run_benchmark`), which add a run directory around
these same calls; their options are the dataclasses of :mod:`reliant.unlearning.config`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reliant.unlearning.config import BenchConfig, EvalConfig, MethodParams, RunConfig, UnlearnSettings
from reliant.unlearning.evaluate import (
    KNOWMEM_TOKENS,
    VERBMEM_TOKENS,
    TofuEvaluation,
    evaluate_tofu,
    mia_suite,
    muse_knowmem,
    muse_verbmem,
    privleak_auc,
)
from reliant.unlearning.inputs import MuseData, load_muse, load_qa, load_templates, load_texts, load_tofu, tofu_names
from reliant.unlearning.methods import METHOD_LABELS, available_methods
from reliant.unlearning.trainer import (
    TrainingInterrupted,
    TrainResult,
    UnlearnData,
    pair_templates,
    unlearn_model,
)

__all__ = [
    "BenchConfig",
    "EvalConfig",
    "METHOD_LABELS",
    "MethodParams",
    "RunConfig",
    "TrainResult",
    "TrainingInterrupted",
    "UnlearnSettings",
    "available_methods",
    "evaluate_muse",
    "evaluate_tofu",
    "load_model",
    "load_muse",
    "load_qa",
    "load_templates",
    "load_texts",
    "load_tofu",
    "tofu_names",
    "tofu_summary",
    "unlearn",
]

def load_model(name_or_path: str, *, lora_r: int = 0, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """A causal LM and tokenizer by HF id, local directory or ``tiny``; ``lora_r > 0``
    trains LoRA adapters of that rank instead of every weight."""
    from reliant.core.models import LoraSettings, load_causal_lm

    lora = LoraSettings(r=lora_r, alpha=2 * lora_r) if lora_r > 0 else None
    return load_causal_lm(name_or_path, device=device, dtype=dtype, lora=lora)


def unlearn(
    model: Any,
    tokenizer: Any,
    forget: Sequence[dict[str, Any]],
    *,
    method: str = "flat",
    retain: Sequence[dict[str, Any]] | None = None,
    templates: Sequence[str] | None = None,
    settings: UnlearnSettings | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    checkpoint_steps: int = 0,
    resume: bool = False,
    resume_command: str | None = None,
    **overrides: Any,
) -> TrainResult:
    """Unlearn ``forget`` (question/answer dicts) from ``model`` in place.

    ``templates``: refusal answers paired at random with forget questions (FLAT, IdkDPO),
    redrawn every epoch unless ``template_draw="once"``; default TOFU's ``idontknow`` list.
    A forget record with its own ``template`` field always uses that. ``overrides`` set :class:`UnlearnSettings` fields (``epochs=3``) or method
    parameters (``beta=0.2``, ``divergence="js"``), checked like the command line's flags.

    ``checkpoint_dir`` with ``checkpoint_every=N`` (epochs) or ``checkpoint_steps=N``
    (optimizer steps) saves resumable checkpoints there, and Ctrl-C saves one more and
    raises :class:`TrainingInterrupted`; ``resume=True`` continues from the latest one
    and ends on the same weights as an uninterrupted run.
    """
    from reliant.core.config import replace_config

    settings = replace_config(settings or UnlearnSettings(), method=method, **overrides)
    pool = list(templates) if templates is not None else load_templates()
    drawn = pair_templates(len(forget), pool, settings.seed) if forget else []
    pairs_templates = [str(r.get("template") or t) for r, t in zip(forget, drawn)]
    data = UnlearnData(
        forget=[(r["question"], r["answer"]) for r in forget],
        templates=pairs_templates,
        retain=[(r["question"], r["answer"]) for r in (retain or [])],
        template_pool=pool,
        own_template=[bool(r.get("template")) for r in forget],
    )
    return unlearn_model(
        model, tokenizer, data, settings,
        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir is not None else None,
        checkpoint_every=checkpoint_every, checkpoint_steps=checkpoint_steps, resume=resume,
        resume_command=resume_command,
    )


def evaluate_muse(model: Any, tokenizer: Any, data: MuseData, *, verbmem_tokens: int = VERBMEM_TOKENS,
                  knowmem_tokens: int = KNOWMEM_TOKENS, batch_size: int = 8, progress: str | None = None,
                  reference: Any = None) -> dict[str, float]:
    """MUSE's numbers on MUSE's 0-100 scale: VerbMem (128 new tokens against the reference
    cut to 128 tokens), KnowMem forget/retain (32 tokens, cut at MUSE's stop strings), the
    membership-attack AUCs on privleak_forget vs privleak_holdout (``mia_*``, forget texts as
    members, from :mod:`reliant.memorization.api`; ``reference`` adds the reference attack)
    and ``forget_holdout_auc``, MUSE's Min-40% AUC (holdout texts positive) that PrivLeak
    compares with the retrained model's. ``progress`` names the progress bars."""
    out: dict[str, float] = {}

    def label(what: str) -> str | None:
        return f"{progress} MUSE {what}" if progress else None

    if data.verbmem_forget:
        out["verbmem_forget"] = muse_verbmem(
            model, tokenizer, [r["prompt"] for r in data.verbmem_forget], [r["gt"] for r in data.verbmem_forget],
            max_new_tokens=verbmem_tokens, batch_size=batch_size, progress=label("VerbMem"),
        )
    for split in ("forget", "retain"):
        qa = getattr(data, f"knowmem_{split}")
        if qa:
            out[f"knowmem_{split}"] = muse_knowmem(
                model, tokenizer, [r["question"] for r in qa], [r["answer"] for r in qa],
                getattr(data, f"knowmem_{split}_icl") or (), max_new_tokens=knowmem_tokens, batch_size=batch_size,
                progress=label(f"KnowMem {split}"),
            )
    if data.privleak_forget and data.privleak_holdout:
        out.update(mia_suite(model, tokenizer, data.privleak_forget, data.privleak_holdout, batch_size=batch_size,
                             reference=reference, progress=label("membership attacks")))
        out["forget_holdout_auc"] = privleak_auc(out)
    return out


def tofu_summary(evaluation: TofuEvaluation, retrained_forget_truth: np.ndarray | None = None) -> dict[str, float]:
    """Flat ``set/metric`` numbers, model utility, and forget quality when the retrained
    model's forget-set truth ratios are given."""
    from reliant.unlearning import metrics

    flat: dict[str, float] = {}
    for set_name, values in evaluation.summary().items():
        for metric_name, value in values.items():
            flat[f"{set_name}/{metric_name}"] = value
    utility = evaluation.model_utility()
    if not math.isnan(utility):
        flat["model_utility"] = utility
    if retrained_forget_truth is not None and "forget" in evaluation.sets:
        flat["forget_quality"] = float(metrics.forget_quality(evaluation.forget_truth_ratios(), retrained_forget_truth))
    return flat


def demo_stage(run: Any, seed: int) -> dict:
    """Unlearning tour for ``reliant demo``: FLAT and two baselines on the built-in corpus
    (implemented in :mod:`reliant.unlearning.demo`)."""
    from reliant.unlearning.demo import demo_stage as run_demo

    return run_demo(run, seed)
