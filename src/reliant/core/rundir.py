"""Run directories: every command leaves ``config.yaml``, ``log.txt``, ``metrics.json`` and
``report.html`` (plus its own artefacts) in one folder.

The folder is built under a hidden temporary name beside its final place and renamed only
when the command succeeds, so a failed or interrupted run leaves nothing half-written.

Under several processes (``torchrun`` / ``accelerate launch`` set ``RANK``) only the main
process (rank 0) writes the folder; every other rank runs the same command into a private
scratch folder outside the output's parent, deleted when it ends.

Where results may go is checked before any work starts (:func:`check_output_dir`):

* ``--out`` is never the current folder or one of its parents;
* ``--out`` never holds an input: the ``inputs=`` paths and every config value that names
  an existing file or folder;
* an existing, non-empty ``--out`` is replaced only with ``overwrite`` and only when it is a
  reliant run folder (it has ``config.yaml`` and ``metrics.json``). Replacing renames the
  old folder aside, moves the new one in, and only then deletes the old one.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import reliant
from reliant.core.config import config_to_dict
from reliant.core.errors import ConfigError

LOG_NAME = "reliant"
RUN_MARKERS = ("config.yaml", "metrics.json")
"""Files that make a folder a reliant run folder (the only kind ``--overwrite`` replaces)."""
BETTER = {"higher": "↑ higher is better", "lower": "↓ lower is better"}


def _numpy() -> Any:
    # NumPy values can only exist once numpy is imported; never import it just to check.
    return sys.modules.get("numpy")


def _jsonable(value: Any) -> Any:
    np = _numpy()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if np is not None and isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if np is not None and isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; null keeps the file loadable everywhere
    if isinstance(value, Path):
        return str(value)
    return value


def format_number(value: Any, digits: int = 4) -> str:
    """Short, aligned-looking text for a table cell or headline card."""
    np = _numpy()
    bools: tuple[type, ...] = (bool, np.bool_) if np is not None else (bool,)
    ints: tuple[type, ...] = (int, np.integer) if np is not None else (int,)
    floats: tuple[type, ...] = (float, np.floating) if np is not None else (float,)
    if isinstance(value, bools):
        return str(bool(value))
    if isinstance(value, ints):
        return f"{int(value):,}"
    if isinstance(value, floats):
        value = float(value)
        if not math.isfinite(value):
            return "–"
        if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 1e6):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}" if abs(value) >= 1000 else f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(value)


@dataclass
class RunDirectory:
    """A run folder under construction; use through :func:`run_directory`."""

    path: Path
    final_path: Path
    command: str
    config: dict[str, Any]
    title: str
    logger: logging.Logger
    metrics: dict[str, Any] = field(default_factory=dict)
    headline: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    default_group: str | None = None  # headlines added without a group join this one

    def file(self, name: str) -> Path:
        """Path of an artefact inside the run directory (parent folders created)."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def log(self, message: str) -> None:
        self.logger.info(message)

    def add_metrics(self, values: Mapping[str, Any]) -> None:
        self.metrics.update(_jsonable(dict(values)))

    def add_headline(
        self,
        label: str,
        value: Any,
        *,
        group: str | None = None,
        baseline: Any = None,
        baseline_label: str | None = None,
        better: str | None = None,
    ) -> None:
        """A number shown as a card at the top of the report.

        ``group`` (a stage or method) gathers cards under one heading, in first-use order;
        ``baseline`` is the number to compare with from the same run (``baseline_label``
        says what it is, e.g. "before" or "GA"); ``better`` is ``"higher"``, ``"lower"`` or
        None and marks which way is good (and whether the value beats its baseline).
        """
        if better not in (None, "higher", "lower"):
            raise ValueError(f"better must be 'higher', 'lower' or None; got {better!r}")
        verdict = None
        if better is not None and baseline is not None:
            try:
                diff = float(value) - float(baseline)
            except (TypeError, ValueError):
                diff = float("nan")
            if math.isfinite(diff):
                verdict = "same" if diff == 0 else ("better" if (diff > 0) == (better == "higher") else "worse")
        self.headline.append(
            {
                "label": label,
                "value": format_number(value),
                "group": group if group is not None else self.default_group,
                "baseline": None if baseline is None else format_number(baseline),
                "baseline_label": baseline_label or ("baseline" if baseline is not None else None),
                "better": better,
                "better_text": BETTER.get(better or "", ""),
                "verdict": verdict,
            }
        )

    @contextmanager
    def headline_group(self, name: str) -> Iterator[None]:
        """Headlines added inside the block without a ``group`` go under ``name`` (used by
        ``reliant demo``, whose stages share one report)."""
        previous, self.default_group = self.default_group, name
        try:
            yield
        finally:
            self.default_group = previous

    def headline_groups(self) -> list[tuple[str | None, list[dict[str, Any]]]]:
        """Headline cards by group, ungrouped ones first, groups in first-use order."""
        groups: dict[str | None, list[dict[str, Any]]] = {}
        if any(h["group"] is None for h in self.headline):
            groups[None] = []
        for card in self.headline:
            groups.setdefault(card["group"], []).append(card)
        return list(groups.items())

    def add_figure(self, title: str, figure: Any, caption: str = "", save_as: str | None = None) -> None:
        """A figure embedded as PNG; ``caption`` is one line saying what to look for."""
        from reliant.core.plotting import figure_png

        png = figure_png(figure)
        if save_as:
            self.file(save_as).write_bytes(png)
        self.add_image(title, png, caption)

    def add_image(self, title: str, png: bytes, caption: str = "") -> None:
        """A PNG drawn elsewhere (vl-convert, a screenshot) embedded as it is, without re-plotting."""
        self.blocks.append(
            {"kind": "figure", "title": title, "caption": caption, "png": base64.b64encode(png).decode()}
        )

    def add_table(
        self,
        title: str,
        rows: Sequence[Mapping[str, Any]],
        caption: str = "",
        columns: Sequence[str] | None = None,
        highlight: Sequence[int] = (),
    ) -> None:
        columns = list(columns or (rows[0].keys() if rows else []))
        np = _numpy()
        number_types: tuple[type, ...] = (int, float, np.number) if np is not None else (int, float)
        numeric = {
            c for c in columns
            if rows and all(isinstance(r.get(c), number_types) and not isinstance(r.get(c), bool) for r in rows)
        }
        cells = [{c: format_number(r.get(c, "")) for c in columns} for r in rows]
        self.blocks.append(
            {"kind": "table", "title": title, "caption": caption, "columns": columns,
             "rows": cells, "numeric": numeric, "highlight": set(highlight)}
        )

    def add_text(self, title: str, text: str, preformatted: bool = False) -> None:
        self.blocks.append({"kind": "text", "title": title, "text": text, "caption": "", "preformatted": preformatted})

    def _write_outputs(self) -> None:
        config_yaml = yaml.safe_dump(self.config, sort_keys=False, allow_unicode=True)
        (self.path / "config.yaml").write_text(config_yaml, encoding="utf-8")
        (self.path / "metrics.json").write_text(
            json.dumps(self.metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        from jinja2 import Environment, PackageLoader, select_autoescape

        env = Environment(loader=PackageLoader("reliant.core", "templates"), autoescape=select_autoescape())
        html = env.get_template("report.html.jinja").render(
            title=self.title,
            version=reliant.__version__,
            command=self.command,
            created=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            seed=self.config.get("seed", "–"),
            headline=self.headline,
            headline_groups=self.headline_groups(),
            blocks=self.blocks,
            config_yaml=config_yaml,
        )
        (self.path / "report.html").write_text(html, encoding="utf-8")


def _default_location(command: str, root: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = "-".join(command.split())
    candidate = root / f"{stamp}-{slug}"
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = root / f"{stamp}-{slug}-{suffix}"
    return candidate


def is_within(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (after resolving links and ``..``)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def is_run_folder(path: str | os.PathLike) -> bool:
    """A folder reliant wrote: it holds ``config.yaml`` and ``metrics.json``."""
    path = Path(path)
    return path.is_dir() and all((path / name).is_file() for name in RUN_MARKERS)


def _config_paths(value: Any) -> Iterator[Path]:
    """Every string/path in a config (dataclass or mapping, nested) that names an existing path."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _config_paths(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _config_paths(item)
    elif isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if not text or len(text) > 4096 or "\n" in text or "\x00" in text:
            return
        try:
            path = Path(text).expanduser()
            if path.exists():
                yield path
        except (OSError, ValueError):
            return


def config_inputs(config: Any) -> list[Path]:
    """Existing files and folders named by a config's values (its inputs)."""
    if config is None:
        return []
    try:
        values = config_to_dict(config)
    except Exception:  # not a dataclass or mapping: nothing to detect
        return []
    return list(_config_paths(values))


def check_output_dir(
    out: str | os.PathLike | None,
    *,
    config: Any = None,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
    command: str = "run",
    root: str | os.PathLike = "runs",
) -> Path:
    """Refuse an output folder that would destroy anything; return the folder to use.

    Called by :func:`run_directory` on entry; commands may call it earlier (before loading
    data or models) with the same arguments and pass the returned path on as ``out``.
    """
    final = Path(out) if out is not None else _default_location(command, Path(root))
    shown = os.fspath(out) if out is not None else str(final)
    if is_within(Path.cwd(), final):
        raise ConfigError(
            f"--out {shown} is the current folder or one of its parents; results need a folder of their own "
            "(e.g. --out runs/my-run)", field="out",
        )
    explicit = [Path(p) for p in inputs if p is not None and os.fspath(p) != ""]
    detected = [p for p in config_inputs(config) if p.resolve() != final.resolve()]
    for source in explicit + detected:
        if is_within(source, final):
            raise ConfigError(
                f"--out {shown} holds the input {os.fspath(source)}; choose an output folder that holds no inputs",
                field="out",
            )
    if final.exists() or final.is_symlink():
        if not final.is_dir():
            raise ConfigError("--out names an existing file, not a folder", file=final, field="out")
        if any(final.iterdir()):
            if not overwrite:
                raise ConfigError("output directory already exists (choose another --out or pass --overwrite)", file=final)
            if not is_run_folder(final):
                raise ConfigError(
                    "is not a reliant run folder (no config.yaml and metrics.json); --overwrite only replaces "
                    "run folders, so choose another --out",
                    file=final, field="out",
                )
    return final


def _replace_folder(staging: Path, final: Path) -> None:
    """Move ``staging`` to ``final``; an existing ``final`` is renamed aside first and
    deleted only once the new folder is in place (restored if the move fails)."""
    if not final.exists():
        os.replace(staging, final)
        return
    if final.is_dir() and not any(final.iterdir()):
        os.replace(staging, final)  # renaming over an empty folder is atomic on POSIX
        return
    if not is_run_folder(final):  # it changed since the entry check: never delete it
        raise ConfigError("is no longer a reliant run folder; results left in " + str(staging), file=final, field="out")
    aside = final.with_name(f".{final.name}.replaced-{uuid.uuid4().hex[:8]}")
    os.replace(final, aside)
    try:
        os.replace(staging, final)
    except BaseException:
        os.replace(aside, final)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def process_rank() -> int:
    """This process's rank under ``torchrun`` / ``accelerate launch`` (their ``RANK``), else 0.

    Read from the environment, so asking costs no torch import."""
    value = os.environ.get("RANK", "0").strip()
    return int(value) if value.isdigit() else 0


@contextmanager
def run_directory(
    command: str,
    config: Any,
    out: str | Path | None = None,
    *,
    root: str | Path = "runs",
    title: str | None = None,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
) -> Iterator[RunDirectory]:
    """Create a run directory for ``command``; it appears at its final path only on success.

    ``out`` names the folder; without it the run goes to ``runs/<time>-<command>``. An
    existing ``out`` is an error unless ``overwrite`` is set and it is a reliant run folder,
    so earlier results are never silently mixed with new ones and nothing else is ever
    deleted. ``inputs`` (and every existing path among ``config``'s values) may not lie
    inside ``out``; see :func:`check_output_dir`, which runs first.
    """
    final = check_output_dir(out, config=config, inputs=inputs, overwrite=overwrite, command=command, root=root)
    main_process = process_rank() == 0
    if main_process:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    else:
        staging = Path(tempfile.mkdtemp(prefix=f"reliant-rank{process_rank()}-", suffix=".partial"))

    logger = logging.getLogger(LOG_NAME)
    handler = logging.FileHandler(staging / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    # The log belongs in the run directory; libraries that configure the root logger
    # (accelerate does) would otherwise echo every line to the console.
    logger.propagate = False
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    run = RunDirectory(
        path=staging,
        final_path=final,
        command=command,
        config=config_to_dict(config),
        title=title or f"reliant {command}",
        logger=logger,
    )
    succeeded = False
    try:
        logger.info("reliant %s: %s", reliant.__version__, command)
        yield run
        run._write_outputs()
        logger.info("finished; results in %s", final)
        succeeded = True
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous_level)
        if succeeded and main_process:
            _replace_folder(staging, final)
            run.path = final
        else:
            shutil.rmtree(staging, ignore_errors=True)
            if succeeded:
                run.path = final  # what the main process wrote
