"""Command configuration: one dataclass per command, declared once.

Each option is a dataclass field made with :func:`option`, which carries its default, its
help text and its constraints (range, choices, whether it is required, whether it names an
existing file). From that one declaration:

* :func:`resolve_config` layers defaults < ``--config`` YAML < flags and validates every value
  (type, finiteness, range, choices, required, existing paths) before any work starts;
* :func:`reliant.core.cli_common.command` generates the command-line options, ``--help`` with
  every default, and the one runnable example (as TRL's ``HfArgumentParser`` does from its
  configs);
* the run directory records the resolved dataclass, so ``config.yaml`` says exactly what ran.

A method's own parameters live in a nested dataclass (``train: UnlearnSettings``); YAML may
give them nested (``train: {lr: 1e-4}``) or dotted (``train.lr: 1e-4``), and on the command
line each nested field keeps its own name (``--lr``), so the two levels never need copying.

A flag the user did not give arrives as ``None`` and leaves the file's (or the default)
value in place.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from reliant.core.errors import ConfigError, check_number

C = TypeVar("C")

# Seeds go to numpy, torch and Python's random; numpy accepts 0 <= seed < 2**32.
SEED_MAX = 2**32 - 1


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    min: float | None = None,
    max: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    choices: Iterable[str] | Callable[[], Iterable[str]] | None = None,
    required: bool = False,
    path: str | None = None,
    allow_nonfinite: bool = False,
    flag: str | None = None,
    cli: bool = True,
) -> Any:
    """A config field declared once: default, help and constraints.

    ``min``/``max`` are inclusive bounds, ``gt``/``lt`` exclusive ones; numbers must be finite
    unless ``allow_nonfinite``. ``choices`` is a list of allowed strings (or a zero-argument
    callable returning them, so a registry is consulted only when a value is checked).
    ``required`` means the resolved value may not be ``None`` (a YAML file may supply it).
    ``path="file"``/``"dir"``/``"exists"`` checks that a given value names an existing file,
    folder, or either. ``flag`` overrides the generated ``--flag-name``; ``cli=False`` keeps a
    field out of the command line (YAML only, e.g. a nested section).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Demo:
    ...     epochs: int = option(3, "Training epochs.", min=1)
    >>> resolve_config(Demo, epochs=5).epochs
    5
    """
    metadata = {
        "help": help,
        "min": min,
        "max": max,
        "gt": gt,
        "lt": lt,
        "choices": choices,
        "required": required,
        "path": path,
        "allow_nonfinite": allow_nonfinite,
        "flag": flag,
        "cli": cli,
    }
    if path not in (None, "file", "dir", "exists"):
        raise ValueError(f"option(path=...) must be 'file', 'dir' or 'exists', not {path!r}")
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if isinstance(default, (list, dict, set)):
        frozen = default
        return dataclasses.field(default_factory=lambda: type(frozen)(frozen), metadata=metadata)
    if default is dataclasses.MISSING and not required:
        default = None
    return dataclasses.field(default=None if default is dataclasses.MISSING else default, metadata=metadata)


def seed_option(default: int = 0) -> Any:
    """The ``seed`` field every command shares (one declaration, one range)."""
    return option(default, "Random seed; the same seed gives the same results.", min=0, max=SEED_MAX)


# ---------------------------------------------------------------------------------------
# Reading the declaration


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """One leaf option of a (possibly nested) config dataclass."""

    path: str  # dotted: "train.lr"
    field: dataclasses.Field
    annotation: Any
    owner: type

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def meta(self) -> typing.Mapping[str, Any]:
        return self.field.metadata

    @property
    def help(self) -> str:
        return self.meta.get("help", "") or ""

    @property
    def flag(self) -> str:
        return self.meta.get("flag") or "--" + self.name.replace("_", "-")

    @property
    def on_cli(self) -> bool:
        return self.meta.get("cli", True)

    @property
    def required(self) -> bool:
        return bool(self.meta.get("required"))

    @property
    def param_name(self) -> str:
        return self.path.replace(".", "__")

    def default(self) -> Any:
        if self.field.default is not dataclasses.MISSING:
            return self.field.default
        if self.field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            return self.field.default_factory()  # type: ignore[misc]
        return None

    def choices(self) -> list[str] | None:
        choices = self.meta.get("choices")
        if choices is None:
            return None
        return list(choices() if callable(choices) else choices)


def _is_config_class(annotation: Any) -> bool:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def option_specs(cls: type) -> list[OptionSpec]:
    """Every leaf option of ``cls``, nested sections flattened to dotted paths."""

    def walk(owner: type, prefix: str) -> Iterator[OptionSpec]:
        hints = typing.get_type_hints(owner)
        for f in dataclasses.fields(owner):
            annotation = hints.get(f.name, Any)
            if _is_config_class(annotation):
                yield from walk(annotation, f"{prefix}{f.name}.")
            else:
                yield OptionSpec(f"{prefix}{f.name}", f, annotation, owner)

    specs = list(walk(cls, ""))
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.on_cli and spec.flag in seen:
            raise TypeError(f"{cls.__name__}: {spec.path} and {seen[spec.flag]} would both be {spec.flag}")
        seen[spec.flag] = spec.path
    return specs


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
    if origin is typing.Literal:
        return tuple({type(a) for a in typing.get_args(annotation)})
    if origin is not None:
        return (origin,)
    if annotation is float:
        return (float, int)
    if annotation is Path:
        return (str, Path)
    if isinstance(annotation, type):
        return (annotation,)
    return None


def _non_none(annotation: Any) -> Any:
    """``Optional[X]`` -> ``X`` (the type a given value must have)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def list_item_type(annotation: Any) -> type | None:
    """``list[float]`` -> ``float``; None for a field that is not a list."""
    annotation = _non_none(annotation)
    if typing.get_origin(annotation) in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return args[0] if args else str
    return None


