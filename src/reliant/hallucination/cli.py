"""``reliant hallucination``: score answers with FEWL (no gold answers needed), or write a
simulated benchmark of known hallucination rates. Options come from
:mod:`reliant.hallucination.config`; nothing heavy is imported until a command runs."""

from __future__ import annotations

import typer

from reliant.core.cli_common import command, command_group
from reliant.hallucination.config import ScoreConfig, SimulateConfig

group = command_group("Hallucination scores without gold answers (FEWL) and their baselines.")

command(group, "score", ScoreConfig, "reliant.hallucination.workflows:run_score",
        example="reliant hallucination score --data runs/fewl-sim/records.jsonl --neighbors 5 --out runs/fewl-score")
command(group, "simulate", SimulateConfig, "reliant.hallucination.workflows:run_simulate",
        example="reliant hallucination simulate --limit 40 --n-models 4 --out runs/fewl-sim")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="hallucination")


__all__ = ["register"]
