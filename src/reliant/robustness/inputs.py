"""Robustness-specific array inputs: group ids, prior/target vectors and per-group accuracy.

Labels, class-score matrices and row-count checks are shared with the other capabilities
and live in :mod:`reliant.core.data`; softmax and confusion matrices in
:mod:`reliant.core.arrays`. Every check raises a :class:`~reliant.core.errors.DataError`
naming the file and field, so the CLI prints one line and exits 2.
"""

from __future__ import annotations

import os

import numpy as np

from reliant.core.data import check_labels, load_array
from reliant.core.errors import DataError

__all__ = ["check_groups", "group_accuracy", "load_vector"]

PathLike = str | os.PathLike


def check_groups(groups: np.ndarray, *, name: str = "groups", file: PathLike | None = None) -> np.ndarray:
    """Group ids: non-negative integers, one per row (ids need not be contiguous, but every
    id below the largest counts as a group, possibly empty)."""
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0:
        raise DataError(f"expected one group id per row, got shape {groups.shape}", file=file, field=name)
    return check_labels(groups, name=name, file=file)


def load_vector(path: PathLike, length: int, *, name: str, positive: bool = True) -> np.ndarray:
    """A length-``length`` non-negative vector (counts or weights), normalised to sum 1."""
    array = load_array(path, name=name, ndim=(1, 2), dtype="float")
    array = np.asarray(array, dtype=np.float64).reshape(-1)
    if array.size != length:
        raise DataError(f"expected {length} values (one per class or group), got {array.size}", file=path, field=name)
    if np.any(array < 0) or array.sum() <= 0:
        raise DataError("values must be non-negative and not all zero", file=path, field=name)
    if positive and np.any(array == 0):
        raise DataError(f"value at position {int(np.flatnonzero(array == 0)[0]) + 1} is zero; every entry must be positive",
                        file=path, field=name)
    return array / array.sum()


def group_accuracy(correct: np.ndarray, groups: np.ndarray, num_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group accuracy and group sizes; a group with no rows gets accuracy NaN."""
    correct = np.asarray(correct, dtype=np.float64)
    sizes = np.bincount(groups, minlength=num_groups).astype(np.float64)
    hits = np.bincount(groups, weights=correct, minlength=num_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(sizes > 0, hits / np.maximum(sizes, 1), np.nan)
    return acc, sizes.astype(np.int64)
