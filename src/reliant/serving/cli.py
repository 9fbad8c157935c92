"""``reliant serve``: one command, added directly on the root app (a server, so no run folder)."""

from __future__ import annotations

import typer

from reliant.core.cli_common import command
from reliant.serving.config import ServeConfig


def register(app: typer.Typer) -> None:
    command(
        app, "serve", ServeConfig, "reliant.serving.workflows:run_serve", run_folder=False,
        example="reliant serve --model smollm2 --port 8000",
    )
