"""The run-directory workflows behind ``reliant unlearn run``, ``eval`` and ``bench``.

Each ``run_*(config, out, overwrite) -> (run folder, summary lines)`` checks the output
folder and reads every input file (through :mod:`reliant.unlearning.inputs`, which has no
torch) *before* torch is imported or a model loads, so a bad file or flag is a one-line
error within a second or two.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from reliant.core.config import config_to_dict, replace_config
from reliant.core.errors import ConfigError
from reliant.core.rundir import check_output_dir, is_within, run_directory
from reliant.core.seeding import set_seed
from reliant.unlearning import checkpoints
from reliant.unlearning.config import BenchConfig, EvalConfig, RunConfig
from reliant.unlearning.inputs import load_muse, load_qa, load_templates
from reliant.unlearning.methods import METHOD_LABELS, get_method

__all__ = ["run_bench", "run_evaluation", "run_unlearning"]


def _eval_sets(forget, retain) -> dict[str, list[dict]]:
    sets = {"forget": [dict(r) for r in forget]}
    if retain:
        sets["retain"] = [dict(r) for r in retain]
    return sets


def _score(model, tokenizer, sets, batch_size: int = 16, max_new_tokens: int = 200, progress: str | None = None):
    from reliant.unlearning.evaluate import evaluate_tofu

    return evaluate_tofu(model, tokenizer, sets, batch_size=batch_size, max_new_tokens=max_new_tokens, progress=progress)


def _checkpoint_dir(config: Any, final: Path) -> Path | None:
    """Where this run's checkpoints go: ``--checkpoint-dir``, the folder it resumes from, or
    ``<out>.checkpoints`` beside the run folder (never inside it, so they outlive a failed
    or interrupted run). A folder without a checkpoint to resume from fails here, before
    any model is loaded."""
    if config.resume:
        saved = checkpoints.find(config.resume)
        if config.checkpoint_dir and Path(config.checkpoint_dir).resolve() != saved.root.resolve():
            raise ConfigError("--checkpoint-dir and --resume name different folders; a resumed run keeps writing "
                              "into the folder it resumes from", field="checkpoint_dir")
        folder = saved.root
    elif config.checkpoint_dir:
        folder = Path(config.checkpoint_dir)
    elif config.checkpoint_every or config.checkpoint_steps:
        folder = checkpoints.default_dir(final)
    else:
        return None
    if is_within(folder, final):
        raise ConfigError(f"the checkpoint folder {folder} must not lie inside the run folder --out {final} "
                          "(it would be lost when the run folder is replaced)", field="checkpoint_dir")
    if folder.exists() and not folder.is_dir():
        raise ConfigError("checkpoint folder is a file", file=folder, field="checkpoint_dir")
    return folder


def _write_resume_config(folder: Path, config: Any) -> None:
    """The resolved config beside the checkpoints, so the resume command is exact."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    values = {k: v for k, v in config_to_dict(config).items() if k not in ("resume", "checkpoint_dir")}
    text = yaml.safe_dump(values, sort_keys=False, allow_unicode=True)
    tmp = folder / ".run.yaml.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(folder / "run.yaml")


def _resume_command(folder: Path, final: Path) -> str:
    quote = shlex.quote
    return (
        f"reliant unlearn run --config {quote(str(folder / 'run.yaml'))} --resume {quote(str(folder))} "
        f"--out {quote(str(final))}"
    )


def _inputs(*paths: str | None) -> list[str]:
    """The given paths that name local files or folders (not ``tofu:`` splits or HF ids)."""
    return [p for p in paths if p and not p.startswith("tofu:") and Path(p).exists()]