def _wants_path(annotation: Any) -> bool:
    return annotation is Path or Path in typing.get_args(annotation)


def _where(source: str | None) -> dict[str, Any]:
    return {"file": source} if source else {}


def _coerce_list(spec: OptionSpec, value: Any, source: str | None) -> list[Any]:
    """Comma-separated text (a flag) or a YAML list -> a list of the item type."""
    item_type = list_item_type(spec.annotation) or str
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigError(
            f"expected a list (or comma-separated text), got {type(value).__name__} {value!r}",
            field=spec.path, **_where(source),
        )
    out = []
    for item in items:
        if item_type in (int, float) and isinstance(item, str):
            try:
                item = item_type(item)
            except ValueError:
                raise ConfigError(f"expected a list of {item_type.__name__}, got {item!r}", field=spec.path,
                                  **_where(source)) from None
        elif item_type is str and not isinstance(item, str):
            item = str(item)
        if item_type is int and (isinstance(item, bool) or not isinstance(item, int)):
            raise ConfigError(f"expected a list of int, got {item!r}", field=spec.path, **_where(source))
        if item_type is float and (isinstance(item, bool) or not isinstance(item, (int, float))):
            raise ConfigError(f"expected a list of float, got {item!r}", field=spec.path, **_where(source))
        out.append(float(item) if item_type is float else item)
    return out


def _check_type(spec: OptionSpec, value: Any, source: str | None) -> Any:
    if value is None:
        return None
    if list_item_type(spec.annotation) is not None:
        return _coerce_list(spec, value, source)
    allowed = _allowed_types(spec.annotation)
    # bool is an int to Python, but `seed: true` in a YAML file is a mistake, not a seed.
    is_stray_bool = isinstance(value, bool) and allowed is not None and bool not in allowed
    if allowed is None or (isinstance(value, allowed) and not is_stray_bool):
        if isinstance(value, str) and _wants_path(spec.annotation):
            return Path(value)
        return value
    names = "/".join(sorted({t.__name__ for t in allowed if t is not type(None)}))
    raise ConfigError(f"expected {names}, got {type(value).__name__} {value!r}", field=spec.path, **_where(source))


def _check_number(spec: OptionSpec, value: float, source: str | None) -> None:
    meta = spec.meta
    low = meta["gt"] if meta.get("gt") is not None else meta.get("min")
    high = meta["lt"] if meta.get("lt") is not None else meta.get("max")
    check_number(
        value, spec.path, low=low, high=high, low_open=meta.get("gt") is not None,
        high_open=meta.get("lt") is not None, allow_nonfinite=bool(meta.get("allow_nonfinite")), file=source,
    )


def check_value(spec: OptionSpec, value: Any, source: str | None = None, *, paths: bool = True) -> None:
    """The declared constraints of one resolved value (types already checked); ``paths``
    also checks that a ``path=`` option names an existing file or folder."""
    if value is None:
        if spec.required:
            raise ConfigError(f"{spec.flag} is required", field=spec.path, **_where(source))
        return
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            _check_number(spec, item, source)
    choices = spec.choices()
    if choices is not None:
        for item in values:
            if str(item) not in choices:
                raise ConfigError(f"unknown value {item!r} (choose from: {', '.join(choices)})",
                                  field=spec.path, **_where(source))
    if paths:
        check_path(spec, value)


