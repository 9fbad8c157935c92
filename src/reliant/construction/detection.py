"""Label-error detection and noise estimation on features, through the curation capability.

The detectors (a registry, :data:`DETECTORS`) all take the features of a model trained on
the data and the (noisy) labels, and return a boolean mask of suspected label errors:

* ``simifeat_vote`` / ``simifeat_rank`` -- SimiFeat (Zhu, Dong & Liu, ICML 2022): k-NN label
  votes in feature space; ``rank`` flags, per class, the share HOC estimates to be wrong.
* ``cleanlab`` -- confident learning (Northcutt et al., JAIR 2021) with ``cleanlab``'s
  ``find_label_issues`` on out-of-sample probabilities of a logistic regression on the
  features (5-fold cross-validated, scikit-learn), cleanlab's recommended recipe.

:func:`estimate_noise` is HOC (Zhu, Song & Liu, ICML 2021): the transition matrix ``T`` and the
noise rate from 2-NN consensus, which forward correction and co-teaching consume.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["DETECTORS", "DETECTOR_LABELS", "detect", "estimate_noise"]


def _graph(features: np.ndarray, k: int, seed: int):
    from reliant.curation.api import neighbor_graph

    return neighbor_graph(np.asarray(features, dtype=np.float32), k=k, seed=seed)


def estimate_noise(features: np.ndarray, labels: np.ndarray, num_classes: int, *, seed: int = 0, graph=None):
    """HOC's estimate (``.T``, ``.p``, ``.noise_rate``) from the features' 2-NN consensus."""
    from reliant.curation.api import estimate_transition

    graph = graph if graph is not None else _graph(features, 10, seed)
    return estimate_transition(np.asarray(labels, dtype=np.int64), num_classes, graph, seed=seed)


def _simifeat(method: str) -> Callable[..., np.ndarray]:
    def run(features: np.ndarray, labels: np.ndarray, num_classes: int, seed: int = 0, k: int = 10) -> np.ndarray:
        from reliant.curation.api import detect_label_errors, rank_rates

        graph = _graph(features, k, seed)
        rates = None
        if method == "rank":
            hoc = estimate_noise(features, labels, num_classes, seed=seed, graph=graph)
            rates = rank_rates(hoc.T, hoc.p, hoc.noisy_prior)
        return detect_label_errors(labels, num_classes, graph, method=method, k=k, class_rates=rates, seed=seed).flagged

    return run


def cross_validated_probs(features: np.ndarray, labels: np.ndarray, num_classes: int, seed: int = 0) -> np.ndarray:
    """Out-of-fold class probabilities of a logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression  # deliberately lazy: sklearn
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = min(5, int(np.bincount(labels, minlength=num_classes)[np.bincount(labels) > 0].min()))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0))
    if folds < 2:
        raise ValueError("every class needs at least two rows for cross-validated probabilities")
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probs = cross_val_predict(model, features, labels, cv=split, method="predict_proba")
    full = np.zeros((len(labels), num_classes))
    full[:, np.unique(labels)] = probs
    return full


def _cleanlab(features: np.ndarray, labels: np.ndarray, num_classes: int, seed: int = 0, k: int = 10) -> np.ndarray:
    from cleanlab.filter import find_label_issues  # deliberately lazy: heavy

    probs = cross_validated_probs(features, labels, num_classes, seed)
    return np.asarray(find_label_issues(labels, probs, n_jobs=1), dtype=bool)


DETECTORS: dict[str, Callable[..., np.ndarray]] = {
    "simifeat_vote": _simifeat("vote"),
    "simifeat_rank": _simifeat("rank"),
    "cleanlab": _cleanlab,
}
DETECTOR_LABELS = {"simifeat_vote": "SimiFeat-V", "simifeat_rank": "SimiFeat-R (HOC rates)",
                   "cleanlab": "cleanlab (confident learning)"}


def detect(name: str, features: np.ndarray, labels: np.ndarray, num_classes: int, seed: int = 0) -> np.ndarray:
    return DETECTORS[name](np.asarray(features, dtype=np.float32), np.asarray(labels, dtype=np.int64), num_classes,
                           seed=seed)