def run_unlearning(config: RunConfig, out: Path | None, overwrite: bool) -> tuple[Path, list[str]]:
    """Load model and data, score before, unlearn, score after, save the model and report."""
    config = replace_config(config)  # a config built in Python is checked like flags
    train = config.train
    method = get_method(train.method)
    command = f"unlearn-{train.method}"
    inputs = _inputs(config.forget, config.retain, config.templates, config.eval_forget, config.eval_retain, config.model)
    # Every input is validated before torch is imported or any model is loaded.
    final = check_output_dir(out, config=config, inputs=inputs, overwrite=overwrite, command=command)
    checkpoint_dir = _checkpoint_dir(config, final)
    forget = load_qa(config.forget, what="forget", evaluation=True) if config.forget else []
    retain = load_qa(config.retain, what="retain", evaluation=True) if config.retain else []
    eval_forget = load_qa(config.eval_forget, what="forget", evaluation=True) if config.eval_forget else forget
    eval_retain = load_qa(config.eval_retain, what="retain", evaluation=True) if config.eval_retain else retain
    templates = load_templates(config.templates) if "template" in method.needs else None

    # Heavy imports only now that every input is known to be good.
    from reliant.unlearning.api import load_model, unlearn

    set_seed(train.seed)
    title = f"Unlearning with {METHOD_LABELS[train.method]}"
    with run_directory(command, config, final, title=title, overwrite=overwrite, inputs=inputs) as run:
        if checkpoint_dir is not None:
            _write_resume_config(checkpoint_dir, config)
        model, tokenizer = load_model(config.model, lora_r=config.lora_r)
        sets = _eval_sets(eval_forget, eval_retain) if eval_forget else {"retain": [dict(r) for r in eval_retain]}
        before = _score(model, tokenizer, sets, progress="before").summary()
        run.log(f"before: {before}")
        if checkpoint_dir is not None:
            run.log(f"checkpoints in {checkpoint_dir}")
        result = unlearn(
            model, tokenizer, forget, method=train.method, retain=retain, templates=templates, settings=train,
            checkpoint_dir=checkpoint_dir, checkpoint_every=config.checkpoint_every,
            checkpoint_steps=config.checkpoint_steps, resume=bool(config.resume),
            resume_command=_resume_command(checkpoint_dir, final) if checkpoint_dir is not None else None,
        )
        after = _score(model, tokenizer, sets, progress="after").summary()
        run.log(f"after: {after}")
        if config.save_model:
            target = run.file("model")
            to_save = model.merge_and_unload() if config.lora_r > 0 and hasattr(model, "merge_and_unload") else model
            to_save.save_pretrained(target)
            tokenizer.save_pretrained(target)
        metrics = {
            "before": before,
            "after": after,
            "steps": result.steps,
            "train_seconds": result.seconds,
            "tokens_per_second": result.tokens / max(result.seconds, 1e-9),
        }
        run.add_metrics(metrics)
        _report_run(run, config, before, after, result)
    lines = [
        f"{name}: ROUGE-L {before[name]['rouge_l_recall']:.3f} -> {after[name]['rouge_l_recall']:.3f}, "
        f"probability {before[name]['probability']:.3f} -> {after[name]['probability']:.3f}"
        for name in after
    ]
    return run.path, lines


