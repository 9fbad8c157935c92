"""The cleanlab baseline SimiFeat is compared with: ``find_label_issues`` on out-of-sample
k-NN class probabilities (no model is trained, as in SimiFeat)."""

from __future__ import annotations

import time

import numpy as np

from reliant.curation.neighbors import NeighborGraph


def knn_pred_probs(labels: np.ndarray, graph: NeighborGraph, num_classes: int, k: int = 10,
                   smoothing: float = 0.01) -> np.ndarray:
    """Out-of-sample class probabilities from the similarity-weighted labels of the ``k``
    nearest *other* rows (the row's own label is not used), for cleanlab."""
    k = min(k, graph.k)
    n = len(labels)
    weights = np.clip(graph.sims[:, :k].astype(np.float64), 0.0, None)
    probs = np.full((n, num_classes), smoothing)
    cells = (np.arange(n)[:, None] * num_classes + labels[graph.idx[:, :k]]).ravel()
    probs += np.bincount(cells, weights=weights.ravel(), minlength=n * num_classes).reshape(n, num_classes)
    return probs / probs.sum(axis=1, keepdims=True)


def cleanlab_issues(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, float]:
    """cleanlab's ``find_label_issues`` on ``pred_probs`` (default arguments, one job): the
    flagged mask and the seconds the call took, *not* counting ``import cleanlab``."""
    from cleanlab.filter import find_label_issues  # deliberately lazy: heavy (seconds), imported before timing

    start = time.perf_counter()
    issues = np.asarray(find_label_issues(np.asarray(labels), np.asarray(pred_probs), n_jobs=1), dtype=bool)
    return issues, time.perf_counter() - start


def cleanlab_baseline(labels: np.ndarray, graph: NeighborGraph, num_classes: int, k: int = 10) -> np.ndarray:
    """cleanlab's ``find_label_issues`` on k-NN pred_probs."""
    return cleanlab_issues(labels, knn_pred_probs(labels, graph, num_classes, k))[0]


def argmax_baseline(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """The trivial detector every other must beat: flag a row when the most probable class
    is not its label."""
    return np.argmax(pred_probs, axis=1) != np.asarray(labels)
