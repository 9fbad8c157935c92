"""``reliant unlearn``: run one method, evaluate a model, or benchmark every method."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from reliant.core.cli_common import ConfigOption, OutOption, OverwriteOption, SeedOption, console, print_run_summary
from reliant.core.config import resolve_config
from reliant.core.rundir import run_directory
from reliant.unlearning.methods import METHOD_LABELS, available_methods

group = typer.Typer(help="Machine unlearning for LLMs: FLAT and baselines, TOFU/MUSE evaluation.", no_args_is_help=True)


@dataclass
class RunConfig:
    method: str = "flat"
    model: str = "tiny"
    forget: Optional[str] = None
    retain: Optional[str] = None
    templates: Optional[str] = None
    eval_forget: Optional[str] = None
    eval_retain: Optional[str] = None
    divergence: str = "kl"
    reduction: str = "paper"
    epochs: int = 5
    lr: float = 1e-4
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 192
    beta: float = 0.1
    retain_weight: float = 1.0
    lora_r: int = 0
    checkpoint_every: int = 0
    checkpoint_steps: int = 0
    checkpoint_dir: Optional[str] = None
    resume: Optional[str] = None
    compile: bool = False
    save_model: bool = True
    seed: int = 0


@dataclass
class EvalConfig:
    model: str = "tiny"
    forget: Optional[str] = None
    retain: Optional[str] = None
    real_authors: Optional[str] = None
    world_facts: Optional[str] = None
    retrained_model: Optional[str] = None
    muse: Optional[str] = None
    max_new_tokens: int = 64
    batch_size: int = 16
    seed: int = 0


def _methods_help() -> str:
    return "Unlearning method: " + ", ".join(f"{name} ({label})" for name, label in METHOD_LABELS.items()) + "."


@group.command("run")
def run_command(
    method: str = typer.Option(None, "--method", help=_methods_help()),
    model: str = typer.Option(None, "--model", help="HF id, local directory, or 'tiny' (built-in)."),
    forget: str = typer.Option(None, "--forget", help="Forget QA (jsonl/json/csv/parquet/HF id; 'tofu:forget05_perturbed')."),
    retain: str = typer.Option(None, "--retain", help="Retain QA (GD, GA+KL, NPO+GD, retain_ft)."),
    templates: str = typer.Option(None, "--templates", help="Template answers for FLAT/IdkDPO (default: TOFU idontknow)."),
    eval_forget: str = typer.Option(None, "--eval-forget", help="Forget QA with perturbed answers for evaluation (default: --forget)."),
    eval_retain: str = typer.Option(None, "--eval-retain", help="Retain QA for evaluation (default: --retain)."),
    divergence: str = typer.Option(None, "--divergence", help="FLAT f-divergence: kl, js, pearson, tv."),
    reduction: str = typer.Option(None, "--reduction", help="FLAT reduction: paper (per sample) or official (batch)."),
    epochs: int = typer.Option(None, "--epochs"),
    lr: float = typer.Option(None, "--lr"),
    batch_size: int = typer.Option(None, "--batch-size"),
    lora_r: int = typer.Option(None, "--lora-r", help="Train LoRA adapters of this rank instead of all weights."),
    checkpoint_every: int = typer.Option(None, "--checkpoint-every", help="Save a resumable checkpoint every N epochs (0: off)."),
    checkpoint_steps: int = typer.Option(None, "--checkpoint-steps", help="Save a resumable checkpoint every N optimizer steps (0: off)."),
    checkpoint_dir: str = typer.Option(None, "--checkpoint-dir", help="Checkpoint folder (default: <out>.checkpoints beside the run folder)."),
    resume: str = typer.Option(None, "--resume", help="Checkpoint folder of an interrupted run to continue from (same settings)."),
    compile: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile the model."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Unlearn a forget set from a model; writes the unlearned model, metrics and a report."""
    from reliant.unlearning.workflows import run_unlearning

    resolved = resolve_config(
        RunConfig, config, method=method, model=model, forget=forget, retain=retain, templates=templates,
        eval_forget=eval_forget, eval_retain=eval_retain, divergence=divergence, reduction=reduction, epochs=epochs,
        lr=lr, batch_size=batch_size, lora_r=lora_r, checkpoint_every=checkpoint_every,
        checkpoint_steps=checkpoint_steps, checkpoint_dir=checkpoint_dir, resume=resume,
        compile=compile, seed=seed,
    )
    path, lines = run_unlearning(resolved, out, overwrite)
    print_run_summary(path, lines)


