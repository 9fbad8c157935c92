"""One exception type for mistakes a user can fix (bad file, bad flag, bad field).

The CLI turns a :class:`UserError` into one line on stderr and exit code 2; any other
exception is a bug in reliant and keeps its traceback.
"""

from __future__ import annotations

from os import PathLike


class UserError(Exception):
    """A problem with the user's input, reported as one line naming where it is.

    >>> str(UserError("missing field", file="a.jsonl", line=3, field="answer"))
    "a.jsonl:3: field 'answer': missing field"
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.field = field
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        what = f"field '{self.field}': " if self.field is not None else ""
        return " ".join(f"{where}{what}{self.message}".split())


class DataError(UserError):
    """A data file (or dataset) that cannot be read or does not fit the expected schema."""


class ConfigError(UserError):
    """A flag or config-file value that is missing, unknown or out of range."""
