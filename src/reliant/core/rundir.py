"""Run directories: every command leaves ``config.yaml``, ``log.txt``, ``metrics.json`` and
``report.html`` (plus its own artefacts) in one folder.

The folder is built under a hidden temporary name beside its final place and renamed only
when the command succeeds, so a failed or interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

import reliant
from reliant.core.config import config_to_dict
from reliant.core.errors import ConfigError
from reliant.core.plotting import figure_png

LOG_NAME = "reliant"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; null keeps the file loadable everywhere
    if isinstance(value, Path):
        return str(value)
    return value


def format_number(value: Any, digits: int = 4) -> str:
    """Short, aligned-looking text for a table cell or headline card."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
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
    headline: list[tuple[str, str]] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def file(self, name: str) -> Path:
        """Path of an artefact inside the run directory (parent folders created)."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def log(self, message: str) -> None:
        self.logger.info(message)

    def add_metrics(self, values: Mapping[str, Any]) -> None:
        self.metrics.update(_jsonable(dict(values)))

    def add_headline(self, label: str, value: Any) -> None:
        """A number shown as a card at the top of the report."""
        self.headline.append((label, format_number(value)))

    def add_figure(self, title: str, figure: Any, caption: str = "", save_as: str | None = None) -> None:
        png = figure_png(figure)
        if save_as:
            self.file(save_as).write_bytes(png)
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
        numeric = {
            c for c in columns
            if rows and all(isinstance(r.get(c), (int, float, np.number)) and not isinstance(r.get(c), bool) for r in rows)
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
        env = Environment(loader=PackageLoader("reliant.core", "templates"), autoescape=select_autoescape())
        html = env.get_template("report.html.jinja").render(
            title=self.title,
            version=reliant.__version__,
            command=self.command,
            created=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            seed=self.config.get("seed", "–"),
            headline=self.headline,
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


@contextmanager
def run_directory(
    command: str,
    config: Any,
    out: str | Path | None = None,
    *,
    root: str | Path = "runs",
    title: str | None = None,
    overwrite: bool = False,
) -> Iterator[RunDirectory]:
    """Create a run directory for ``command``; it appears at its final path only on success.

    ``out`` names the folder; without it the run goes to ``runs/<time>-<command>``. An
    existing ``out`` is an error unless ``overwrite`` is set, so earlier results are never
    silently mixed with new ones.
    """
    final = Path(out) if out is not None else _default_location(command, Path(root))
    if final.exists() and not (final.is_dir() and not any(final.iterdir())):
        if not overwrite:
            raise ConfigError("output directory already exists (choose another --out or pass --overwrite)", file=final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))

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
        if succeeded:
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging, final)
            run.path = final
        else:
            shutil.rmtree(staging, ignore_errors=True)
