"""``reliant memorization``: membership-inference audits, canary exposure, and
counterfactual memorization of small classifiers. Options come from
:mod:`reliant.memorization.config`; nothing heavy is imported until a command runs."""

from __future__ import annotations

import typer

from reliant.core.cli_common import command, command_group
from reliant.memorization.config import AuditConfig, CanaryConfig, CounterfactualConfig

group = command_group(
    "Memorization and membership inference: LM audits (LOSS, zlib, reference, Min-K%, Min-K%++, extraction), "
    "canary exposure, counterfactual memorization and LiRA on classifiers."
)

command(group, "audit", AuditConfig, "reliant.memorization.workflows:run_audit",
        example="reliant memorization audit --attacks loss,min_k_pp --min-k-fraction 0.2 --out runs/mem-audit")
command(group, "canaries", CanaryConfig, "reliant.memorization.workflows:run_canaries",
        example="reliant memorization canaries --n-candidates 199 --out runs/mem-canaries")
command(group, "counterfactual", CounterfactualConfig, "reliant.memorization.workflows:run_counterfactual",
        example="reliant memorization counterfactual --n-models 8 --epochs 20 --out runs/mem-counterfactual")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="memorization")


__all__ = ["register"]
