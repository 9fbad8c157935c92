"""Evaluation metrics shared by several capabilities: numbers in, numbers out, one copy each.

* :func:`rouge_l_f1`, :func:`rouge_l_recall` -- ROUGE-L (Lin, 2004) on the ``rouge_score``
  package, the implementation TOFU, MUSE and OpenUnlearning call. Unlearning (TOFU / MUSE
  scores), memorization (extraction) and any later dedupe use these.
* :func:`roc_points`, :func:`auroc`, :func:`tpr_at_fpr`, :func:`bootstrap_auroc` -- the ROC
  curve of a score where **higher means "positive"** (a member, a hallucinated answer...),
  computed exactly on ties: every distinct score value is one threshold, so tied examples
  always fall on the same side of it (no interpolation, no random tie-breaking). TPR at a
  fixed FPR is the largest TPR among the ROC points whose FPR does not exceed the target,
  as in Carlini et al. (2022, "Membership Inference Attacks From First Principles",
  Sec. III, "TPR at low FPR"). :func:`auroc` equals ``sklearn.metrics.roc_auc_score``.
* :func:`min_k_percent` -- Min-K% Prob (Shi et al., 2024, Eq. 1).

Input checks here guard the *caller's* contract (arrays of the right shape, finite): a
violation is a bug in the caller and raises a plain :class:`TypeError`/:class:`ValueError`
with its traceback, never a one-line :class:`~reliant.core.errors.UserError`. Values a user
chooses (``k``, ``fpr``) raise :class:`~reliant.core.errors.ConfigError`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from reliant.core.errors import ConfigError

__all__ = [
    "auroc",
    "bootstrap_auroc",
    "check_fraction",
    "finite_array",
    "lowest_fraction_mean",
    "min_k_percent",
    "min_negatives_for_fpr",
    "roc_points",
    "rouge_l_f1",
    "rouge_l_recall",
    "scores_1d",
    "token_logprobs_1d",
    "tpr_at_fpr",
]


# --------------------------------------------------------------------------- checks


def finite_array(values: Any, name: str, ndim: int | tuple[int, ...] = 1) -> np.ndarray:
    """``values`` as a non-empty, finite float64 array of ``ndim`` dimensions (one of them,
    given a tuple); a torch tensor is accepted. A violation is the caller's bug: a plain
    ``TypeError``/``ValueError``."""
    if hasattr(values, "detach"):  # torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric") from None
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in allowed:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in allowed)}; got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def scores_1d(values: Any, name: str) -> np.ndarray:
    """``values`` as a non-empty, finite 1-D float array (see :func:`finite_array`)."""
    return finite_array(values, name, 1)


def token_logprobs_1d(values: Any, name: str = "token_logprobs") -> np.ndarray:
    """Per-token log-probabilities of one text: non-empty, finite, 1-D and <= 0."""
    array = scores_1d(values, name)
    # Tolerate float round-off just above 0, but catch NLLs passed by mistake.
    if (array > 1e-6).any():
        raise ValueError(f"{name} must be log-probabilities (<= 0); got a positive value -- NLLs?")
    return array


def check_fraction(k: Any, name: str = "k") -> float:
    """A user-chosen fraction in (0, 1]; anything else is a :class:`ConfigError`."""
    if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)) or not 0 < k <= 1:
        raise ConfigError(f"must be a fraction in (0, 1], got {k!r}", field=name)
    return float(k)


# --------------------------------------------------------------------------- ROUGE-L


@lru_cache(maxsize=2)
def _rouge_l_scorer(use_stemmer: bool) -> Any:
    # Imported lazily: rouge_score pulls in nltk, which is slow to import.
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)


def _check_strings(prediction: Any, reference: Any) -> None:
    if not isinstance(prediction, str) or not isinstance(reference, str):
        raise TypeError(
            f"prediction and reference must be strings; got {type(prediction).__name__} "
            f"and {type(reference).__name__}"
        )


def _rouge_l(prediction: str, reference: str, use_stemmer: bool) -> Any:
    _check_strings(prediction, reference)
    return _rouge_l_scorer(bool(use_stemmer)).score(reference, prediction)["rougeL"]


def rouge_l_f1(prediction: str, reference: str, *, use_stemmer: bool = False) -> float:
    """ROUGE-L F1 of ``prediction`` against ``reference`` (Lin, 2004): the longest common
    subsequence ``L`` of the two token lists gives precision ``L/|pred|`` and recall
    ``L/|ref|``; F1 is their harmonic mean, 0 when either text has no tokens.

    Tokens are ``rouge_score``'s: lower-cased runs of letters and digits (punctuation
    dropped). This is how MUSE scores VerbMem and KnowMem
    (``RougeScorer(..., use_stemmer=False).score(gt, output)["rougeL"].fmeasure``);
    OpenUnlearning's MUSE port uses ``use_stemmer=True``, pass it to match that.
    """
    return float(_rouge_l(prediction, reference, use_stemmer).fmeasure)


def rouge_l_recall(prediction: str, reference: str, *, use_stemmer: bool = True) -> float:
    """ROUGE-L recall ``L/|ref|`` of a generated answer against the reference, as TOFU
    computes it (``evaluate_util.py:eval_rouge_recall``: ``RougeScorer(["rouge1", "rougeL"],
    use_stemmer=True).score(gt, gen)["rougeL"].recall``)."""
    return float(_rouge_l(prediction, reference, use_stemmer).recall)


# --------------------------------------------------------------------------- ROC


def roc_points(positive_scores: Any, negative_scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact ROC curve of "predict positive when score >= t" over every distinct t.

    Returns ``(fpr, tpr, thresholds)``, starting at (0, 0) with threshold +inf and ending at
    (1, 1). Tied scores share one threshold, so the curve moves diagonally across a tie
    block instead of pretending the tie can be split.
    """
    pos = scores_1d(positive_scores, "positive scores")
    neg = scores_1d(negative_scores, "negative scores")
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]
    # number of scores >= t = n - (number of scores < t)
    tp = len(pos) - np.searchsorted(np.sort(pos), thresholds, side="left")
    fp = len(neg) - np.searchsorted(np.sort(neg), thresholds, side="left")
    tpr = np.concatenate([[0.0], tp / len(pos)])
    fpr = np.concatenate([[0.0], fp / len(neg)])
    return fpr, tpr, np.concatenate([[np.inf], thresholds])