def check_path(spec: OptionSpec, value: Any) -> None:
    """A ``path="file"|"dir"|"exists"`` option names something that is there."""
    kind = spec.meta.get("path")
    if kind is not None and value is not None:
        target = Path(value)
        if not target.exists():
            raise ConfigError("no such file or folder", file=target, field=spec.path)
        if kind == "file" and not target.is_file():
            raise ConfigError("is a folder, expected a file", file=target, field=spec.path)
        if kind == "dir" and not target.is_dir():
            raise ConfigError("is a file, expected a folder", file=target, field=spec.path)


# ---------------------------------------------------------------------------------------
# Files, layering, validation


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing, binary or undecodable file, bad YAML or a non-mapping
    is a ConfigError naming the file (and line)."""
    import yaml  # deliberate: keeps `reliant --help` from paying for it

    path = Path(path)
    if path.is_dir():
        raise ConfigError("is a folder, expected a YAML file", file=path)
    if not path.is_file():
        raise ConfigError("config file not found", file=path)
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise ConfigError("is a binary file, expected a YAML text file", file=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("is not UTF-8 text (expected a YAML file)", file=path, line=line) from None
    try:
        data = yaml.safe_load(text)
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


def _flatten(mapping: dict[str, Any], sections: set[str], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` and ``{"train.lr": 1}`` both -> ``{"train.lr": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        key = str(key).replace("-", "_")
        dotted = f"{prefix}{key}"
        if dotted in sections and isinstance(value, dict):
            flat.update(_flatten(value, sections, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _sections(cls: type, prefix: str = "") -> set[str]:
    names: set[str] = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if _is_config_class(hints.get(f.name)):
            names.add(prefix + f.name)
            names |= _sections(hints[f.name], f"{prefix}{f.name}.")
    return names


def _build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        dotted = prefix + f.name
        if _is_config_class(hints.get(f.name)):
            kwargs[f.name] = _build(hints[f.name], values, f"{dotted}.")
        elif dotted in values:
            kwargs[f.name] = values[dotted]
    return cls(**kwargs)


def resolve_config(defaults: type[C], config_file: str | Path | None = None, **flags: Any) -> C:
    """Build ``defaults`` (a dataclass type) from its defaults, then the file, then given flags,
    and validate every value against its declaration.

    Flags are keyed by field name; a nested field is keyed by its dotted path with ``__``
    (``train__lr``) or, when unambiguous, by its own name (``lr``).
    """
    specs = {spec.path: spec for spec in option_specs(defaults)}  # type: ignore[arg-type]
    by_leaf: dict[str, list[str]] = {}
    for path in specs:
        by_leaf.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    values: dict[str, Any] = {}
    origin: dict[str, str | None] = {}
    source = None
    if config_file is not None:
        source = str(config_file)
        for key, value in _flatten(load_config_file(config_file), _sections(defaults)).items():  # type: ignore[arg-type]
            if key not in specs and len(by_leaf.get(key, [])) == 1:
                key = by_leaf[key][0]
            if key not in specs:
                known = ", ".join(sorted(specs))
                raise ConfigError(f"unknown option (known: {known})", file=source, field=key)
            values[key] = _check_type(specs[key], value, source)
            origin[key] = source
    for key, value in flags.items():
        path = key.replace("__", ".")
        if path not in specs and len(by_leaf.get(path, [])) == 1:
            path = by_leaf[path][0]
        if path not in specs:
            raise TypeError(f"unknown option {key!r} for {defaults.__name__}")  # a bug in the caller
        if value is not None:
            values[path] = _check_type(specs[path], value, None)
            origin[path] = None
    # What the user gave is checked first (a wrong value says more than "X is required"), and
    # values before the file system, so the order of the flags never changes the message.
    for path in values:
        check_value(specs[path], values[path], origin.get(path), paths=False)
    for path in values:
        check_path(specs[path], values[path])
    for path, spec in specs.items():
        if path not in values:
            check_value(spec, spec.default(), None)
    config = _build(defaults, values)  # type: ignore[arg-type]
    check = getattr(config, "validate", None)
    if callable(check):
        check()  # cross-field rules the declaration cannot say (e.g. "--a or --b")
    return config


def replace_config(config: C, **changes: Any) -> C:
    """A copy of ``config`` with ``changes`` applied and validated like flags."""
    values = config_to_dict(config)
    values.update({k.replace("__", "."): v for k, v in changes.items()})
    flat = _flatten(values, _sections(type(config)))
    return resolve_config(type(config), **{k.replace(".", "__"): v for k, v in flat.items()})


def config_to_dict(config: Any) -> dict[str, Any]:
    """A YAML-friendly copy of a config dataclass (paths as strings, sections nested)."""

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
