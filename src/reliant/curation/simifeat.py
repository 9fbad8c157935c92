"""SimiFeat: find corrupted labels from feature similarity, without training a model.

Zhu, Dong & Liu, "Detecting Corrupted Labels Without Training a Model to Predict",
ICML 2022. In each round a random subsample is drawn; every sampled row gets a
similarity-weighted vote of its ``k`` nearest sampled neighbours' noisy labels plus its
own label (its own weight extrapolated from the neighbours, ``2·s1 − s2``, so that it
does not dominate):

    v_i[c] = Σ_{j ∈ {i} ∪ kNN(i)} s_ij · 1[ỹ_j = c],    f_i = v_i / ||v_i||_2

* ``vote``: flag ``i`` when ``argmax_c f_i[c] ≠ ỹ_i`` (local majority disagrees).
* ``rank``: score ``ℓ_i = −log f_i[ỹ_i]`` (the paper's cross-entropy score); within each
  noisy class ``j`` flag the ``r_j`` share with the highest score, where
  ``r_j = 1 − P(Y=j | Ỹ=j) = 1 − T_jj p_j / P(Ỹ=j)`` comes from the HOC estimate (clipped
  to [0.05, 0.95] as in the paper's code). Ties at the cut are broken at random, so
  exactly ``round(r_j · n_j)`` rows are flagged.

Over the rounds a row's flag rate is ``(flags + 1) / (times sampled + 2)``; it is
reported corrupted when that exceeds 1/2. The suggested label is the vote winner most
often proposed when it was flagged (own label excluded), with confidence
``P(suggestion) · flag rate`` where ``P(suggestion) = (count + 1) / (flags + K)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reliant.core.progress import track
from reliant.curation.config import SIMIFEAT_METHODS as METHODS
from reliant.curation.neighbors import NeighborGraph, restrict_to_sample

RATE_CLIP = (0.05, 0.95)


@dataclass
class DetectionResult:
    """Per sample: ``flagged``, ``flag_rate``, ``suggested`` label (own label when not
    flagged), ``confidence`` of the suggestion (0 when not flagged), ``times_sampled``."""

    flagged: np.ndarray
    flag_rate: np.ndarray
    suggested: np.ndarray
    confidence: np.ndarray
    times_sampled: np.ndarray
    method: str
    class_rates: np.ndarray | None = None

    @property
    def num_flagged(self) -> int:
        return int(self.flagged.sum())


def knn_label_votes(
    labels: np.ndarray, nbr_idx: np.ndarray, nbr_sims: np.ndarray, valid: np.ndarray,
    own_labels: np.ndarray, num_classes: int,
) -> np.ndarray:
    """Similarity-weighted, L2-normalised label votes (rows x K), own label included."""
    n, k = nbr_idx.shape
    K = num_classes
    weights = np.clip(nbr_sims.astype(np.float64), 0.0, None) * valid
    if k >= 2:
        self_weight = np.clip(2.0 * nbr_sims[:, 0] - nbr_sims[:, 1], 0.0, None)
    else:
        self_weight = np.clip(nbr_sims[:, 0].astype(np.float64), 0.0, None)
    votes = np.zeros((n, K), dtype=np.float64)
    rows = np.repeat(np.arange(n), k)
    np.add.at(votes, (rows, labels[nbr_idx].ravel()), weights.ravel())
    votes[np.arange(n), own_labels] += self_weight
    norms = np.linalg.norm(votes, axis=1, keepdims=True)
    return votes / np.maximum(norms, 1e-12)


def rank_rates(T: np.ndarray, p: np.ndarray, noisy_prior: np.ndarray) -> np.ndarray:
    """Per noisy class, the estimated share of wrong labels ``1 − T_jj p_j / P(Ỹ=j)``, clipped."""
    keep = np.diag(T) * p / np.maximum(noisy_prior, 1e-12)
    return np.clip(1.0 - np.minimum(keep, 1.0), *RATE_CLIP)


def detect_round(
    labels: np.ndarray, rows: np.ndarray, nbr_idx, nbr_sims, valid, num_classes: int, method: str,
    class_rates: np.ndarray | None, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One round on the sampled ``rows``: returns (flagged mask over rows, vote winner)."""
    own = labels[rows]
    f = knn_label_votes(labels, nbr_idx, nbr_sims, valid, own, num_classes)
    winner = np.argmax(f, axis=1)
    if method == "vote":
        return winner != own, winner
    score = -np.log(f[np.arange(len(rows)), own] + 1e-8)
    flagged = np.zeros(len(rows), dtype=bool)
    tiebreak = rng.random(len(rows))
    for c in range(num_classes):
        members = np.flatnonzero(own == c)
        if len(members) == 0:
            continue
        m = int(round(class_rates[c] * len(members)))
        if m == 0:
            continue
        order = np.lexsort((tiebreak[members], -score[members]))
        flagged[members[order[:m]]] = True
    # a flagged row whose own label wins the vote gets the runner-up as its suggestion
    runner_up = np.argsort(-f, axis=1)[:, :2]
    suggestion = np.where(runner_up[:, 0] == own, runner_up[:, 1], runner_up[:, 0])
    return flagged, suggestion


def detect_label_errors(
    labels: np.ndarray,
    num_classes: int,
    graph: NeighborGraph,
    *,
    method: str = "rank",
    k: int = 10,
    rounds: int = 11,
    sample_fraction: float = 0.9,
    class_rates: np.ndarray | None = None,
    seed: int = 0,
) -> DetectionResult:
    """SimiFeat over ``rounds`` subsamples; ``class_rates`` (from :func:`rank_rates`) is
    required for ``rank``."""
    if method not in METHODS:
        raise ValueError(f"unknown SimiFeat method {method!r}")
    if method == "rank" and class_rates is None:
        raise ValueError("rank needs class_rates (estimate T and p with HOC first)")
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    K = int(num_classes)
    k = int(min(k, graph.k))
    rng = np.random.default_rng(seed)
    size = max(2, min(n, int(round(sample_fraction * n))))
    flags = np.zeros(n)
    times = np.zeros(n)
    suggest = np.zeros((n, K))
    for _ in track(range(max(1, rounds)), f"SimiFeat-{method} rounds"):
        rows = np.sort(rng.choice(n, size=size, replace=False)) if size < n else np.arange(n)
        in_sample = np.zeros(n, dtype=bool)
        in_sample[rows] = True
        idx, sims, valid = restrict_to_sample(graph, rows, in_sample, k)
        flagged, suggestion = detect_round(labels, rows, idx, sims, valid, K, method, class_rates, rng)
        times[rows] += 1
        flags[rows[flagged]] += 1
        np.add.at(suggest, (rows[flagged], suggestion[flagged]), 1)
    flag_rate = (flags + 1.0) / (times + 2.0)
    is_flagged = flag_rate > 0.5
    suggest_prob = (suggest + 1.0) / (suggest.sum(axis=1, keepdims=True) + K)
    suggest_prob[np.arange(n), labels] = -1.0
    best = np.argmax(suggest_prob, axis=1)
    confidence = np.where(is_flagged, suggest_prob[np.arange(n), best] * flag_rate, 0.0)
    suggested = np.where(is_flagged, best, labels)
    return DetectionResult(flagged=is_flagged, flag_rate=flag_rate, suggested=suggested, confidence=confidence,
                           times_sampled=times.astype(np.int64), method=method, class_rates=class_rates)