@group.command("eval")
def eval_command(
    model: str = typer.Option(None, "--model", help="Model to evaluate (HF id, local directory, run_dir/model, 'tiny')."),
    forget: str = typer.Option(None, "--forget", help="Forget QA (TOFU *_perturbed format for truth ratio)."),
    retain: str = typer.Option(None, "--retain", help="Retain QA."),
    real_authors: str = typer.Option(None, "--real-authors", help="TOFU real_authors_perturbed (or 'tofu:real_authors_perturbed')."),
    world_facts: str = typer.Option(None, "--world-facts", help="TOFU world_facts_perturbed."),
    retrained_model: str = typer.Option(None, "--retrained-model", help="Retain-only model, for forget quality and PrivLeak."),
    muse: Path = typer.Option(None, "--muse", help="Folder of MUSE files (knowmem_*, verbmem_forget, privleak_*)."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """TOFU and MUSE metrics for a model (and forget quality/PrivLeak against a retrained one)."""
    from reliant.unlearning.workflows import run_evaluation

    resolved = resolve_config(
        EvalConfig, config, model=model, forget=forget, retain=retain, real_authors=real_authors,
        world_facts=world_facts, retrained_model=retrained_model, muse=str(muse) if muse else None, seed=seed,
    )
    path, lines = run_evaluation(resolved, out, overwrite)
    print_run_summary(path, lines)


@group.command("bench")
def bench_command(
    split: str = typer.Option(None, "--split", help="TOFU split to forget: forget01, forget05 or forget10."),
    methods: str = typer.Option(None, "--methods", help="Comma-separated methods (default: all but retain_ft): " + ", ".join(available_methods()) + "."),
    epochs: int = typer.Option(None, "--epochs", help="Unlearning epochs per method."),
    lr: float = typer.Option(None, "--lr", help="Learning rate for every method (default: 1e-4, TOFU-style one rate for all)."),
    divergence: str = typer.Option(None, "--divergence", help="FLAT f-divergence: kl, js, pearson, tv."),
    reduction: str = typer.Option(None, "--reduction", help="FLAT reduction: paper or official."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Every method on a TOFU split with tiny LMs: table, trade-off plot, sample generations."""
    from reliant.unlearning.bench import BenchConfig, check_config, run_benchmark

    resolved = resolve_config(
        BenchConfig, config, split=split, methods=methods, epochs=epochs, lr=lr, divergence=divergence,
        reduction=reduction, seed=seed,
    )
    check_config(resolved)  # every bad option fails here, before any model is trained
    from reliant.core.seeding import set_seed

    set_seed(resolved.seed)
    with run_directory("unlearn-bench", resolved, out, title=f"Unlearning benchmark: TOFU {resolved.split}", overwrite=overwrite) as run:
        results = run_benchmark(run, resolved)
        run.add_metrics(results)
    claim = results.get("claim", {})
    lines = [
        f"{row['method']:>18}: FQ {row['forget quality']:.3g}  MU {row['model utility']:.3f}  forget ROUGE {row['forget ROUGE-L']:.3f}"
        for row in results["table"]
    ]
    if claim:
        lines.append(f"FLAT keeps utility at or above GA/GD/NPO: {claim['flat_utility_at_or_above_baselines']}")
    print_run_summary(run.path, lines)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="unlearn")


__all__ = ["register", "console"]
