"""Options every command shares (``--config``, ``--seed``, ``--out``, ``--overwrite``) and the
console used to print results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console()
error_console = Console(stderr=True)

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", help="YAML file of options; flags given on the command line override it."),
]
SeedOption = Annotated[
    Optional[int], typer.Option("--seed", help="Random seed; the same seed gives the same results.")
]
OutOption = Annotated[
    Optional[Path],
    typer.Option("--out", help="Run directory to create (default: runs/<time>-<command>)."),
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace --out if it already exists.")
]


def print_run_summary(run_path: Path, lines: list[str] | None = None) -> None:
    for line in lines or []:
        console.print(line)
    console.print(f"[bold green]Run directory:[/] {run_path}  (open {run_path / 'report.html'})")
