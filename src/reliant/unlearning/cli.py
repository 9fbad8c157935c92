"""``reliant unlearn``: run one method, evaluate a model, or benchmark every method.

Each command's flags come from its config dataclass in :mod:`reliant.unlearning.config`;
the handlers in :mod:`reliant.unlearning.workflows` are imported only when a command runs.
"""

from __future__ import annotations

import typer

from reliant.core.cli_common import command, command_group
from reliant.unlearning.config import BenchConfig, EvalConfig, RunConfig

__all__ = ["BenchConfig", "EvalConfig", "RunConfig", "group", "register"]

group = command_group("Machine unlearning for LLMs: FLAT and baselines, TOFU/MUSE evaluation.")

command(
    group, "run", RunConfig, "reliant.unlearning.workflows:run_unlearning",
    example="reliant unlearn run --method flat --forget tofu:forget01_perturbed --epochs 1 --out runs/flat-forget01",
)
command(
    group, "eval", EvalConfig, "reliant.unlearning.workflows:run_evaluation",
    example="reliant unlearn eval --model tiny --forget tofu:forget01_perturbed --retain tofu:retain_perturbed "
    "--out runs/eval-tiny",
)
command(
    group, "bench", BenchConfig, "reliant.unlearning.workflows:run_bench",
    example="reliant unlearn bench --split forget01 --methods flat,ga --epochs 1 --out runs/bench-forget01",
)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="unlearn")
