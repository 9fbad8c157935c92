"""Progress bars for anything that loops over data or training steps.

Bars go to stderr through rich; they switch off when ``RELIANT_PROGRESS=0`` or when
stderr is not a terminal, so logs and CI output stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

_console = Console(stderr=True)


def progress_enabled() -> bool:
    setting = os.environ.get("RELIANT_PROGRESS")
    if setting is not None:
        return setting not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def _new_progress() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_console,
        transient=False,
        disable=not progress_enabled(),
    )


def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield from ``iterable`` while drawing a progress bar."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with _new_progress() as bar:
        task = bar.add_task(description, total=total, status="")
        for item in iterable:
            yield item
            bar.advance(task)


class StepProgress:
    """A bar advanced by hand, with a status text (e.g. the current loss)."""

    def __init__(self, bar: Progress, task) -> None:
        self._bar = bar
        self._task = task

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        if status is None:
            self._bar.advance(self._task, steps)
        else:
            self._bar.update(self._task, advance=steps, status=status)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[StepProgress]:
    with _new_progress() as bar:
        task = bar.add_task(description, total=total, status="")
        yield StepProgress(bar, task)
