"""``reliant collab``: human vs machine error analysis and post-hoc human-machine teams."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reliant.core.cli_common import ConfigOption, OutOption, OverwriteOption, SeedOption, print_run_summary
from reliant.core.config import resolve_config

group = typer.Typer(
    help="Human vs machine: how their mistakes differ, and when a human-machine team beats both.",
    no_args_is_help=True,
)


@group.command("analyze")
def analyze_command(
    machine_probs: Optional[Path] = typer.Option(None, "--machine-probs", help="Machine probabilities, rows x classes."),
    machine_logits: Optional[Path] = typer.Option(None, "--machine-logits", help="Machine logits (instead of probabilities)."),
    human_votes: Optional[Path] = typer.Option(None, "--human-votes",
                                               help="Human vote counts (rows x classes) or one human label per row."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="True labels, one integer per row."),
    annotators: Optional[int] = typer.Option(None, "--annotators",
                                             help="Votes drawn per row to form 'the human' (default 1; 0 = all)."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Cross-fitting folds for the teams (default 2)."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Dirichlet smoothing of the human confusion matrix."),
    bins: Optional[int] = typer.Option(None, "--bins", help="Difficulty bins (default 5)."),
    class_names: Optional[str] = typer.Option(None, "--class-names", help="Comma-separated class names for plots."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Compare human and machine mistakes; fit deferral and combination teams; plot accuracy vs deferral rate."""
    from reliant.collaboration.api import CollabConfig, run_analyze

    resolved = resolve_config(CollabConfig, config, machine_probs=machine_probs, machine_logits=machine_logits,
                              human_votes=human_votes, labels=labels, annotators=annotators, folds=folds,
                              alpha=alpha, bins=bins, class_names=class_names, seed=seed)
    run, result = run_analyze(resolved, out, overwrite)
    lines = [f"{row['team']:45s} accuracy {row['accuracy']:.4f}  human consulted {row['human consulted']:.2f}"
             for row in result["teams"]]
    lines.append(f"error consistency κ = {result['comparison']['error_consistency']:.4f}; "
                 f"team beats both: {result['team_beats_both']}")
    print_run_summary(run.path, lines)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="collab")
