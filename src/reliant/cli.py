"""The ``reliant`` command: one typer app; each capability adds its own command group."""

from __future__ import annotations

import logging
import os
import sys

import typer

import reliant
from reliant.core.cli_common import error_console
from reliant.core.errors import UserError

app = typer.Typer(
    name="reliant",
    help="Trustworthy, data-centric machine learning: curation, unlearning, alignment, audits, analytics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reliant {reliant.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug
    if debug:
        logging.basicConfig(level=logging.DEBUG)


# Capabilities in the order their groups appear in --help. A capability that has not
# landed yet has no cli.py and is simply absent (never a stub).
CAPABILITIES = (
    "unlearning",
    "curation",
    "alignment",
    "hallucination",
    "memorization",
    "robustness",
    "collaboration",
    "federated",
    "analytics",
)


def _register_command_groups() -> None:
    """Each capability contributes its group from its own ``cli.py`` (``register(app)``)."""
    import importlib
    import importlib.util

    from reliant import demo

    demo.register(app)
    for name in CAPABILITIES:
        module_name = f"reliant.{name}.cli"
        if importlib.util.find_spec(f"reliant.{name}") is None or importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(app)


_register_command_groups()


def main() -> None:
    """Console-script entry: user errors become one line on stderr and exit code 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app()
    except UserError as exc:
        if _state["debug"]:
            raise
        error_console.print(f"[bold red]error:[/] {exc.one_line()}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        error_console.print("[bold red]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
