"""How well a hallucination score agrees with held-out gold labels, and the per-model summary.

* Model level: rank correlation (Spearman ρ, Kendall τ-b) between the models' mean score and
  their true hallucination rate (mean gold degree). A score is "higher = more truthful", so
  it is compared with the *negated* rate: ρ = 1 means the score ranks the models exactly by
  how little they hallucinate.
* Answer level: AUROC of ``−score`` for telling hallucinated answers (gold ≥ 0.5) from the
  rest, pooled over models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from reliant.core.metrics import auroc

__all__ = ["answer_auroc", "hallucination_rate", "rank_correlations", "rank_models", "summarize_method"]


def rank_correlations(scores: Sequence[float], true_rates: Sequence[float]) -> dict[str, float]:
    """Spearman and Kendall correlation of ``scores`` with ``−true_rates`` (NaN below 3 models
    or when either side is constant)."""
    from scipy.stats import kendalltau, spearmanr

    x = np.asarray(scores, dtype=float)
    y = -np.asarray(true_rates, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"spearman": math.nan, "kendall": math.nan}
    return {"spearman": float(spearmanr(x, y).statistic), "kendall": float(kendalltau(x, y).statistic)}


def answer_auroc(scores: np.ndarray, gold: np.ndarray) -> float:
    """AUROC of ``−scores`` for gold-hallucinated answers (``gold ≥ 0.5``), pairs with a
    non-finite score or gold left out; NaN if only one class remains. The shared
    :func:`reliant.core.metrics.auroc` (hallucinated answers are the positives)."""
    scores = np.asarray(scores, dtype=float).ravel()
    gold = np.asarray(gold, dtype=float).ravel()
    keep = np.isfinite(scores) & np.isfinite(gold)
    labels = gold[keep] >= 0.5
    if labels.all() or not labels.any():
        return math.nan
    kept = -scores[keep]
    return auroc(kept[labels], kept[~labels])


def hallucination_rate(scores: np.ndarray, thresholds: np.ndarray | float) -> float:
    """Fraction of answers scoring below their threshold (NaN scores ignored)."""
    scores = np.asarray(scores, dtype=float)
    below = scores < np.asarray(thresholds, dtype=float)
    keep = np.isfinite(scores)
    return float(below[keep].mean()) if keep.any() else math.nan


def rank_models(means: Mapping[str, float]) -> dict[str, int]:
    """1 = highest mean score (least hallucinating); NaN means rank last."""
    order = sorted(means, key=lambda m: (-(means[m]) if math.isfinite(means[m]) else math.inf, m))
    return {m: i + 1 for i, m in enumerate(order)}


def summarize_method(scores: Mapping[str, np.ndarray], gold: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Model-level rank correlations and pooled answer AUROC of one scoring method."""
    models = [m for m in scores if m in gold]
    if not models:
        return {}
    means = [float(np.nanmean(scores[m])) if np.isfinite(scores[m]).any() else math.nan for m in models]
    rates = [float(np.nanmean(gold[m])) if np.isfinite(gold[m]).any() else math.nan for m in models]
    out = rank_correlations(means, rates)
    out["auroc"] = answer_auroc(np.concatenate([scores[m] for m in models]), np.concatenate([gold[m] for m in models]))
    return out
