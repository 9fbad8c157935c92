"""Python entry points for LLM unlearning: start with :func:`unlearn`.

>>> from reliant.unlearning import api
>>> model, tokenizer = api.load_model("tiny")                       # or an HF id / local dir
>>> forget = api.load_qa("forget.jsonl")                           # question/answer records
>>> result = api.unlearn(model, tokenizer, forget, method="flat")  # model is updated in place
>>> scores = api.evaluate_tofu(model, tokenizer, {"forget": api.load_tofu("forget05_perturbed")})

``api.available_methods()`` lists the registered methods (:mod:`reliant.unlearning.methods`).
The command line (``reliant unlearn run|eval|bench``) calls ``run_unlearning`` and
``run_evaluation`` in :mod:`reliant.unlearning.workflows` and ``run_benchmark`` in
:mod:`reliant.unlearning.bench`, which add a run directory around these same calls.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reliant.core.data import Field, Records, Schema, load_records
from reliant.core.errors import ConfigError, DataError
from reliant.unlearning.evaluate import (
    TofuEvaluation,
    evaluate_tofu,
    min_k_auc,
    muse_knowmem,
    muse_verbmem,
)
from reliant.unlearning.methods import METHOD_LABELS, available_methods
from reliant.unlearning.trainer import (
    TrainingInterrupted,
    TrainResult,
    UnlearnData,
    UnlearnSettings,
    pair_templates,
    unlearn_model,
)

__all__ = [
    "METHOD_LABELS",
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

QA_SCHEMA = Schema([Field("question"), Field("answer")])
TOFU_EVAL_SCHEMA = Schema(
    [
        Field("question"),
        Field("answer"),
        Field("paraphrased_answer", required=False),
        Field("perturbed_answer", "list[str]", required=False),
    ]
)

_TOFU_DIR = files("reliant.unlearning") / "bench_data" / "tofu"


def tofu_names() -> list[str]:
    """Names of the TOFU files shipped with reliant (MIT licensed), e.g. ``forget05_perturbed``."""
    return sorted(p.name.removesuffix(".jsonl.gz") for p in _TOFU_DIR.iterdir() if p.name.endswith(".jsonl.gz"))


def load_tofu(name: str) -> Records:
    """A shipped TOFU split by name (``full``, ``forget01|05|10_perturbed``, ``retain_perturbed``,
    ``real_authors_perturbed``, ``world_facts_perturbed``)."""
    if name not in tofu_names():
        raise ConfigError(f"unknown TOFU split {name!r} (shipped: {', '.join(tofu_names())})", field="split")
    return load_records(str(_TOFU_DIR / f"{name}.jsonl.gz"), schema=TOFU_EVAL_SCHEMA)


def load_qa(path: str | os.PathLike, *, what: str = "data", evaluation: bool = False) -> Records:
    """Question/answer records from a file or dataset (TOFU's format: ``question``,
    ``answer``; with ``evaluation`` also ``paraphrased_answer`` and ``perturbed_answer``
    when present). ``tofu:<split>`` names a shipped TOFU file."""
    text = os.fspath(path)
    if text.startswith("tofu:"):
        return load_tofu(text.split(":", 1)[1])
    records = load_records(path, schema=TOFU_EVAL_SCHEMA if evaluation else QA_SCHEMA)
    if not records:
        raise DataError(f"the {what} set is empty", file=text)
    return records


def load_templates(path: str | os.PathLike | None = None) -> list[str]:
    """Template (refusal) answers for FLAT and IdkDPO: one per line in a text file, or a
    ``text``/``answer`` field in jsonl/json/csv. Default: TOFU's ``idontknow`` list."""
    if path is None:
        raw = gzip.decompress((_TOFU_DIR / "idontknow.txt.gz").read_bytes()).decode("utf-8")
        return [line.strip() for line in raw.splitlines() if line.strip()]
    file = Path(path)
    if file.suffix.lower() in (".txt", "") or (file.suffix.lower() == ".jsonl" and _plain_lines(file)):
        if not file.is_file():
            raise DataError("no such file", file=str(path), field="templates")
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        records = load_records(path)
        key = next((k for k in ("text", "answer", "template") if k in records[0]), None)
        if key is None:
            raise DataError("template records need a 'text' or 'answer' field", file=str(path), line=records[0].line, field="text")
        lines = [str(r[key]).strip() for r in records if str(r.get(key, "")).strip()]
    if not lines:
        raise DataError("the template answer list is empty", file=str(path), field="templates")
    return lines


def _plain_lines(file: Path) -> bool:
    # TOFU's idontknow.jsonl holds plain text lines despite its suffix.
    try:
        first = next((line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()), "")
    except OSError:
        return False
    return not first.lstrip().startswith("{")


