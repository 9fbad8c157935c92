"""Progress bars for anything that loops over data or training steps.

Bars go to stderr through rich; they switch off when ``RELIANT_PROGRESS=0`` or when
stderr is not a terminal, so logs and CI output stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

T = TypeVar("T")

_console = Console(stderr=True)


def progress_enabled() -> bool:
    setting = os.environ.get("RELIANT_PROGRESS")
    if setting is not None:
        return setting not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def _new_progress() -> Progress:
    # Imported here: command modules import this one, and only a running command draws bars.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

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


@contextmanager
def batch_progress(description: str | None, total: int) -> Iterator[Callable[[], None]]:
    """``advance()`` for a loop over ``total`` batches: a bar when ``description`` is given
    and there is more than one batch, nothing otherwise."""
    if not description or total <= 1:
        yield lambda: None
        return
    with progress_bar(description, total=total) as bar:
        yield bar.advance


def note(message: str) -> None:
    """One line on stderr, through the console the bars draw on (so a live bar stays intact)."""
    _console.print(message, markup=False, highlight=False, soft_wrap=True)


def quiet_transformers() -> None:
    """Silence transformers' own per-file progress bars and advisory warnings: reliant
    draws one progress bar per long task, and logs go to the run directory."""
    from transformers.utils import logging as hf_logging  # deliberately lazy: heavy (start-up time)

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