def _report_run(run, config, before, after, result) -> None:
    import numpy as np

    from reliant.core.plotting import PALETTE, new_figure

    label = METHOD_LABELS[config.train.method]
    group = f"{label}: after unlearning vs before"
    if "forget" in after:
        run.add_headline("forget ROUGE-L after", after["forget"]["rouge_l_recall"], group=group,
                         baseline=before["forget"]["rouge_l_recall"], baseline_label="before", better="lower")
        run.add_headline("forget probability after", after["forget"]["probability"], group=group,
                         baseline=before["forget"]["probability"], baseline_label="before", better="lower")
    if "retain" in after:
        run.add_headline("retain ROUGE-L after", after["retain"]["rouge_l_recall"], group=group,
                         baseline=before["retain"]["rouge_l_recall"], baseline_label="before", better="higher")
    run.add_headline("training steps", result.steps, group="Training")
    rows = []
    for set_name in after:
        for metric_name in after[set_name]:
            rows.append({"set": set_name, "metric": metric_name, "before": before[set_name][metric_name], "after": after[set_name][metric_name]})
    run.add_table("Before and after unlearning", rows)
    losses = [h["loss"] for h in result.history]
    if losses:
        fig, ax = new_figure()
        ax.plot(np.arange(1, len(losses) + 1), losses, color=PALETTE[0])
        ax.set_xlabel("step")
        ax.set_ylabel(f"{label} loss")
        run.add_figure("Training loss", fig, caption="The unlearning objective per optimizer step; a steady, "
                       "bounded curve is healthy, one that runs away marks a collapsing model.")
    fig, ax = new_figure(5.6, 3.2)
    labels = [f"{s}\n{m}" for s in after for m in after[s]]
    x = np.arange(len(labels))
    ax.bar(x - 0.2, [before[s][m] for s in after for m in after[s]], width=0.4, label="before", color=PALETTE[1])
    ax.bar(x + 0.2, [after[s][m] for s in after for m in after[s]], width=0.4, label="after", color=PALETTE[2])
    ax.set_xticks(x, labels, fontsize=7)
    ax.legend()
    run.add_figure("Scores before and after", fig, caption="Forget-set bars should drop after unlearning; "
                   "retain-set bars should stay where they were.")


def run_evaluation(config: EvalConfig, out: Path | None, overwrite: bool) -> tuple[Path, list[str]]:
    """TOFU metrics on the given sets, MUSE metrics on a MUSE folder, and the reference
    comparisons (forget quality, PrivLeak) when a retrained model is given."""
    config = replace_config(config)  # a config built in Python is checked like flags
    names = ("forget", "retain", "real_authors", "world_facts")
    inputs = _inputs(*(getattr(config, n) for n in names), config.muse, config.model, config.retrained_model,
                     config.retain_logs)
    # Every input is validated before torch is imported or any model is loaded.
    final = check_output_dir(out, config=config, inputs=inputs, overwrite=overwrite, command="unlearn-eval")
    sets: dict[str, list[dict]] = {}
    for name in names:
        path = getattr(config, name)
        if path:
            sets[name] = [dict(r) for r in load_qa(path, what=name, evaluation=True)]
    muse = load_muse(config.muse) if config.muse else None
    stored_truth, stored_auc = (None, None)
    if config.retain_logs:
        from reliant.unlearning.metrics import read_retain_logs  # numpy/scipy only, no torch

        stored_truth, stored_auc = read_retain_logs(config.retain_logs)

    # Heavy imports only now that every input is known to be good.
    from reliant.unlearning import metrics
    from reliant.unlearning.api import evaluate_muse, load_model, tofu_summary

    set_seed(config.seed)
    title = f"Unlearning evaluation of {config.model}"
    with run_directory("unlearn-eval", config, final, title=title, overwrite=overwrite, inputs=inputs) as run:
        results: dict[str, Any] = {}
        retrained_truth = stored_truth
        retrained_auc = stored_auc
        if config.retrained_model:
            model, tokenizer = load_model(config.retrained_model)
            if "forget" in sets:
                retrained_truth = _score(model, tokenizer, {"forget": sets["forget"]}, config.batch_size,
                                         config.max_new_tokens, progress="retrained").forget_truth_ratios()
            if muse is not None:
                retrained_auc = evaluate_muse(model, tokenizer, muse, progress="retrained").get("forget_holdout_auc")
        model, tokenizer = load_model(config.model)
        forget_truth = None
        if sets:
            evaluation = _score(model, tokenizer, sets, config.batch_size, config.max_new_tokens, progress="model")
            if retrained_truth is not None and not len(retrained_truth):
                retrained_truth = None
            has_truth = "forget" in evaluation.sets and len(evaluation.sets["forget"].truth_ratio)
            forget_truth = evaluation.forget_truth_ratios() if has_truth else None
            if has_truth and retrained_truth is not None and len(retrained_truth) != len(forget_truth):
                raise ConfigError(f"the retain model's log has {len(retrained_truth)} forget truth ratios, this "
                                  f"forget set {len(forget_truth)} questions", file=config.retain_logs, field="forget")
            results["tofu"] = tofu_summary(evaluation, retrained_truth if has_truth else None)
        auc = None
        if muse is not None:
            results["muse"] = evaluate_muse(model, tokenizer, muse, progress="model")
            auc = results["muse"].get("forget_holdout_auc")
            if auc is not None and retrained_auc is not None:
                # MUSE's convention (holdout texts positive): about -100 % for a model that still knows the forget set.
                results["muse"]["privleak"] = float(metrics.privleak(auc, retrained_auc))
        run.add_metrics(results)
        # This model's evaluation as a retain-model log (OpenUnlearning's format), for --retain-logs.
        logs = metrics.retain_logs(forget_truth, None if auc is None else 1.0 - auc)
        if logs:
            run.file("TOFU_EVAL.json").write_text(json.dumps(logs, indent=1), encoding="utf-8")
        rows = [{"group": group, "metric": k, "value": v} for group, values in results.items() for k, v in values.items()]
        run.add_table("Scores", rows)
        _report_evaluation(run, results, rows, retrained_truth is not None)
    lines = [f"{r['group']} {r['metric']}: {r['value']:.4g}" for r in rows]
    return run.path, lines


