"""Label noise for the benchmarks: real human noise (one CIFAR-10H vote per image) and synthetic
symmetric / asymmetric noise, plus long-tailed subsets.

* :func:`human_noise` -- each image gets the label of one CIFAR-10H annotator, drawn (seeded)
  with probability proportional to that label's vote count: real, instance-dependent human
  noise, about 5% on CIFAR-10 test images (the single-annotator error rate).
* :func:`symmetric_noise` -- a ``rate`` share of labels (exactly ``round(rate n)`` rows, chosen
  at random) replaced by a uniformly drawn *different* class.
* :func:`asymmetric_noise` -- each row of a source class flips to its paired class with
  probability ``rate`` (the class-dependent pairs of Patrini et al. 2017: CIFAR-10 truck →
  automobile, bird → airplane, deer → horse, cat ↔ dog; MNIST 2 → 7, 3 → 8, 5 ↔ 6, 7 → 1).
* :func:`longtail_indices` -- an exponential profile ``n_c = n_max · ratio^{-c/(K-1)}``
  (Cao et al. 2019's CIFAR-10-LT), class 0 the head.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ASYMMETRIC_PAIRS", "asymmetric_noise", "human_noise", "longtail_counts", "longtail_indices",
           "symmetric_noise", "transition_of"]

ASYMMETRIC_PAIRS = {
    "cifar10": {9: 1, 2: 0, 4: 7, 3: 5, 5: 3},
    "mnist": {2: 7, 3: 8, 5: 6, 6: 5, 7: 1},
}


def human_noise(vote_counts: np.ndarray, seed: int) -> np.ndarray:
    """One annotator's label per row, drawn from the rows' vote counts."""
    counts = np.asarray(vote_counts, dtype=np.float64)
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(counts / counts.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random(len(counts))[:, None]
    return np.minimum((draws > cumulative).sum(axis=1), counts.shape[1] - 1).astype(np.int64)


def symmetric_noise(labels: np.ndarray, rate: float, num_classes: int, seed: int) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    flip = rng.choice(len(labels), size=int(round(rate * len(labels))), replace=False)
    shift = rng.integers(1, num_classes, size=len(flip))  # 1..K-1: never the true class
    noisy[flip] = (labels[flip] + shift) % num_classes
    return noisy


def asymmetric_noise(labels: np.ndarray, rate: float, dataset: str, seed: int) -> np.ndarray:
    pairs = ASYMMETRIC_PAIRS[dataset]
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    flips = rng.random(len(labels)) < rate
    for source, target in pairs.items():
        rows = (labels == source) & flips
        noisy[rows] = target
    return noisy


def transition_of(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """The empirical ``T_ij = P(Ỹ=j | Y=i)`` of a noisy labelling (rows of absent classes: identity)."""
    joint = np.zeros((num_classes, num_classes))
    np.add.at(joint, (clean, noisy), 1.0)
    rows = joint.sum(axis=1, keepdims=True)
    return np.where(rows > 0, joint / np.maximum(rows, 1.0), np.eye(num_classes))


def longtail_counts(n_max: int, num_classes: int, ratio: float) -> np.ndarray:
    return np.array([max(1, int(n_max * ratio ** (-c / (num_classes - 1)))) for c in range(num_classes)])


def longtail_indices(labels: np.ndarray, num_classes: int, ratio: float, n_max: int, seed: int) -> np.ndarray:
    """Row indices of a long-tailed subset (``n_max`` rows of class 0 down to ``n_max/ratio``)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for c, n in enumerate(longtail_counts(n_max, num_classes, ratio)):
        rows = np.flatnonzero(labels == c)
        if len(rows) < n:
            raise ValueError(f"class {c} has {len(rows)} rows, the profile needs {n}")
        chosen.append(np.sort(rng.choice(rows, size=n, replace=False)))
    return np.concatenate(chosen)
