"""The cleanlab baseline SimiFeat is compared with: ``find_label_issues`` on out-of-sample
k-NN class probabilities (no model is trained, as in SimiFeat)."""

from __future__ import annotations

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
    np.add.at(probs, (np.repeat(np.arange(n), k), labels[graph.idx[:, :k]].ravel()), weights.ravel())
    return probs / probs.sum(axis=1, keepdims=True)


def cleanlab_baseline(labels: np.ndarray, graph: NeighborGraph, num_classes: int, k: int = 10) -> np.ndarray | None:
    """cleanlab's ``find_label_issues`` on k-NN pred_probs; None when cleanlab is missing."""
    try:
        from cleanlab.filter import find_label_issues  # deliberately lazy: heavy, and only this baseline needs it
    except ImportError:  # pragma: no cover - cleanlab is a declared dependency
        return None
    return np.asarray(find_label_issues(labels, knn_pred_probs(labels, graph, num_classes, k), n_jobs=1), dtype=bool)
