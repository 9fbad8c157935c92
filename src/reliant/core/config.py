"""Command configuration: a dataclass of defaults, a YAML file, then flags, in rising priority.

Every command takes ``--config file.yaml`` plus flags. A flag the user did not give arrives
as ``None`` and leaves the file's (or the default) value in place, so the resolved config
written to the run directory says exactly what ran.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from reliant.core.errors import ConfigError

C = TypeVar("C")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, bad YAML or a non-mapping is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", file=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"invalid YAML ({problem})", file=path, line=line) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("a config file must be a mapping of option: value", file=path)
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def _allowed_types(annotation: Any) -> tuple[type, ...] | None:
    """The runtime types a field accepts, or None when any value will do."""
    if isinstance(annotation, str):
        annotation = {"str": str, "int": int, "float": float, "bool": bool}.get(annotation, Any)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        allowed: list[type] = []
        for arg in typing.get_args(annotation):
            inner = _allowed_types(arg)
            if inner is None:
                return None
            allowed.extend(inner)
        return tuple(allowed)
    if annotation is type(None):
        return (type(None),)
    if origin is not None:
        return (origin,)
    if annotation is float:
        return (float, int)
    if annotation is Path:
        return (str, Path)
    if isinstance(annotation, type):
        return (annotation,)
    return None


def _wants_path(annotation: Any) -> bool:
    return annotation is Path or Path in typing.get_args(annotation)


def _check_value(cls: type, field: dataclasses.Field, value: Any, source: str | None) -> Any:
    hints = typing.get_type_hints(cls)
    allowed = _allowed_types(hints.get(field.name, Any))
    # bool is an int to Python, but `seed: true` in a YAML file is a mistake, not a seed.
    is_stray_bool = isinstance(value, bool) and allowed is not None and bool not in allowed
    if allowed is None or (isinstance(value, allowed) and not is_stray_bool):
        return value
    names = "/".join(sorted({t.__name__ for t in allowed}))
    raise ConfigError(
        f"expected {names}, got {type(value).__name__} {value!r}", file=source, field=field.name
    )


def resolve_config(
    defaults: type[C], config_file: str | Path | None = None, **flags: Any
) -> C:
    """Build ``defaults`` (a dataclass type) from its defaults, then the file, then given flags."""
    fields = {f.name: f for f in dataclasses.fields(defaults)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    source = None
    if config_file is not None:
        source = str(config_file)
        for key, value in load_config_file(config_file).items():
            if key not in fields:
                known = ", ".join(sorted(fields))
                raise ConfigError(f"unknown option (known: {known})", file=source, field=key)
            values[key] = _check_value(defaults, fields[key], value, source)
    for key, value in flags.items():
        if key not in fields:
            raise ConfigError(f"unknown option for {defaults.__name__}", field=key)
        if value is not None:
            values[key] = _check_value(defaults, fields[key], value, None)
    hints = typing.get_type_hints(defaults)
    for key, value in list(values.items()):
        if isinstance(value, str) and _wants_path(hints.get(key)):
            values[key] = Path(value)
    return defaults(**values)  # type: ignore[call-arg]


def config_to_dict(config: Any) -> dict[str, Any]:
    """A YAML-friendly copy of a config dataclass (paths as strings)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    if dataclasses.is_dataclass(config):
        return {k: plain(v) for k, v in dataclasses.asdict(config).items()}
    return {k: plain(v) for k, v in dict(config).items()}
