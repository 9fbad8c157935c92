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
  as the paper's code does: a rate ``<= 0`` becomes 0.05 and ``>= 1`` becomes 0.95, others
  are kept; ``rank_clip="range"`` clips every rate to [0.05, 0.95]). Ties at the cut are
  broken at random, so exactly ``round(r_j · n_j)`` rows are flagged (the official code
  flags every row at or above the percentile, so a tie at the cut flags all of it).

Over the rounds a row's flag rate is ``(flags + 1) / (times sampled + 2)``; it is
reported corrupted when that exceeds 1/2. In each round a flagged row proposes the vote
winner (``suggestion="winner"``, the official rule, even when the winner is its own
label) or the best label other than its own (``"runner_up"``). The suggested label is the
proposal made most often, own label excluded, with confidence ``P(suggestion) · flag rate``
where ``P(suggestion) = (count + 1) / (flags + K)``: under the official rule rounds in
which the own label won still count in ``flags``, so they lower the confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reliant.core.progress import track
from reliant.curation.config import SIMIFEAT_METHODS as METHODS
from reliant.curation.neighbors import NeighborGraph, SubsampleRounds, nth_sampled_column

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
    # bincount over flat (row, class) cells: the same sums as np.add.at, many times faster
    cells = (np.arange(n)[:, None] * K + labels[nbr_idx]).ravel()
    votes = np.bincount(cells, weights=weights.ravel(), minlength=n * K).reshape(n, K)
    votes[np.arange(n), own_labels] += self_weight
    norms = np.linalg.norm(votes, axis=1, keepdims=True)
    return votes / np.maximum(norms, 1e-12)


def rank_rates(T: np.ndarray, p: np.ndarray, noisy_prior: np.ndarray, clip: str = "official") -> np.ndarray:
    """Per noisy class, the estimated share of wrong labels ``1 − T_jj p_j / P(Ỹ=j)``, clipped
    (``"official"``: only rates outside (0, 1) are moved, to 0.05 / 0.95; ``"range"``: every
    rate into [0.05, 0.95])."""
    keep = np.diag(T) * p / np.maximum(noisy_prior, 1e-12)
    rates = 1.0 - np.minimum(keep, 1.0)
    if clip == "range":
        return np.clip(rates, *RATE_CLIP)
    if clip != "official":
        raise ValueError(f"unknown rank clip {clip!r}")
    return np.where(rates <= 0.0, RATE_CLIP[0], np.where(rates >= 1.0, RATE_CLIP[1], rates))


def sampled_label_votes(
    labels: np.ndarray, subsample: SubsampleRounds, rows: np.ndarray, k: int, num_classes: int,
) -> np.ndarray:
    """:func:`knn_label_votes` of the sampled ``rows`` over their ``k`` nearest sampled
    neighbours, read off the graph's full lists with zero weight for the other slots
    instead of compacting them (:func:`restrict_to_sample`); the sums are the same, term
    by term and in the same order."""
    K = num_classes
    idx, member, count = subsample.sampled_neighbours(rows)
    sims = subsample.sims[rows]
    used = member & (count <= k)
    weights = np.clip(sims.astype(np.float64), 0.0, None) * used
    row_index = np.arange(len(rows))
    nearest = sims[row_index, nth_sampled_column(member, count, 0)]
    if k >= 2:
        second = sims[row_index, nth_sampled_column(member, count, 1)]
        self_weight = np.clip(2.0 * nearest - second, 0.0, None)
    else:
        self_weight = np.clip(nearest.astype(np.float64), 0.0, None)
    # labels of the sentinel (padding) slots do not matter: their weight is zero
    neighbour_labels = np.append(labels, 0)[idx]
    cells = (row_index[:, None] * K + neighbour_labels).ravel()
    votes = np.bincount(cells, weights=weights.ravel(), minlength=len(rows) * K).reshape(len(rows), K)
    votes[row_index, labels[rows]] += self_weight
    norms = np.linalg.norm(votes, axis=1, keepdims=True)
    return votes / np.maximum(norms, 1e-12)


