"""Human annotations as per-item vote counts (rows x classes).

CIFAR-10H gives about 50 votes per image; a deployed team has one or a few annotators, so
:func:`sample_annotators` draws ``k`` of an item's votes without replacement (a multivariate
hypergeometric draw), and :func:`plurality` turns counts into one label (ties broken at
random, seeded).
"""

from __future__ import annotations

import numpy as np

from reliant.core.data import check_labels
from reliant.core.errors import DataError

__all__ = ["agreement", "as_counts", "plurality", "sample_annotators", "vote_distribution", "vote_share_of"]


def as_counts(votes: np.ndarray, num_classes: int, *, name: str = "human_votes", file=None) -> np.ndarray:
    """Vote counts (rows x classes, non-negative, >= 1 vote per row); a 1-D array of single
    human labels becomes one-hot counts."""
    votes = np.asarray(votes)
    if votes.ndim == 1:
        labels = check_labels(votes, num_classes, name=name, file=file)
        counts = np.zeros((len(labels), num_classes), dtype=np.int64)
        counts[np.arange(len(labels)), labels] = 1
        return counts
    if votes.ndim != 2 or votes.shape[1] != num_classes:
        raise DataError(f"expected rows x {num_classes} vote counts (or one label per row), got shape {votes.shape}",
                        file=file, field=name)
    if not np.all(np.isfinite(votes)):
        row = int(np.flatnonzero(~np.isfinite(votes).all(axis=1))[0])
        raise DataError(f"contains NaN or infinite values (first at row {row + 1})", file=file, field=name)
    if np.any(votes < 0) or np.any(votes != np.round(votes)):
        row = int(np.flatnonzero(((votes < 0) | (votes != np.round(votes))).any(axis=1))[0])
        raise DataError(f"vote counts must be non-negative integers (row {row + 1})", file=file, field=name)
    empty = np.flatnonzero(votes.sum(axis=1) == 0)
    if empty.size:
        raise DataError(f"row {int(empty[0]) + 1} has no votes", file=file, field=name)
    return votes.astype(np.int64)


def sample_annotators(counts: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` votes per row drawn without replacement from each row's votes (all of a row's
    votes when it has ``k`` or fewer; ``k = 0`` keeps every vote)."""
    counts = np.asarray(counts, dtype=np.int64)
    if k <= 0:
        return counts.copy()
    n, num_classes = counts.shape
    # one entry per vote: (row, class); shuffle within rows by random keys, keep the first k
    row_of_vote = np.repeat(np.repeat(np.arange(n), num_classes), counts.reshape(-1))
    class_of_vote = np.repeat(np.tile(np.arange(num_classes), n), counts.reshape(-1))
    order = np.lexsort((rng.random(len(row_of_vote)), row_of_vote))
    starts = np.concatenate(([0], np.cumsum(counts.sum(axis=1))[:-1]))
    rank = np.arange(len(order)) - starts[row_of_vote[order]]
    kept = order[rank < k]
    out = np.zeros_like(counts)
    np.add.at(out, (row_of_vote[kept], class_of_vote[kept]), 1)
    return out


def plurality(counts: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """The most voted class per row; ties go to a random tied class (the lowest without rng)."""
    counts = np.asarray(counts, dtype=np.float64)
    if rng is None:
        return np.argmax(counts, axis=1)
    jitter = rng.random(counts.shape) * 0.5  # < 1: never overturns a strict majority of integer counts
    return np.argmax(counts + jitter, axis=1)


def vote_distribution(counts: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """``(counts + a) / (total + K a)`` per row."""
    counts = np.asarray(counts, dtype=np.float64) + smoothing
    return counts / counts.sum(axis=1, keepdims=True)


def agreement(counts: np.ndarray) -> np.ndarray:
    """Share of a row's votes that went to its most voted class (1 = unanimous)."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts.max(axis=1) / counts.sum(axis=1)


def vote_share_of(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Share of a row's votes for its true class: the expected accuracy of one random annotator."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts[np.arange(len(labels)), labels] / counts.sum(axis=1)
