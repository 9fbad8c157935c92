"""``reliant construct``: automatic dataset construction (ADC), from class design to robust training.

Options come from :mod:`reliant.construction.config`; the handlers live in
:mod:`reliant.construction.workflows` and are imported only when a command runs.
"""

from __future__ import annotations

import typer

from reliant.construction.config import BenchmarkConfig, CleanConfig, CollectConfig, DesignConfig, TrainConfig
from reliant.core.cli_common import command, command_group

group = command_group("Automatic dataset construction (ADC, arXiv 2408.11338): LLM class design, collection "
                      "backends, cleaning (duplicates, label errors), noise-robust and long-tail learning, benchmarks.")

_WORKFLOWS = "reliant.construction.workflows"
command(group, "design", DesignConfig, f"{_WORKFLOWS}:run_design",
        example='reliant construct design --task "recognise kitchen utensils" --llm smollm2 --out design-run')
command(group, "collect", CollectConfig, f"{_WORKFLOWS}:run_collect",
        example="reliant construct collect --backend folder --root photos/ --out collected")
command(group, "clean", CleanConfig, f"{_WORKFLOWS}:run_clean",
        example="reliant construct clean --manifest collected/manifest.jsonl --out cleaned")
command(group, "train", TrainConfig, f"{_WORKFLOWS}:run_train",
        example="reliant construct train --manifest cleaned/clean_manifest.jsonl --method gce --out trained")
command(group, "benchmark", BenchmarkConfig, f"{_WORKFLOWS}:run_benchmark",
        example="reliant construct benchmark --suite noise-learning --out bench-noise")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="construct")
