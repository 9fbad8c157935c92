"""One exception type for mistakes a user can fix (bad file, bad flag, bad field).

The CLI turns a :class:`UserError` into one line on stderr and exit code 2; any other
exception is a bug in reliant and keeps its traceback. ``UserError`` is a
:class:`ValueError`, so Python callers catch it the usual way (``except ValueError``).

Raise it only for what the *user* can fix (a file, a flag, a config value). A broken
internal contract (a caller passing an array of the wrong shape) is a bug: raise a plain
``TypeError``/``ValueError`` so the traceback survives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike


class UserError(ValueError):
    """A problem with the user's input, reported as one line naming where it is.

    >>> str(UserError("missing field", file="a.jsonl", line=3, field="answer"))
    "a.jsonl:3: field 'answer': missing field"
    >>> str(UserError("missing", file="a.json", record=2, field="answer"))
    "a.json: record 2: field 'answer': missing"

    ``line`` is a text line of the file; ``record`` the 1-based position of a record in a
    file that has no lines to point at (a JSON array, a parquet table, a dataset).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
        record: int | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.record = record
        self.field = field
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.record is not None:
            where += f"record {self.record}: "
        what = f"field '{self.field}': " if self.field is not None else ""
        return " ".join(f"{where}{what}{self.message}".split())


class DataError(UserError):
    """A data file (or dataset) that cannot be read or does not fit the expected schema."""


class ConfigError(UserError):
    """A flag or config-file value that is missing, unknown or out of range."""


def check_number(
    value: object,
    field: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    allow_nonfinite: bool = False,
    file: str | PathLike | None = None,
) -> float | int:
    """``value`` as a finite number within the bounds, or a one-line :class:`ConfigError`
    naming ``field``. NaN and infinities are always rejected (``nan <= 0`` is false, so a
    bare comparison lets NaN through); ``integer`` also rejects fractions and booleans.

    >>> check_number(3, "k", low=1, integer=True)
    3
    >>> check_number(float("nan"), "ratio", low=1)
    Traceback (most recent call last):
    ...
    reliant.core.errors.ConfigError: field 'ratio': must be a finite number >= 1, got nan
    """
    import math

    def show(bound: float) -> str:
        return str(int(bound)) if float(bound).is_integer() and abs(bound) < 1e15 else f"{bound:g}"

    def describe() -> str:
        if low is not None and high is not None:
            interval = f"{'(' if low_open else '['}{show(low)}, {show(high)}{')' if high_open else ']'}"
            return f"must be {'an integer ' if integer else ''}in {interval}"
        kind = "an integer" if integer else "a finite number"
        if low is not None:
            return f"must be {kind} {'>' if low_open else '>='} {show(low)}"
        if high is not None:
            return f"must be {kind} {'<' if high_open else '<='} {show(high)}"
        return f"must be {kind}"

    def fail() -> ConfigError:
        return ConfigError(f"{describe()}, got {value!r}", field=field, file=file)

    if isinstance(value, bool):
        raise fail()
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise fail() from None
    except OverflowError:  # an int too large for a float is out of any finite range
        raise fail() from None
    if math.isnan(number) or (math.isinf(number) and not allow_nonfinite) or (integer and not number.is_integer()):
        raise fail()
    if (low is not None and (number <= low if low_open else number < low)) or (
        high is not None and (number >= high if high_open else number > high)
    ):
        raise fail()
    if integer:
        return value if isinstance(value, int) else int(number)
    return number


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM (a ``kill``, a job scheduler's stop) raises KeyboardInterrupt in
    the main thread, so that ``finally`` blocks run as after Ctrl-C: run folders' staging
    copies and temporary cache files are removed, checkpoints saved. The previous handler
    comes back on the way out; in other threads this does nothing (signals go to the main one)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _interrupt(signum, frame):
        raise KeyboardInterrupt("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
