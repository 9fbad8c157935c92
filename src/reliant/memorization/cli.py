"""``reliant memorization``: membership-inference audits, canary exposure, and
counterfactual memorization of small classifiers."""

from __future__ import annotations

from typing import Optional

import typer

from reliant.core.cli_common import ConfigOption, OutOption, OverwriteOption, SeedOption, print_run_summary
from reliant.core.config import resolve_config
from reliant.core.rundir import format_number, run_directory

group = typer.Typer(
    help="Memorization and membership inference: LM audits (LOSS, zlib, reference, Min-K%, Min-K%++, extraction), "
    "canary exposure, counterfactual memorization and LiRA on classifiers.",
    no_args_is_help=True,
)


def _summary(headline: dict) -> list[str]:
    return [f"{key}: {format_number(value)}" for key, value in headline.items()]


@group.command("audit")
def audit_command(
    model: Optional[str] = typer.Option(None, "--model", help="HF id, local directory or 'tiny:<name>'. Omit with the files for the built-in experiment."),
    members: Optional[str] = typer.Option(None, "--members", help="Texts the model was trained on (jsonl/json/csv/parquet with 'text', or 'question' and 'answer')."),
    nonmembers: Optional[str] = typer.Option(None, "--nonmembers", help="Texts it was not trained on, same format."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Reference model for the calibrated (likelihood-ratio) attack."),
    attacks: Optional[str] = typer.Option(None, "--attacks", help="Comma list of loss, zlib, reference, min_k, min_k_pp (default all)."),
    k: Optional[float] = typer.Option(None, "--k", help="Fraction of tokens for Min-K% and Min-K%++ (default 0.2)."),
    extract: Optional[bool] = typer.Option(None, "--extract/--no-extract", help="Also test greedy extraction of member suffixes."),
    prefix_tokens: Optional[int] = typer.Option(None, "--prefix-tokens", help="Prefix length for extraction of plain texts."),
    suffix_tokens: Optional[int] = typer.Option(None, "--suffix-tokens", help="Suffix length for extraction of plain texts."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N records of each file (0 = all)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda, ..."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Score a model on member and non-member texts with every membership attack."""
    from reliant.memorization.workflows import AuditConfig, run_audit

    cfg = resolve_config(AuditConfig, config, model=model, members=members, nonmembers=nonmembers, reference=reference,
                         attacks=attacks, k=k, extract=extract, prefix_tokens=prefix_tokens, suffix_tokens=suffix_tokens,
                         batch_size=batch_size, limit=limit, device=device, seed=seed)
    with run_directory("memorization audit", cfg, out, overwrite=overwrite, title="Membership-inference audit") as run:
        headline = run_audit(run, cfg)
    print_run_summary(run.path, _summary(headline))


@group.command("canaries")
def canaries_command(
    model: Optional[str] = typer.Option(None, "--model", help="Model to test; omit with --canaries for the built-in experiment."),
    canaries: Optional[str] = typer.Option(None, "--canaries", help="File with 'prefix', 'secret' (digits separated by spaces) and optional 'repetitions'."),
    n_candidates: Optional[int] = typer.Option(None, "--n-candidates", help="Secrets sampled per canary (0 = enumerate all; default 999)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    device: Optional[str] = typer.Option(None, "--device"),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Exposure of inserted canaries (secret sharer)."""
    from reliant.memorization.workflows import CanaryConfig, run_canaries

    cfg = resolve_config(CanaryConfig, config, model=model, canaries=canaries, n_candidates=n_candidates,
                         batch_size=batch_size, device=device, seed=seed)
    with run_directory("memorization canaries", cfg, out, overwrite=overwrite, title="Canary exposure") as run:
        headline = run_canaries(run, cfg)
    print_run_summary(run.path, _summary(headline))


@group.command("counterfactual")
def counterfactual_command(
    data: Optional[str] = typer.Option(None, "--data", help="Records with 'features' (list of numbers) and 'label' (default: digits with flipped labels)."),
    noise: Optional[float] = typer.Option(None, "--noise", help="Fraction of flipped labels in the built-in digits."),
    n_models: Optional[int] = typer.Option(None, "--n-models", help="Models trained on random subsets (default 16)."),
    inclusion: Optional[float] = typer.Option(None, "--inclusion", help="Probability an example is in a subset (default 0.5)."),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    lira_targets: Optional[int] = typer.Option(None, "--lira-targets", help="Models used in turn as LiRA targets."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Counterfactual memorization, forgetting events and LiRA on a small classifier."""
    from reliant.memorization.workflows import CounterfactualConfig, run_counterfactual

    cfg = resolve_config(CounterfactualConfig, config, data=data, noise=noise, n_models=n_models, inclusion=inclusion,
                         epochs=epochs, lira_targets=lira_targets, seed=seed)
    with run_directory("memorization counterfactual", cfg, out, overwrite=overwrite, title="Counterfactual memorization") as run:
        headline = run_counterfactual(run, cfg)
    print_run_summary(run.path, _summary(headline))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="memorization")
