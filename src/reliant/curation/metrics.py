"""Numbers the curation commands report: transition-matrix error, detection quality,
rater agreement and selected-set diversity."""

from __future__ import annotations

import numpy as np


def empirical_transition(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The true ``T_ij = P(Ỹ=j | Y=i)`` and prior ``p`` counted from known clean labels
    (a class that never occurs gets an identity row)."""
    K = num_classes
    counts = np.bincount(np.asarray(clean) * K + np.asarray(noisy), minlength=K * K).reshape(K, K).astype(float)
    rows = counts.sum(axis=1, keepdims=True)
    T = np.where(rows > 0, counts / np.maximum(rows, 1), np.eye(K))
    return T, rows[:, 0] / max(1, len(clean))


def transition_errors(T_est: np.ndarray, T_true: np.ndarray) -> dict[str, float]:
    """``max_abs``: max |ΔT_ij|; ``mean_row_l1``: Σ|ΔT| / K (the HOC paper's error, ×100 there)."""
    diff = np.abs(np.asarray(T_est) - np.asarray(T_true))
    return {"max_abs": float(diff.max()), "mean_row_l1": float(diff.sum() / len(diff))}


def detection_scores(flagged: np.ndarray, is_noisy: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of flagged rows against the truly mislabelled rows."""
    flagged = np.asarray(flagged, dtype=bool)
    is_noisy = np.asarray(is_noisy, dtype=bool)
    tp = int(np.sum(flagged & is_noisy))
    precision = tp / max(1, int(flagged.sum()))
    recall = tp / max(1, int(is_noisy.sum()))
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "flagged": int(flagged.sum()), "true_noisy": int(is_noisy.sum())}


def random_detection_f1(noise_rate: float, flag_rate: float) -> float:
    """Expected F1 of flagging a ``flag_rate`` share at random when ``noise_rate`` is wrong."""
    precision, recall = noise_rate, flag_rate
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Exact agreement, agreement within one level, and Cohen's kappa of two score vectors."""
    a = np.asarray(a)
    b = np.asarray(b)
    K = int(max(a.max(), b.max())) + 1
    exact = float(np.mean(a == b))
    pa = np.bincount(a, minlength=K) / len(a)
    pb = np.bincount(b, minlength=K) / len(b)
    chance = float(np.sum(pa * pb))
    kappa = (exact - chance) / (1 - chance) if chance < 1 else 1.0
    return {"exact": exact, "within_one": float(np.mean(np.abs(a - b) <= 1)), "kappa": float(kappa)}


def mean_pairwise_cosine_distance(embeddings: np.ndarray, max_rows: int = 2000, seed: int = 0) -> float:
    """Diversity of a set: mean ``1 − cos`` over distinct pairs (a random subset of rows
    when the set is larger than ``max_rows``)."""
    x = np.asarray(embeddings, dtype=np.float32)
    if len(x) < 2:
        return 0.0
    if len(x) > max_rows:
        x = x[np.random.default_rng(seed).choice(len(x), size=max_rows, replace=False)]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sims = x @ x.T
    n = len(x)
    return float(1.0 - (sims.sum() - np.trace(sims)) / (n * (n - 1)))
