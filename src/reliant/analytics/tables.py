"""Chart tables: a CSV read through :mod:`reliant.core.data` (one-line errors), then typed.

A column is numeric when every non-empty cell is a number (ints stay ints, so ``Year`` and
``Rank`` group and filter exactly); every other column is text and its distinct values are what
a request may name ("for Walmart and Apple").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reliant.core.data import load_records
from reliant.core.errors import DataError

__all__ = ["load_table"]


def _number(cell: str) -> int | float | None:
    text = cell.strip().replace(",", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def load_table(path: str | Path) -> tuple[Any, dict[str, set[str]]]:
    """``(DataFrame, {text column: its values})`` of a CSV file."""
    import math

    import pandas as pd  # deliberate: only when a table is charted

    if Path(path).suffix.lower() != ".csv":
        raise DataError("a chart table must be a .csv file", file=path)
    records = load_records(path)
    columns: dict[str, list[Any]] = {name: [] for name in records.columns}
    for name in columns:
        cells = [str(r.get(name, "")) for r in records]
        try:
            numbers = [_number(c) for c in cells]
            if any(isinstance(n, float) and not math.isfinite(n) for n in numbers if n is not None):
                raise ValueError
            columns[name] = numbers
        except ValueError:
            columns[name] = cells
    frame = pd.DataFrame(columns)
    text_values = {name: set(frame[name]) for name in frame.columns
                   if not pd.api.types.is_numeric_dtype(frame[name])}
    return frame, text_values
