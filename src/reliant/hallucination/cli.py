"""``reliant hallucination``: score answers with FEWL (no gold answers needed), or write a
simulated benchmark file of known hallucination rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import typer

from reliant.core.cli_common import ConfigOption, OutOption, OverwriteOption, SeedOption, console, print_run_summary
from reliant.core.config import resolve_config

group = typer.Typer(help="Hallucination scores without gold answers (FEWL) and their baselines.", no_args_is_help=True)


@group.command("score")
def score_command(
    data: str = typer.Option(None, "--data", help="Questions and candidate answers (jsonl/json/csv/parquet)."),
    references: str = typer.Option(None, "--references", help="Separate file of reference answers (joined on id or by line)."),
    reference_llm: Optional[List[str]] = typer.Option(
        None, "--reference-llm", help="Reference LLM spec (repeatable): hf:<id or dir>, openai:<model>@<url>, tiny."),
    wrong_llm: str = typer.Option(None, "--wrong-llm", help="LLM spec that writes intentionally wrong answers and corrections."),
    n_wrong: int = typer.Option(None, "--n-wrong", help="IW answers generated per question (with --wrong-llm)."),
    sample_llm: Optional[List[str]] = typer.Option(
        None, "--sample-llm", help="MODEL=SPEC (repeatable): sample that candidate's LLM for the self-consistency baseline."),
    n_samples: int = typer.Option(None, "--n-samples", help="Samples per question (with --sample-llm)."),
    model_name: str = typer.Option(None, "--model-name", help="Name of the candidate when lines give a single 'answer'."),
    embedder: str = typer.Option(None, "--embedder", help="Sentence-embedding model for answer similarity, or 'exact' (identical text = 1)."),
    embedding_cache: str = typer.Option(None, "--embedding-cache", help="Folder caching embeddings between runs."),
    neighbors: int = typer.Option(None, "--neighbors", help="K neighbouring questions for the laziness penalty."),
    divergence: str = typer.Option(None, "--divergence", help="f-divergence: tv, js, kl, pearson, hellinger."),
    temperature: float = typer.Option(None, "--temperature", help="Softmax temperature of the expertise weights."),
    weighting: str = typer.Option(None, "--weighting", help="expertise (FEWL) or uniform."),
    laziness_penalty: bool = typer.Option(None, "--laziness-penalty/--no-laziness-penalty"),
    threshold: str = typer.Option(None, "--threshold", help="'auto' (per question, from IW/CO answers) or a number."),
    baseline_reference: int = typer.Option(None, "--baseline-reference", help="Index of the single-reference baseline."),
    select: int = typer.Option(None, "--select", help="Write the K best-scored answers to selected.jsonl (ICL/SFT data)."),
    limit: int = typer.Option(None, "--limit", help="Score only the first N questions."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Score candidate answers with FEWL; writes scores.jsonl, weights.jsonl, metrics.json and report.html."""
    from reliant.hallucination.api import ScoreConfig, run_score

    resolved = resolve_config(
        ScoreConfig, config, data=data, references=references, reference_llm=reference_llm or None, wrong_llm=wrong_llm,
        n_wrong=n_wrong, sample_llm=sample_llm or None, n_samples=n_samples, model_name=model_name, embedder=embedder, embedding_cache=embedding_cache, neighbors=neighbors,
        divergence=divergence, temperature=temperature, weighting=weighting, laziness_penalty=laziness_penalty,
        threshold=threshold, baseline_reference=baseline_reference, select=select, limit=limit, seed=seed,
    )
    path, lines = run_score(resolved, out, overwrite)
    print_run_summary(path, lines)


@dataclass
class SimulateConfig:
    source: str = "builtin"
    path: Optional[str] = None
    limit: Optional[int] = 200
    n_models: int = 6
    n_wrong: int = 5
    n_samples: int = 3
    seed: int = 0


@group.command("simulate")
def simulate_command(
    output: str = typer.Argument(..., help="jsonl file to write (input format of 'score', with gold labels)."),
    source: str = typer.Option(None, "--source", help="builtin, truthfulqa or chale."),
    path: str = typer.Option(None, "--path", help="Data file for truthfulqa (CSV) or chale (JSON)."),
    limit: int = typer.Option(None, "--limit", help="Number of questions (random subset)."),
    n_models: int = typer.Option(None, "--n-models", help="Candidate models of evenly spread accuracy."),
    config: ConfigOption = None,
    seed: SeedOption = None,
) -> None:
    """Write simulated candidates and reference LLMs of known expertise (for checking FEWL offline)."""
    from reliant.core.data import save_records
    from reliant.core.errors import ConfigError
    from reliant.hallucination.simulate import default_candidates, default_references, load_items, simulate_records

    resolved = resolve_config(SimulateConfig, config, source=source, path=path, limit=limit, n_models=n_models, seed=seed)
    if resolved.n_models < 1:
        raise ConfigError(f"n_models must be >= 1, got {resolved.n_models}", field="n_models")
    items = load_items(resolved.source, resolved.path, limit=resolved.limit, seed=resolved.seed)
    records = simulate_records(items, default_candidates(resolved.n_models, seed=resolved.seed),
                               default_references([i.group for i in items], seed=resolved.seed),
                               n_wrong=resolved.n_wrong, n_samples=resolved.n_samples, seed=resolved.seed)
    save_records(records, output)
    console.print(f"wrote {len(records)} simulated questions to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="hallucination")


__all__ = ["register"]