def auroc(positive_scores: Any, negative_scores: Any) -> float:
    """Area under the ROC curve = P(positive score > negative score) + 1/2 P(tie) (the
    Mann-Whitney statistic; equals the trapezoid area of :func:`roc_points` and
    ``sklearn.metrics.roc_auc_score`` with positives labelled 1). 0.5 is chance; 1 means
    every positive outscores every negative."""
    pos = scores_1d(positive_scores, "positive scores")
    neg = np.sort(scores_1d(negative_scores, "negative scores"))
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (len(pos) * len(neg)))


def min_negatives_for_fpr(fpr: float) -> int:
    """How many negatives an FPR of ``fpr`` needs to be measurable at all: ``ceil(1/fpr)``
    (one false positive among them is the smallest non-zero FPR), e.g. 1,000 for 0.1%."""
    return math.inf if fpr <= 0 else math.ceil(1.0 / fpr - 1e-9)


def tpr_at_fpr(
    positive_scores: Any, negative_scores: Any, fpr: float, *, none_if_unsupported: bool = False
) -> float | None:
    """Largest TPR reachable with a threshold whose FPR is at most ``fpr`` (exact on ties:
    a threshold inside a tie block is not allowed). With ``n`` negatives an FPR below
    ``1/n`` only admits thresholds that no negative reaches.

    That last case is the one to distrust: with fewer than :func:`min_negatives_for_fpr`
    negatives (1,000 for TPR at 0.1% FPR) the number answers "TPR at zero false positives
    in this sample", not the question asked. ``none_if_unsupported=True`` returns ``None``
    then, so a report cannot print it as if it were measured.
    """
    if isinstance(fpr, bool) or not isinstance(fpr, (int, float, np.floating)) or not 0 <= fpr <= 1:
        raise ConfigError(f"FPR must be in [0, 1], got {fpr!r}", field="fpr")
    fprs, tprs, _ = roc_points(positive_scores, negative_scores)
    if none_if_unsupported and len(np.asarray(negative_scores).reshape(-1)) < min_negatives_for_fpr(fpr):
        return None
    return float(tprs[fprs <= fpr + 1e-12].max())


def bootstrap_auroc(
    positive_scores: Any, negative_scores: Any, *, n_boot: int = 200, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`auroc` (positives and negatives resampled
    separately with replacement)."""
    pos = scores_1d(positive_scores, "positive scores")
    neg = scores_1d(negative_scores, "negative scores")
    rng = np.random.default_rng(seed)
    values = [auroc(rng.choice(pos, len(pos)), rng.choice(neg, len(neg))) for _ in range(n_boot)]
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


# --------------------------------------------------------------------------- Min-K%


def lowest_fraction_mean(values: np.ndarray, k: float) -> float:
    """Mean of the ``int(len * k)`` smallest values (at least one)."""
    count = max(1, int(len(values) * k))
    return float(np.sort(values)[:count].mean())


def min_k_percent(token_logprobs: Any, k: float = 0.2) -> float:
    """Min-K% Prob membership score (Shi et al., 2024, Eq. 1): mean log-probability of the
    ``k`` fraction of a text's tokens the model finds least likely.

    The count is ``int(n * k)`` as in MUSE and the original code, but at least one token
    (as OpenUnlearning's ``MinKProbAttack``) so short texts get a score. Sign convention:
    the result is a mean log-probability (<= 0) and **higher means more likely a member**;
    MUSE and the original code store the negation (a loss) and flip it again for the ROC
    curve. MUSE's PrivLeak uses ``k = 0.4``, the Min-K% paper reports ``k = 0.2``.
    """
    fraction = check_fraction(k)
    return lowest_fraction_mean(token_logprobs_1d(token_logprobs), fraction)