def detect_round(
    own: np.ndarray, f: np.ndarray, num_classes: int, method: str,
    class_rates: np.ndarray | None, rng: np.random.Generator, suggestion: str = "winner",
) -> tuple[np.ndarray, np.ndarray]:
    """One round from the sampled rows' own labels and normalised votes ``f``: returns
    (flagged mask over the rows, each row's proposal)."""
    winner = np.argmax(f, axis=1)
    if method == "vote":
        return winner != own, winner  # a flagged row's winner is never its own label
    score = -np.log(f[np.arange(len(own)), own] + 1e-8)
    tiebreak = rng.random(len(own))
    # Within each noisy class the round(r_c * n_c) highest scores, ties at random: one
    # sort by (class, score descending, tie-break) instead of one sort per class.
    order = np.lexsort((tiebreak, -score, own))
    class_sizes = np.bincount(own, minlength=num_classes)
    quota = np.array([int(round(class_rates[c] * size)) if size else 0 for c, size in enumerate(class_sizes)])
    class_start = np.concatenate([[0], np.cumsum(class_sizes)[:-1]])
    sorted_class = own[order]
    rank_in_class = np.arange(len(own)) - class_start[sorted_class]
    flagged = np.zeros(len(own), dtype=bool)
    flagged[order[rank_in_class < quota[sorted_class]]] = True
    if suggestion == "winner":
        return flagged, winner
    # reliant's earlier rule: a flagged row whose own label wins proposes the runner-up
    top_two = np.argsort(-f, axis=1)[:, :2]
    return flagged, np.where(top_two[:, 0] == own, top_two[:, 1], top_two[:, 0])


def detect_label_errors(
    labels: np.ndarray,
    num_classes: int,
    graph: NeighborGraph,
    *,
    method: str = "rank",
    k: int = 10,
    rounds: int = 51,
    sample_fraction: float = 0.9,
    class_rates: np.ndarray | None = None,
    seed: int = 0,
    suggestion: str = "winner",
) -> DetectionResult:
    """SimiFeat over ``rounds`` subsamples; ``class_rates`` (from :func:`rank_rates`) is
    required for ``rank``."""
    if method not in METHODS:
        raise ValueError(f"unknown SimiFeat method {method!r}")
    if method == "rank" and class_rates is None:
        raise ValueError("rank needs class_rates (estimate T and p with HOC first)")
    if suggestion not in ("winner", "runner_up"):
        raise ValueError(f"unknown suggestion rule {suggestion!r}")
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    K = int(num_classes)
    k = int(min(k, graph.k))
    rng = np.random.default_rng(seed)
    size = max(2, min(n, int(round(sample_fraction * n))))
    flags = np.zeros(n)
    times = np.zeros(n)
    suggest = np.zeros(n * K, dtype=np.int64)
    subsample = SubsampleRounds(graph)
    for _ in track(range(max(1, rounds)), f"SimiFeat-{method} rounds"):
        rows = subsample.draw(rng, size)
        f = sampled_label_votes(labels, subsample, rows, k, K)
        flagged, proposed = detect_round(labels[rows], f, K, method, class_rates, rng, suggestion)
        times[rows] += 1
        flags[rows[flagged]] += 1
        suggest += np.bincount(rows[flagged] * K + proposed[flagged], minlength=n * K)
    suggest = suggest.reshape(n, K)
    flag_rate = (flags + 1.0) / (times + 2.0)
    is_flagged = flag_rate > 0.5
    suggest_prob = (suggest + 1.0) / (suggest.sum(axis=1, keepdims=True) + K)
    suggest_prob[np.arange(n), labels] = -1.0
    best = np.argmax(suggest_prob, axis=1)
    confidence = np.where(is_flagged, suggest_prob[np.arange(n), best] * flag_rate, 0.0)
    suggested = np.where(is_flagged, best, labels)
    return DetectionResult(flagged=is_flagged, flag_rate=flag_rate, suggested=suggested, confidence=confidence,
                           times_sampled=times.astype(np.int64), method=method, class_rates=class_rates)
