"""Classifier outputs as arrays: loading, validation and the small numerics every post-hoc
method needs (softmax, per-group accuracy, confusion matrices).

Robustness and collaboration both work on a trained classifier's outputs, so both read
them through here (collaboration via :mod:`reliant.robustness.api`). Every check raises a
:class:`~reliant.core.errors.DataError` naming the file and field, so the CLI prints one
line and exits 2.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.special import log_softmax as _log_softmax

from reliant.core.data import load_array
from reliant.core.errors import DataError

__all__ = [
    "check_groups",
    "check_labels",
    "check_probabilities",
    "check_rows",
    "confusion_matrix",
    "group_accuracy",
    "load_labels",
    "load_scores",
    "load_vector",
    "log_softmax",
    "probabilities_to_logits",
    "softmax",
]

PathLike = str | os.PathLike


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    return _log_softmax(np.asarray(logits, dtype=np.float64), axis=axis)


def probabilities_to_logits(probs: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """``log p`` (floored), the logits whose softmax is ``p``."""
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), floor, None))


def check_rows(name: str, n: int, expected: int, file: PathLike | None, reference: str) -> None:
    """One-line error when an array's row count differs from ``reference``'s."""
    if n != expected:
        raise DataError(f"has {n} rows but {reference} has {expected}", file=file, field=name)


def check_labels(labels: np.ndarray, num_classes: int, *, name: str = "labels", file: PathLike | None = None) -> np.ndarray:
    """Integer labels in ``0..num_classes-1``; the first bad row is named (1-based)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"expected one label per row, got shape {labels.shape}", file=file, field=name)
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise DataError("expected integer labels", file=file, field=name)
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"label {int(labels[row])} at row {row + 1} is outside 0..{num_classes - 1} ({num_classes} classes)",
            file=file, field=name,
        )
    return labels.astype(np.int64)


def check_groups(groups: np.ndarray, *, name: str = "groups", file: PathLike | None = None) -> np.ndarray:
    """Group ids: non-negative integers, one per row (ids need not be contiguous, but every
    id below the largest counts as a group, possibly empty)."""
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0:
        raise DataError(f"expected one group id per row, got shape {groups.shape}", file=file, field=name)
    return check_labels(groups, int(np.max(groups)) + 1 if np.issubdtype(groups.dtype, np.number) and np.all(np.isfinite(groups)) else 1,
                        name=name, file=file)


def check_probabilities(probs: np.ndarray, *, name: str = "probs", file: PathLike | None = None, tol: float = 1e-3) -> np.ndarray:
    """Rows of non-negative numbers summing to 1 (within ``tol``); renormalised exactly."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise DataError(f"expected a 2-D array (rows x classes), got shape {probs.shape}", file=file, field=name)
    if not np.all(np.isfinite(probs)):
        row = int(np.flatnonzero(~np.isfinite(probs).all(axis=1))[0])
        raise DataError(f"contains NaN or infinite values (first at row {row + 1})", file=file, field=name)
    negative = np.flatnonzero((probs < 0).any(axis=1))
    if negative.size:
        raise DataError(f"negative probability at row {int(negative[0]) + 1}", file=file, field=name)
    sums = probs.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > tol)
    if off.size:
        row = int(off[0])
        raise DataError(
            f"row {row + 1} sums to {sums[row]:.4g}, not 1 (pass logits instead, or normalise the rows)",
            file=file, field=name,
        )
    return probs / sums[:, None]


def load_scores(path: PathLike, *, name: str = "logits", probabilities: bool = False) -> np.ndarray:
    """A 2-D score array (rows x classes). With ``probabilities`` the rows must be
    distributions and their log is returned, so every method sees logits."""
    array = load_array(path, name=name, ndim=2, dtype="float")
    if array.shape[1] < 2:
        raise DataError(f"needs at least 2 classes (columns), got shape {array.shape}", file=path, field=name)
    if probabilities:
        return probabilities_to_logits(check_probabilities(array, name=name, file=path))
    return array.astype(np.float64)


def load_labels(path: PathLike, num_classes: int, *, name: str = "labels", rows: int | None = None,
                reference: str = "logits") -> np.ndarray:
    """Integer labels in range, one per row of ``reference`` (a 1-column 2-D array is accepted)."""
    array = load_array(path, name=name, ndim=(1, 2), dtype="int")
    if array.ndim == 2:
        if array.shape[1] != 1:
            raise DataError(f"expected one label per row, got shape {array.shape}", file=path, field=name)
        array = array[:, 0]
    if rows is not None:
        check_rows(name, len(array), rows, path, reference)
    return check_labels(array, num_classes, name=name, file=path)


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


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int, normalize: bool = True) -> np.ndarray:
    """``C[y, k]`` = (fraction of) rows of true class ``y`` predicted ``k``. ``predictions`` may
    be integer predictions or a matrix of per-row prediction distributions (soft counts)."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    if predictions.ndim == 1:
        np.add.at(counts, (labels, predictions), 1.0)
    else:
        np.add.at(counts, labels, predictions.astype(np.float64))
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            counts = np.where(totals > 0, counts / np.maximum(totals, 1e-300), np.nan)
    return counts


def existing_path(path: PathLike | None, name: str) -> Path:
    """A required input path; a missing flag is a one-line error naming it."""
    from reliant.core.errors import ConfigError

    if path is None:
        raise ConfigError(f"required (give --{name.replace('_', '-')} or set {name} in --config)", field=name)
    return Path(path)
