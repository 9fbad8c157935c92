"""Synthetic clusterable features with label noise drawn from a known transition matrix,
for tests, the demo and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NoisyDataset:
    features: np.ndarray
    clean: np.ndarray
    noisy: np.ndarray
    T: np.ndarray  # the transition matrix the noise was drawn from
    p: np.ndarray  # the clean prior the labels were drawn from

    @property
    def is_noisy(self) -> np.ndarray:
        return self.clean != self.noisy


def make_transition(num_classes: int, noise_rate: float, kind: str = "pair", seed: int = 0) -> np.ndarray:
    """``pair``: a share ``noise_rate`` of class i flips to i+1; ``symmetric``: spread evenly;
    ``random``: spread over classes with random Dirichlet weights (diagonal 1 − noise_rate)."""
    K = num_classes
    T = np.eye(K) * (1.0 - noise_rate)
    if kind == "pair":
        T[np.arange(K), (np.arange(K) + 1) % K] += noise_rate
    elif kind == "symmetric":
        T += (1 - np.eye(K)) * noise_rate / (K - 1)
    elif kind == "random":
        rng = np.random.default_rng(seed)
        for i in range(K):
            w = rng.dirichlet(np.ones(K - 1))
            T[i, np.arange(K) != i] += noise_rate * w
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    return T


def clusterable_features(
    n: int,
    num_classes: int,
    T: np.ndarray,
    *,
    prior: np.ndarray | None = None,
    dim: int = 32,
    clusters_per_class: int = 3,
    spread: float = 0.35,
    seed: int = 0,
) -> NoisyDataset:
    """Gaussian blobs around random unit centres (a few per class), clean labels from
    ``prior``, noisy labels ``ỹ ~ T[y]`` drawn independently per row."""
    rng = np.random.default_rng(seed)
    K = num_classes
    prior = np.full(K, 1.0 / K) if prior is None else np.asarray(prior, dtype=float)
    centres = rng.normal(size=(K * clusters_per_class, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    clean = rng.choice(K, size=n, p=prior)
    sub = rng.integers(0, clusters_per_class, size=n)
    features = centres[clean * clusters_per_class + sub] + rng.normal(scale=spread / np.sqrt(dim), size=(n, dim))
    cumulative = np.cumsum(T, axis=1)
    u = rng.random(n)
    noisy = np.minimum((u[:, None] > cumulative[clean]).sum(axis=1), K - 1)
    return NoisyDataset(features=features.astype(np.float32), clean=clean, noisy=noisy, T=np.asarray(T), p=prior)
