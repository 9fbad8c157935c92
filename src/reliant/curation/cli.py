"""``reliant curate``: label-noise diagnosis (HOC), detection (SimiFeat) and DS2 data selection."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reliant.core.cli_common import ConfigOption, OutOption, OverwriteOption, SeedOption, print_run_summary
from reliant.core.config import resolve_config

group = typer.Typer(
    help="Label-noise diagnosis (HOC), label-error detection (SimiFeat) and LLM-rated data selection (DS2).",
    no_args_is_help=True,
)

_FEATURES = typer.Option(None, "--features", help="Feature/embedding array (.npy/.csv/.pt/.safetensors), rows x dims.")
_LABELS = typer.Option(None, "--labels", help="Noisy labels, one integer per row (array file).")
_DATA = typer.Option(None, "--data", help="Records file (jsonl/json/csv/parquet) with texts to embed (and labels).")
_TEXT_FIELD = typer.Option(None, "--text-field", help="Text field of --data (default text).")
_LABEL_FIELD = typer.Option(None, "--label-field", help="Label field of --data when --labels is not given (default label).")
_CLEAN = typer.Option(None, "--clean-labels", help="Known clean labels, to score the estimate (optional).")
_K = typer.Option(None, "--num-classes", help="Number of classes (default: largest label + 1).")
_CACHE = typer.Option(None, "--embedding-cache", help=".npy file to keep the embeddings of --data in.")
_KNN = typer.Option(None, "--k", help="Neighbours per sample for the SimiFeat vote (default 10).")
_ROUNDS = typer.Option(None, "--rounds", help="HOC subsample rounds (default 20).")
_FRACTION = typer.Option(None, "--sample-fraction", help="Share of rows in each HOC round (default 0.8).")
_STEPS = typer.Option(None, "--steps", help="Optimiser steps solving the consensus equations (default 1500).")
_BACKEND = typer.Option(None, "--knn-backend", help="auto, exact or ivf (approximate, for very large pools).")


@group.command("diagnose")
def diagnose_command(
    features: Optional[Path] = _FEATURES, labels: Optional[Path] = _LABELS, data: Optional[Path] = _DATA,
    text_field: Optional[str] = _TEXT_FIELD, label_field: Optional[str] = _LABEL_FIELD,
    clean_labels: Optional[Path] = _CLEAN, num_classes: Optional[int] = _K, embedding_cache: Optional[Path] = _CACHE,
    k: Optional[int] = _KNN, rounds: Optional[int] = _ROUNDS, sample_fraction: Optional[float] = _FRACTION,
    steps: Optional[int] = _STEPS, knn_backend: Optional[str] = _BACKEND,
    config: ConfigOption = None, seed: SeedOption = None, out: OutOption = None, overwrite: OverwriteOption = False,
) -> None:
    """Estimate the noise transition matrix T, the clean prior p and the noise rate (HOC)."""
    import numpy as np

    from reliant.curation.api import DiagnoseConfig, run_diagnose

    resolved = resolve_config(DiagnoseConfig, config, features=features, labels=labels, data=data,
                              text_field=text_field, label_field=label_field, clean_labels=clean_labels,
                              num_classes=num_classes, embedding_cache=embedding_cache, k=k, rounds=rounds,
                              sample_fraction=sample_fraction, steps=steps, knn_backend=knn_backend, seed=seed)
    run, hoc = run_diagnose(resolved, out, overwrite)
    with np.printoptions(precision=3, suppress=True, linewidth=120):
        lines = [f"estimated noise rate {hoc.noise_rate:.4f}", f"p = {hoc.p}", "T =", str(hoc.T)]
    print_run_summary(run.path, lines)


@group.command("detect")
def detect_command(
    features: Optional[Path] = _FEATURES, labels: Optional[Path] = _LABELS, data: Optional[Path] = _DATA,
    text_field: Optional[str] = _TEXT_FIELD, label_field: Optional[str] = _LABEL_FIELD,
    clean_labels: Optional[Path] = _CLEAN, num_classes: Optional[int] = _K, embedding_cache: Optional[Path] = _CACHE,
    method: Optional[str] = typer.Option(None, "--method", help="rank (default; needs the HOC estimate) or vote."),
    k: Optional[int] = _KNN, rounds: Optional[int] = _ROUNDS, sample_fraction: Optional[float] = _FRACTION,
    detect_rounds: Optional[int] = typer.Option(None, "--detect-rounds", help="SimiFeat subsample rounds (default 11)."),
    detect_fraction: Optional[float] = typer.Option(None, "--detect-fraction", help="Share of rows per SimiFeat round."),
    baseline: Optional[bool] = typer.Option(None, "--baseline/--no-baseline", help="Also run cleanlab's find_label_issues."),
    steps: Optional[int] = _STEPS, knn_backend: Optional[str] = _BACKEND,
    config: ConfigOption = None, seed: SeedOption = None, out: OutOption = None, overwrite: OverwriteOption = False,
) -> None:
    """Flag mislabelled samples with SimiFeat (k-NN label votes, ranked per class); writes flagged.jsonl."""
    from reliant.curation.api import DetectConfig, run_detect

    resolved = resolve_config(DetectConfig, config, features=features, labels=labels, data=data,
                              text_field=text_field, label_field=label_field, clean_labels=clean_labels,
                              num_classes=num_classes, embedding_cache=embedding_cache, method=method, k=k,
                              rounds=rounds, sample_fraction=sample_fraction, detect_rounds=detect_rounds,
                              detect_fraction=detect_fraction, baseline=baseline, steps=steps,
                              knn_backend=knn_backend, seed=seed)
    run, found, metrics = run_detect(resolved, out, overwrite)
    lines = [f"flagged {found.num_flagged} of {len(found.flagged)} samples (SimiFeat-{resolved.method})"]
    if "detection" in metrics:
        d = metrics["detection"]
        lines.append(f"precision {d['precision']:.3f}  recall {d['recall']:.3f}  F1 {d['f1']:.3f}")
    if "cleanlab" in metrics and "f1" in metrics["cleanlab"]:
        c = metrics["cleanlab"]
        lines.append(f"cleanlab: precision {c['precision']:.3f}  recall {c['recall']:.3f}  F1 {c['f1']:.3f}")
    print_run_summary(run.path, lines)


@group.command("rate")
def rate_command(
    pool: Optional[Path] = typer.Option(None, "--pool", help="Alpaca-format pool (instruction, input, output)."),
    rater: Optional[str] = typer.Option(None, "--rater", help="LLM backend spec: tiny, hf:<id>, openai:<model>@<url>."),
    max_retries: Optional[int] = typer.Option(None, "--max-retries", help="Re-asks per unparsable reply (default 2)."),
    config: ConfigOption = None, seed: SeedOption = None, out: OutOption = None, overwrite: OverwriteOption = False,
) -> None:
    """Rate each pool sample with an LLM (DS2 prompt) and write 6-level scores (scores.npy)."""
    from reliant.curation.api import RateConfig, run_rate

    resolved = resolve_config(RateConfig, config, pool=pool, rater=rater, max_retries=max_retries, seed=seed)
    run, scores = run_rate(resolved, out, overwrite)
    print_run_summary(run.path, [f"rated {len(scores)} samples; scores in scores.npy"])


@group.command("select")
def select_command(
    pool: Optional[Path] = typer.Option(None, "--pool", help="Alpaca-format pool (instruction, input, output)."),
    scores: Optional[Path] = typer.Option(None, "--scores", help="Scores 0..5 per pool sample (array file)."),
    rater: Optional[str] = typer.Option(None, "--rater", help="Rate with this LLM backend instead of --scores."),
    budget: Optional[int] = typer.Option(None, "--budget", help="How many samples to select."),
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Precomputed pool embeddings (rows x dims)."),
    embedding_cache: Optional[Path] = _CACHE,
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Confidence needed to replace a score (0.5)."),
    k: Optional[int] = _KNN,
    long_tail_k: Optional[int] = typer.Option(None, "--long-tail-k", help="Neighbours of the long-tail score (10)."),
    max_similarity: Optional[float] = typer.Option(None, "--max-similarity", help="DEITA-style baseline cut (0.9)."),
    knn_backend: Optional[str] = _BACKEND,
    config: ConfigOption = None, seed: SeedOption = None, out: OutOption = None, overwrite: OverwriteOption = False,
) -> None:
    """DS2: curate LLM scores (HOC + SimiFeat), add a long-tail score, select --budget samples; with baselines."""
    from reliant.curation.api import SelectConfig, run_select

    resolved = resolve_config(SelectConfig, config, pool=pool, scores=scores, rater=rater, budget=budget,
                              embeddings=embeddings, embedding_cache=embedding_cache, threshold=threshold, k=k,
                              long_tail_k=long_tail_k, max_similarity=max_similarity, knn_backend=knn_backend,
                              seed=seed)
    run, chosen, metrics = run_select(resolved, out, overwrite)
    print_run_summary(run.path, [
        f"selected {len(chosen)} of {metrics['num_samples']} samples; curation changed {metrics['changed']} scores",
        f"estimated score noise rate {metrics['noise_rate_estimate']:.3f}"])


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="curate")
