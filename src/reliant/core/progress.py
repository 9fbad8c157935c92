"""Progress for anything that loops over data or training steps, on stderr.

* On a terminal: a rich bar per task.
* When stderr is not a terminal (CI, ``reliant demo > log 2>&1``, a job scheduler): plain
  lines, one when a task starts, one per tenth of it (at most one per second) and one when
  it ends, so a log shows that long work is alive and how far it got.
* ``RELIANT_PROGRESS=0`` switches progress off; ``=1`` forces bars, ``=plain`` forces lines.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

T = TypeVar("T")

_console = Console(stderr=True)


def progress_mode() -> str:
    """``"bar"``, ``"plain"`` or ``"off"`` (see the module docstring)."""
    setting = os.environ.get("RELIANT_PROGRESS")
    if setting is not None:
        setting = setting.strip().lower()
        if setting in ("0", "false", "no", "off", ""):
            return "off"
        if setting == "plain":
            return "plain"
        return "bar"
    return "bar" if sys.stderr.isatty() else "plain"


def progress_enabled() -> bool:
    return progress_mode() != "off"


class PlainProgress:
    """Progress as plain lines: start, every tenth (at most one a second), end."""

    def __init__(self, description: str, total: int | None, stream=None, min_interval: float = 1.0) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self.status = ""
        self._stream = stream if stream is not None else sys.stderr
        self._min_interval = min_interval
        self._start = time.monotonic()
        self._last_line = self._start
        self._next_tenth = 1
        # The "started" line waits for the first update a second in: work that ends (or
        # fails) sooner prints nothing, so a bad input still gets its error line alone.
        self._started = False
        if min_interval <= 0:
            self._announce()

    def _announce(self) -> None:
        if not self._started:
            self._started = True
            self._write(f"started ({self.total:,} steps)" if self.total else "started")

    def _write(self, what: str) -> None:
        status = f" {self.status}" if self.status else ""
        self._stream.write(f"{self.description}: {what}{status}\n")
        self._stream.flush()

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        self.done += steps
        if status is not None:
            self.status = status
        now = time.monotonic()
        if not self._started:
            if now - self._start < self._min_interval:
                return
            self._announce()
        if self.total:
            tenth = int(10 * self.done / self.total)
            if tenth >= self._next_tenth and self.done < self.total and now - self._last_line >= self._min_interval:
                self._next_tenth = tenth + 1
                self._last_line = now
                self._write(f"{100 * self.done / self.total:.0f}% ({self.done:,}/{self.total:,}, {now - self._start:.0f} s)")
        elif now - self._last_line >= 30:
            self._last_line = now
            self._write(f"{self.done:,} done ({now - self._start:.0f} s)")

    def close(self) -> None:
        elapsed = time.monotonic() - self._start
        if not self._started:
            if elapsed < self._min_interval:
                return
            self._announce()
        count = f"{self.done:,}/{self.total:,}" if self.total else f"{self.done:,}"
        self._write(f"done ({count} in {elapsed:.1f} s)")


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
    )


def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield from ``iterable`` while showing progress."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with progress_bar(description, total) as bar:
        for item in iterable:
            yield item
            bar.advance()


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


class _NoProgress:
    def advance(self, steps: int = 1, status: str | None = None) -> None:
        pass


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[StepProgress | PlainProgress | _NoProgress]:
    """A task advanced by hand: ``bar.advance(n, status=...)``; drawn as the mode says."""
    mode = progress_mode()
    if mode == "off":
        yield _NoProgress()
    elif mode == "plain":
        plain = PlainProgress(description, total)
        yield plain
        plain.close()
    else:
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
