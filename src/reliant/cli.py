"""The ``reliant`` command: one typer app; each capability adds its own command group.

The root group is lazy: ``reliant --help`` lists the groups from the table in
:mod:`reliant.capabilities` without importing them, and ``reliant <group> ...`` imports only
that group's ``cli.py`` (the usual click "lazy group" pattern). This keeps start-up under a
second; torch, transformers and matplotlib load only when a command needs them.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import typer
import typer.core
from rich.markup import escape

try:  # typer >= 0.20 carries its own copy of click; older typer runs on click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_errors

import reliant
from reliant.capabilities import CAPABILITIES, COMMANDS
from reliant.core.cli_common import error_console
from reliant.core.errors import UserError, terminate_as_interrupt

__all__ = ["CAPABILITIES", "LazyGroup", "app", "main", "run"]

_COMMANDS = {command.name: command for command in COMMANDS}


class LazyGroup(typer.core.TyperGroup):
    """A typer group whose sub-commands are imported on first use.

    ``get_command`` imports ``<module>.register`` for the name asked for, lets it register
    on a scratch :class:`typer.Typer` and converts the result with ``typer.main.get_group``.
    While the group formats its own help it hands out placeholders carrying the table's
    help line instead, so listing the groups imports none of them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Any] = {}
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in _COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if self._listing:
            return typer.core.TyperCommand(name=cmd_name, help=entry.help, short_help=entry.help)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_command(cmd_name)
        return self._loaded[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self._placeholders():
            super().format_help(ctx, formatter)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click_errors.UsageError as exc:
            # typer suggests from self.commands, which a lazy group leaves empty.
            matches = difflib.get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise

    @contextmanager
    def _placeholders(self):
        self._listing = True
        try:
            yield
        finally:
            self._listing = False


def load_command(name: str) -> Any:
    """The click command or group that ``register(app)`` of ``name``'s module adds."""
    entry = _COMMANDS[name]
    scratch = typer.Typer(rich_markup_mode=app.rich_markup_mode)
    importlib.import_module(entry.module).register(scratch)
    group = typer.main.get_group(scratch)
    command = group.commands.get(name)
    if command is None:
        raise RuntimeError(f"{entry.module}.register added no command named {name!r}")
    return command


app = typer.Typer(
    name="reliant",
    cls=LazyGroup,
    help="Trustworthy, data-centric machine learning: curation, unlearning, alignment, audits, analytics.",
    no_args_is_help=True,
    # Plain click help, as every group has (core.cli_common.command_group): rich help
    # formatting costs a quarter of a second of imports on every --help.
    rich_markup_mode=None,
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


def _fail(label: str, text: str, code: int) -> None:
    """Print ``label: text`` as one line on stderr and exit with ``code``."""
    line = f"[bold red]{label}:[/] {escape(text)}" if text else f"[bold red]{label}[/]"
    error_console.print(line, highlight=False, soft_wrap=True)
    sys.exit(code)


def _usage_line(exc: Any) -> str:
    """A parser error as one line: the message and where to look for help (not click's box)."""
    message = " ".join(exc.format_message().split())
    if exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return message


def main(args: Sequence[str] | None = None) -> None:
    """Console-script entry: user and usage errors become one line on stderr and exit code 2;
    Ctrl-C prints ``interrupted`` (with the interrupt's message, if it carries one) and exits 130."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = typer.main.get_command(app)
    argv = list(sys.argv[1:] if args is None else args)
    try:
        # Run the parser and the command without click's standalone mode, so that every way
        # out is handled here, as one line. SIGTERM (``kill``, a job scheduler's stop) unwinds
        # like Ctrl-C, so that run folders' staging copies are removed and checkpoints saved.
        with terminate_as_interrupt(), command.make_context("reliant", argv) as ctx:
            command.invoke(ctx)
    except click_errors.NoArgsIsHelpError as exc:
        # ``reliant`` or ``reliant <group>`` alone: the help on stdout, exit 2 as click does.
        # (Plain help is the message; rich help, where a group uses it, is already printed.)
        if exc.format_message().strip():
            typer.echo(exc.format_message())
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:
        _fail("error", _usage_line(exc), 2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", "", 1)
    except click_errors.ClickException as exc:
        _fail("error", " ".join(exc.format_message().split()), exc.exit_code)
    except UserError as exc:
        if _state["debug"]:
            raise
        _fail("error", exc.one_line(), 2)
    except KeyboardInterrupt as exc:
        message = " ".join(str(exc).split())
        _fail("interrupted", message, 130)


def run() -> None:
    """The ``reliant`` console script: :func:`main`, and after Ctrl-C a fast way out.

    Once an interrupt has been reported (checkpoints saved, staging folders removed, one
    line printed), unloading torch and transformers would still take seconds of interpreter
    teardown, so the process flushes its streams and log files and leaves at once.
    """
    try:
        main()
    except SystemExit as exc:
        if exc.code == 130:
            sys.stdout.flush()
            sys.stderr.flush()
            logging.shutdown()
            os._exit(130)
        raise


if __name__ == "__main__":
    run()
