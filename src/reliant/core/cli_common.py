"""Commands generated from their config dataclass, and the console used to print results.

A capability's ``cli.py`` declares each command in one call::

    group = command_group("robust", "Robustness to prior shift ...")
    command(group, "drops", DropsConfig, "reliant.robustness.workflows:run_drops",
            example="reliant robust drops --logits val_logits.npy --labels val_labels.npy")

:func:`command` turns every field of the config dataclass (see :func:`reliant.core.config.option`)
into a flag whose ``--help`` shows the field's help, default, range and choices, adds the
options every command shares (``--config``, ``--out``, ``--overwrite``; ``--seed`` is a config
field), resolves and validates the config before the handler is imported, then calls the
handler as ``handler(config, out, overwrite) -> (run_folder, summary_lines)``. The handler is
named by ``"module:function"`` so that ``--help`` and a bad flag never import torch.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from reliant.core.config import OptionSpec, list_item_type, option_specs, resolve_config

console = Console()
error_console = Console(stderr=True)

# The options every command shares; a config field may not reuse these names.
SHARED_OPTIONS = ("config", "out", "overwrite")

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", help="YAML file of options; flags given on the command line override it."),
]
SeedOption = Annotated[
    Optional[int], typer.Option("--seed", help="Random seed; the same seed gives the same results.")
]
OutOption = Annotated[
    Optional[Path],
    typer.Option("--out", help="Run folder to create (default: runs/<time>-<command>). Never the current "
                               "folder, one of its parents, or a folder holding an input."),
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace --out if it is an earlier reliant run folder.")
]


def command_group(help: str) -> typer.Typer:
    """A capability's command group with the house settings (plain-text help, no markup)."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, add_completion=False)


def print_run_summary(run_path: Path, lines: Sequence[str] | None = None) -> None:
    for line in lines or []:
        console.print(line, highlight=False, soft_wrap=True, markup=False)  # summary text is data, not markup
    console.print(f"[bold green]Run directory:[/] {escape(str(run_path))}  (open {escape(str(run_path / 'report.html'))})")


def _format_default(value: Any) -> str | bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) if value else False
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def option_help(spec: OptionSpec) -> str:
    """The ``--help`` text of one option: its help, constraints and whether it is required."""
    parts = [spec.help.rstrip()]
    meta = spec.meta
    bounds = [
        f"{sign} {_format_default(meta[key])}"
        for key, sign in (("min", ">="), ("gt", ">"), ("max", "<="), ("lt", "<"))
        if meta.get(key) is not None
    ]
    if bounds:
        parts.append(f"({', '.join(bounds)})")
    choices = meta.get("choices")
    if choices is not None and not callable(choices):
        parts.append(f"One of: {', '.join(choices)}.")
    if list_item_type(spec.annotation) is not None:
        parts.append("Comma-separated.")
    if spec.required:
        parts.append("Required.")
    else:
        default = _format_default(spec.default())
        if default is not False:
            parts.append(f"(default: {default})")
    return " ".join(p for p in parts if p)


def _cli_annotation(spec: OptionSpec) -> Any:
    """The type typer parses the flag as; lists and paths arrive as text, checked later."""
    if list_item_type(spec.annotation) is not None:
        return str
    base = spec.annotation
    if typing.get_origin(base) in (typing.Union, getattr(__import__("types"), "UnionType")):
        args = [a for a in typing.get_args(base) if a is not type(None)]
        base = args[0] if len(args) == 1 else str
    if base in (bool, int, float):
        return base
    return str


def _parameter(spec: OptionSpec) -> inspect.Parameter:
    cli_type = _cli_annotation(spec)
    decls = [f"{spec.flag}/--no-{spec.flag[2:]}"] if cli_type is bool else [spec.flag]
    info = typer.Option(
        *decls,
        help=option_help(spec),
        show_default=False,  # option_help states it: the click default stays None ("not given")
        metavar=None if cli_type is bool else spec.name.upper().replace("_", "-"),
    )
    return inspect.Parameter(
        spec.param_name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[Optional[cli_type], info]
    )


def _shared_parameters(run_folder: bool) -> list[inspect.Parameter]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("config", keyword, default=None, annotation=ConfigOption)]
    if run_folder:
        params += [
            inspect.Parameter("out", keyword, default=None, annotation=OutOption),
            inspect.Parameter("overwrite", keyword, default=False, annotation=OverwriteOption),
        ]
    return params


def load_handler(handler: str | Callable[..., Any]) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function (imported only when the command runs)."""
    if callable(handler):
        return handler
    module_name, _, attribute = handler.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def command(
    group: typer.Typer,
    name: str,
    config_cls: type,
    handler: str | Callable[..., Any],
    *,
    example: str,
    help: str | None = None,
    run_folder: bool = True,
) -> Callable[..., None]:
    """Add command ``name`` to ``group`` with one flag per field of ``config_cls``.

    ``handler(config, out, overwrite)`` (or ``handler(config)`` when ``run_folder`` is false)
    returns ``(run_folder_path, summary_lines)`` or just the lines; ``example`` is one runnable
    command line shown at the end of ``--help``.
    """
    specs = [spec for spec in option_specs(config_cls) if spec.on_cli]
    clash = {spec.name for spec in specs} & set(SHARED_OPTIONS)
    if clash:
        raise TypeError(f"{config_cls.__name__} may not declare {sorted(clash)}: every command has them")
    params = [_parameter(spec) for spec in specs] + _shared_parameters(run_folder)

    def callback(**kwargs: Any) -> None:
        config_file = kwargs.pop("config", None)
        out = kwargs.pop("out", None)
        overwrite = bool(kwargs.pop("overwrite", False))
        resolved = resolve_config(config_cls, config_file, **kwargs)
        function = load_handler(handler)
        result = function(resolved, out, overwrite) if run_folder else function(resolved)
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Path):
            print_run_summary(result[0], result[1])
        elif result:
            for line in result:
                console.print(line, highlight=False, soft_wrap=True)

    doc = help or (config_cls.__doc__ or "").strip().splitlines()[0]
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in params}
    callback.__name__ = f"{name.replace('-', '_')}_command"
    callback.__doc__ = doc
    group.command(name, help=doc, epilog=f"Example:  {example}")(callback)
    callback.config_cls = config_cls  # type: ignore[attr-defined]
    callback.example = example  # type: ignore[attr-defined]
    return callback
