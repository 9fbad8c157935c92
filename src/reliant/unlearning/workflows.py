"""The run-directory workflows behind ``reliant unlearn run`` and ``reliant unlearn eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reliant.core.errors import ConfigError
from reliant.core.plotting import PALETTE, new_figure
from reliant.core.rundir import run_directory
from reliant.core.seeding import set_seed
from reliant.unlearning.trainer import METHOD_LABELS, METHODS, UnlearnSettings


def _eval_sets(forget, retain) -> dict[str, list[dict]]:
    sets = {"forget": [dict(r) for r in forget]}
    if retain:
        sets["retain"] = [dict(r) for r in retain]
    return sets


def _score(model, tokenizer, sets, batch_size: int = 16, max_new_tokens: int = 64):
    from reliant.unlearning.evaluate import evaluate_tofu

    return evaluate_tofu(model, tokenizer, sets, batch_size=batch_size, max_new_tokens=max_new_tokens)


def run_unlearning(config: Any, out: Path | None, overwrite: bool) -> tuple[Path, list[str]]:
    """Load model and data, score before, unlearn, score after, save the model and report."""
    from reliant.unlearning.api import load_model, load_qa, load_templates, unlearn

    if config.method not in METHODS:
        raise ConfigError(f"unknown method {config.method!r} (methods: {', '.join(METHODS)})", field="method")
    if config.method != "retain_ft" and not config.forget:
        raise ConfigError("--forget FILE is required", field="forget")
    needs = METHODS[config.method]
    if needs["retain"] and not config.retain:
        raise ConfigError(f"method {config.method!r} needs --retain FILE", field="retain")
    # Validate every input before any model is loaded or trained.
    forget = load_qa(config.forget, what="forget", evaluation=True) if config.forget else []
    retain = load_qa(config.retain, what="retain", evaluation=True) if config.retain else []
    eval_forget = load_qa(config.eval_forget, what="forget", evaluation=True) if config.eval_forget else forget
    eval_retain = load_qa(config.eval_retain, what="retain", evaluation=True) if config.eval_retain else retain
    templates = load_templates(config.templates) if needs["template"] else None
    settings = UnlearnSettings(
        method=config.method, divergence=config.divergence, reduction=config.reduction, epochs=config.epochs,
        lr=config.lr, batch_size=config.batch_size, grad_accum=config.grad_accum, max_length=config.max_length,
        beta=config.beta, retain_weight=config.retain_weight, seed=config.seed, compile=config.compile,
        checkpoint_every=config.checkpoint_every,
    )
    settings.check()

    set_seed(config.seed)
    title = f"Unlearning with {METHOD_LABELS[config.method]}"
    with run_directory(f"unlearn-{config.method}", config, out, title=title, overwrite=overwrite) as run:
        model, tokenizer = load_model(config.model, lora_r=config.lora_r)
        sets = _eval_sets(eval_forget, eval_retain) if eval_forget else {"retain": [dict(r) for r in eval_retain]}
        before = _score(model, tokenizer, sets).summary()
        run.log(f"before: {before}")
        checkpoint_dir = Path(config.resume) if config.resume else (run.file("checkpoints") if config.checkpoint_every else None)
        result = unlearn(
            model, tokenizer, forget, method=config.method, retain=retain, templates=templates, settings=settings,
            checkpoint_dir=checkpoint_dir, resume=bool(config.resume),
        )
        after = _score(model, tokenizer, sets).summary()
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
    if "forget" in after:
        run.add_headline("forget ROUGE-L after", after["forget"]["rouge_l_recall"])
    if "retain" in after:
        run.add_headline("retain ROUGE-L after", after["retain"]["rouge_l_recall"])
    run.add_headline("training steps", result.steps)
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
        ax.set_ylabel(f"{METHOD_LABELS[config.method]} loss")
        run.add_figure("Training loss", fig)
    fig, ax = new_figure(5.6, 3.2)
    labels = [f"{s}\n{m}" for s in after for m in after[s]]
    x = np.arange(len(labels))
    ax.bar(x - 0.2, [before[s][m] for s in after for m in after[s]], width=0.4, label="before", color=PALETTE[1])
    ax.bar(x + 0.2, [after[s][m] for s in after for m in after[s]], width=0.4, label="after", color=PALETTE[2])
    ax.set_xticks(x, labels, fontsize=7)
    ax.legend()
    run.add_figure("Scores before and after", fig)


def run_evaluation(config: Any, out: Path | None, overwrite: bool) -> tuple[Path, list[str]]:
    """TOFU metrics on the given sets, MUSE metrics on a MUSE folder, and the reference
    comparisons (forget quality, PrivLeak) when a retrained model is given."""
    from reliant.unlearning import metrics
    from reliant.unlearning.api import evaluate_muse, load_model, load_muse, load_qa, tofu_summary

    sets: dict[str, list[dict]] = {}
    for name in ("forget", "retain", "real_authors", "world_facts"):
        path = getattr(config, name)
        if path:
            sets[name] = [dict(r) for r in load_qa(path, what=name, evaluation=True)]
    muse = load_muse(config.muse) if config.muse else None
    if not sets and muse is None:
        raise ConfigError("give at least one evaluation set (--forget, --retain, --real-authors, --world-facts) or --muse", field="forget")

    set_seed(config.seed)
    with run_directory("unlearn-eval", config, out, title=f"Unlearning evaluation of {config.model}", overwrite=overwrite) as run:
        results: dict[str, Any] = {}
        retrained_truth = None
        retrained_muse: dict[str, float] = {}
        if config.retrained_model:
            model, tokenizer = load_model(config.retrained_model)
            if "forget" in sets:
                retrained_truth = _score(model, tokenizer, {"forget": sets["forget"]}, config.batch_size, config.max_new_tokens).forget_truth_ratios()
            if muse is not None:
                retrained_muse = evaluate_muse(model, tokenizer, muse, max_new_tokens=config.max_new_tokens)
        model, tokenizer = load_model(config.model)
        if sets:
            evaluation = _score(model, tokenizer, sets, config.batch_size, config.max_new_tokens)
            if retrained_truth is not None and not len(retrained_truth):
                retrained_truth = None
            results["tofu"] = tofu_summary(evaluation, retrained_truth if retrained_truth is not None and len(evaluation.sets["forget"].truth_ratio) else None)
        if muse is not None:
            results["muse"] = evaluate_muse(model, tokenizer, muse, max_new_tokens=config.max_new_tokens)
            auc = results["muse"].get("mink_auc_forget_vs_holdout")
            if auc is not None and "mink_auc_forget_vs_holdout" in retrained_muse:
                results["muse"]["privleak"] = float(metrics.privleak(auc, retrained_muse["mink_auc_forget_vs_holdout"]))
        run.add_metrics(results)
        rows = [{"group": group, "metric": k, "value": v} for group, values in results.items() for k, v in values.items()]
        run.add_table("Scores", rows)
        for key in ("model_utility", "forget_quality"):
            if key in results.get("tofu", {}):
                run.add_headline(key.replace("_", " "), results["tofu"][key])
        fig, ax = new_figure(6.0, 0.35 * max(4, len(rows)) + 1)
        ax.barh([f"{r['group']}: {r['metric']}" for r in rows], [r["value"] for r in rows], color=PALETTE[0])
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        run.add_figure("Scores", fig)
    lines = [f"{r['group']} {r['metric']}: {r['value']:.4g}" for r in rows]
    return run.path, lines