def _report_evaluation(run, results: dict[str, Any], rows: list[dict], against_retrained: bool) -> None:
    from reliant.core.plotting import PALETTE, new_figure

    tofu = results.get("tofu", {})
    if "model_utility" in tofu:
        run.add_headline("model utility", tofu["model_utility"], group="TOFU", better="higher")
    if "forget_quality" in tofu:
        # The retrained model's forget quality against itself is 1 by definition (KS p-value).
        run.add_headline("forget quality", tofu["forget_quality"], group="TOFU: this model vs the retrained model",
                         baseline=1.0, baseline_label="retrained model", better="higher")
    for name in ("forget", "retain"):
        key = f"{name}/rouge_l_recall"
        if key in tofu:
            run.add_headline(f"{name} ROUGE-L", tofu[key], group="TOFU",
                             better="lower" if name == "forget" else "higher")
    if "privleak" in results.get("muse", {}):
        run.add_headline("PrivLeak %", results["muse"]["privleak"], group="MUSE: this model vs the retrained model",
                         baseline=0.0, baseline_label="retrained model")
    fig, ax = new_figure(6.0, 0.35 * max(4, len(rows)) + 1)
    ax.barh([f"{r['group']}: {r['metric']}" for r in rows], [r["value"] for r in rows], color=PALETTE[0])
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    run.add_figure("Scores", fig, caption="Every score of this model; read forget-set numbers as 'lower is "
                   "better' and retain, real-author and world-fact numbers as 'higher is better'"
                   + (" (forget quality: higher is better, 1 is the retrained model)." if against_retrained else "."))


def run_bench(config: BenchConfig, out: Path | None, overwrite: bool) -> tuple[Path, list[str]]:
    """``reliant unlearn bench``: every method on a TOFU split (see :mod:`reliant.unlearning.bench`)."""
    config = replace_config(config)  # every bad option fails here, before any model is trained
    final = check_output_dir(out, config=config, overwrite=overwrite, command="unlearn-bench")
    # Heavy imports only now that every option is known to be good.
    from reliant.unlearning.bench import run_benchmark

    set_seed(config.seed)
    title = f"Unlearning benchmark: TOFU {config.split}"
    with run_directory("unlearn-bench", config, final, title=title, overwrite=overwrite) as run:
        results = run_benchmark(run, config)
        run.add_metrics(results)
    claim = results.get("claim", {})
    lines = [
        f"{row['method']:>18}: FQ {row['forget quality']:.3g}  MU {row['model utility']:.3f}  "
        f"forget ROUGE {row['forget ROUGE-L']:.3f}"
        for row in results["table"]
    ]
    if claim:
        lines.append(f"FLAT keeps utility at or above GA/GD/NPO: {claim['flat_utility_at_or_above_baselines']}")
    return run.path, lines