def load_texts(path: str | os.PathLike, *, field: str = "text") -> list[str]:
    """A list of texts: a JSON list of strings (MUSE's privleak files), or records with ``field``."""
    file = Path(path)
    if file.suffix.lower() == ".json" and file.is_file():
        try:
            value = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON ({exc.msg})", file=str(path), line=exc.lineno) from None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            if not value:
                raise DataError("contains no texts", file=str(path))
            return value
    records = load_records(path, schema=Schema([Field(field)]))
    return [r[field] for r in records]


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
    resume: bool = False,
    resume_command: str | None = None,
    **overrides: Any,
) -> TrainResult:
    """Unlearn ``forget`` (question/answer dicts) from ``model`` in place.

    ``templates``: refusal answers paired at random with forget questions (FLAT, IdkDPO);
    default TOFU's ``idontknow`` list. A forget record with its own ``template`` field uses
    that instead. ``overrides`` set :class:`UnlearnSettings` fields (``epochs=3``...).

    ``checkpoint_dir`` with ``checkpoint_every=N`` (epochs) or ``checkpoint_steps=N``
    (optimizer steps) saves resumable checkpoints there, and Ctrl-C saves one more and
    raises :class:`TrainingInterrupted`; ``resume=True`` continues from the latest one
    and ends on the same weights as an uninterrupted run.
    """
    settings = settings or UnlearnSettings()
    settings = UnlearnSettings(**{**settings.__dict__, "method": method, **overrides})
    settings.check()
    pool = list(templates) if templates is not None else load_templates()
    drawn = pair_templates(len(forget), pool, settings.seed) if forget else []
    pairs_templates = [str(r.get("template") or t) for r, t in zip(forget, drawn)]
    data = UnlearnData(
        forget=[(r["question"], r["answer"]) for r in forget],
        templates=pairs_templates,
        retain=[(r["question"], r["answer"]) for r in (retain or [])],
    )
    return unlearn_model(
        model, tokenizer, data, settings,
        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir is not None else None, resume=resume,
        resume_command=resume_command,
    )


@dataclass
class MuseData:
    """MUSE evaluation files (published format): any may be missing."""

    knowmem_forget: list[dict] | None = None
    knowmem_retain: list[dict] | None = None
    knowmem_forget_icl: list[dict] | None = None
    knowmem_retain_icl: list[dict] | None = None
    verbmem_forget: list[dict] | None = None
    privleak_forget: list[str] | None = None
    privleak_holdout: list[str] | None = None


def load_muse(folder: str | os.PathLike) -> MuseData:
    """MUSE files from a folder laid out like the MUSE release (``knowmem_forget_qa.json``,
    ``knowmem_retain2_qa.json`` and their ``_icl`` prompts, ``verbmem_forget.json``,
    ``privleak_forget.json``, ``privleak_holdout.json``)."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError("no such MUSE folder", file=str(folder))

    def qa(name: str) -> list[dict] | None:
        path = root / f"{name}.json"
        return [dict(r) for r in load_records(path, schema=QA_SCHEMA)] if path.exists() else None

    verb = root / "verbmem_forget.json"
    data = MuseData(
        knowmem_forget=qa("knowmem_forget_qa"),
        knowmem_retain=qa("knowmem_retain2_qa") or qa("knowmem_retain_qa"),
        knowmem_forget_icl=qa("knowmem_forget_qa_icl"),
        knowmem_retain_icl=qa("knowmem_retain2_qa_icl") or qa("knowmem_retain_qa_icl"),
        verbmem_forget=[dict(r) for r in load_records(verb, schema=Schema([Field("prompt"), Field("gt")]))] if verb.exists() else None,
        privleak_forget=load_texts(root / "privleak_forget.json") if (root / "privleak_forget.json").exists() else None,
        privleak_holdout=load_texts(root / "privleak_holdout.json") if (root / "privleak_holdout.json").exists() else None,
    )
    if all(value is None for value in data.__dict__.values()):
        raise DataError("no MUSE files found (expected e.g. knowmem_forget_qa.json, verbmem_forget.json)", file=str(folder))
    return data


def evaluate_muse(model: Any, tokenizer: Any, data: MuseData, *, max_new_tokens: int = 64, batch_size: int = 8) -> dict[str, float]:
    """VerbMem, KnowMem (forget/retain) and the Min-K% (K=40%) forget-vs-holdout AUC that
    PrivLeak compares with the retrained model's."""
    out: dict[str, float] = {}
    if data.verbmem_forget:
        out["verbmem_forget"] = muse_verbmem(
            model, tokenizer, [r["prompt"] for r in data.verbmem_forget], [r["gt"] for r in data.verbmem_forget],
            max_new_tokens=max_new_tokens, batch_size=batch_size,
        )
    for split in ("forget", "retain"):
        qa = getattr(data, f"knowmem_{split}")
        if qa:
            out[f"knowmem_{split}"] = muse_knowmem(
                model, tokenizer, [r["question"] for r in qa], [r["answer"] for r in qa],
                getattr(data, f"knowmem_{split}_icl") or (), max_new_tokens=32, batch_size=batch_size,
            )
    if data.privleak_forget and data.privleak_holdout:
        out["mink_auc_forget_vs_holdout"] = min_k_auc(model, tokenizer, data.privleak_forget, data.privleak_holdout)
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
