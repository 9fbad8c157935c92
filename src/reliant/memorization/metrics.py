"""Formulas for memorization and membership inference, each written from its paper.

Model level (how well an attack tells members from non-members):

* :func:`roc_points`, :func:`auroc`, :func:`tpr_at_fpr`, :func:`bootstrap_auroc` -- the
  exact-on-ties ROC curve of a score where **higher means "more likely a member"**; shared
  with the other capabilities, they live in :mod:`reliant.core.metrics` and are
  re-exported here (members are the positives).

Example level, language models (inputs are per-token log-probabilities):

* :func:`loss_score` -- the LOSS attack (Yeom et al., 2018): mean token log-likelihood.
* :func:`zlib_score` -- Carlini et al. (2021, "Extracting Training Data from Large
  Language Models", Sec. 5.1): the model's log-likelihood relative to the zlib entropy
  of the text.
* :func:`reference_score` -- reference-model calibration (Carlini et al., 2021, Sec. 5.1
  "comparing to other neural language models"; Mireshghallah et al., 2022 likelihood
  ratio): target log-likelihood minus a reference model's.
* :func:`min_k_score` -- Min-K% Prob (Shi et al., 2024, Eq. 1), the shared
  :func:`reliant.core.metrics.min_k_percent`.
* :func:`min_k_plus_plus_score` -- Min-K%++ (Zhang et al., 2025, Eq. 3-4): each token's
  log-probability standardised by the mean and standard deviation of the log-probability
  under the model's own next-token distribution.
* :func:`exposure` / :func:`exposure_sampled` -- exposure of an inserted canary
  (Carlini et al., 2019, "The Secret Sharer", Def. 3 and Sec. 4.3).
* :func:`token_edit_distance`, :func:`rouge_l_f1` (the shared ``rouge_score`` ROUGE-L of
  :mod:`reliant.core.metrics`), exact match -- extractable /
  discoverable memorization (Carlini et al., 2021; Carlini et al., 2023, "Quantifying
  Memorization Across Neural Language Models": a prefix from the training data makes the
  model greedily emit its true suffix).

Example level, classifiers trained many times on random subsets:

* :func:`counterfactual_memorization` (Zhang et al., 2021, Eq. 1) and
  :func:`influence_matrix` (Feldman & Zhang, 2020, Eq. 1-2, subsampled estimator).
* :func:`forgetting_events` (Toneva et al., 2019, Sec. 3).
* :func:`lira_online` / :func:`lira_offline` (Carlini et al., 2022, Alg. 1 and Sec. VI-B)
  on :func:`logit_confidence` (their Eq. 5 "logit scaling").
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from reliant.core.metrics import (
    auroc,
    bootstrap_auroc,
    check_fraction,
    lowest_fraction_mean,
    min_k_percent,
    roc_points,
    rouge_l_f1,
    scores_1d,
    token_logprobs_1d,
    tpr_at_fpr,
)

__all__ = [
    "auroc",
    "bootstrap_auroc",
    "counterfactual_memorization",
    "dc_pdd_score",
    "exposure",
    "exposure_extrapolated",
    "exposure_sampled",
    "forgetting_events",
    "influence_matrix",
    "lira_offline",
    "lira_online",
    "logit_confidence",
    "loss_score",
    "min_k_plus_plus_score",
    "min_k_score",
    "recall_score",
    "reference_score",
    "rmia_scores",
    "roc_points",
    "rouge_l_f1",
    "token_edit_distance",
    "token_frequencies",
    "tpr_at_fpr",
    "zlib_score",
]


# ----------------------------------------------------------------------------- checks
# The arrays reaching these formulas are computed by reliant (scores, log-probabilities,
# shadow-model matrices): a bad one is a bug in the caller, so it raises a plain
# ValueError with its traceback. Only ``k`` and ``fpr``, chosen by the user, raise
# ConfigError.


def _scores(values: Any, name: str) -> np.ndarray:
    return scores_1d(np.asarray(values, dtype=float).reshape(-1), name)


def _logprobs(values: Any, name: str = "token_logprobs") -> np.ndarray:
    return token_logprobs_1d(np.asarray(values, dtype=float).reshape(-1), name)


# ----------------------------------------------------------------------------- LM scores


def loss_score(token_logprobs: Any) -> float:
    """LOSS attack (Yeom et al., 2018): the mean token log-likelihood, i.e. minus the loss.
    Higher = more likely a member."""
    return float(_logprobs(token_logprobs).mean())


def zlib_score(token_logprobs: Any, text: str) -> float:
    """zlib calibration (Carlini et al., 2021, Sec. 5.1): mean log-likelihood divided by the
    zlib entropy of the text, measured as the length in bytes of ``zlib.compress`` of its
    UTF-8 encoding. Texts that are easy to compress (repetitive, so likely under any model)
    are discounted. Higher = more likely a member."""
    if not isinstance(text, str) or not text:
        raise ValueError("zlib score needs the non-empty text that was scored")
    return float(_logprobs(token_logprobs).mean() / len(zlib.compress(text.encode("utf-8"))))


def reference_score(target_logprobs: Any, reference_logprobs: Any) -> float:
    """Reference-model calibration (Carlini et al., 2021, Sec. 5.1; the likelihood-ratio
    attack of Mireshghallah et al., 2022): target mean log-likelihood minus the reference
    model's on the same text (the log of the perplexity ratio). Text that any model finds
    easy scores near 0; text only the target finds easy scores high."""
    return float(_logprobs(target_logprobs).mean() - _logprobs(reference_logprobs, "reference_logprobs").mean())


def min_k_score(token_logprobs: Any, k: float = 0.2) -> float:
    """Min-K% Prob (Shi et al., 2024, Eq. 1), the shared
    :func:`reliant.core.metrics.min_k_percent`: mean log-probability of the ``k`` fraction of
    tokens the model finds least likely (``int(n * k)`` tokens, at least one). A member has
    few very unlikely tokens. Higher = more likely a member."""
    return min_k_percent(_logprobs(token_logprobs), k)


def min_k_plus_plus_score(token_logprobs: Any, means: Any, stds: Any, k: float = 0.2) -> float:
    """Min-K%++ (Zhang et al., 2025, Eq. 3-4). Each token's log-probability is standardised
    by ``mu_t = E_{z~p(.|x<t)}[log p(z|x<t)]`` and
    ``sigma_t = sqrt(E[log p(z|x<t)^2] - mu_t^2)`` (the moments of the log-probability under
    the model's own next-token distribution), then the lowest ``k`` fraction is averaged as
    in Min-K%. Training pushes a member's tokens to local maxima of the likelihood, i.e.
    high above ``mu_t``. A zero ``sigma_t`` (a one-hot distribution) is floored at 1e-6."""
    logp = _logprobs(token_logprobs)
    mu = np.asarray(means, dtype=float).reshape(-1)
    sigma = np.asarray(stds, dtype=float).reshape(-1)
    if not (len(mu) == len(sigma) == len(logp)):
        raise ValueError(f"Min-K%++ needs one mean and std per token: {len(logp)} tokens, {len(mu)} means, {len(sigma)} stds")
    if (sigma < 0).any() or not np.all(np.isfinite(mu)) or not np.all(np.isfinite(sigma)):
        raise ValueError("Min-K%++ standard deviations must be finite and non-negative")
    standardised = (logp - mu) / np.maximum(sigma, 1e-6)
    return lowest_fraction_mean(standardised, check_fraction(k))


def recall_score(conditional_logprobs: Any, token_logprobs: Any) -> float:
    """ReCaLL (Xie et al., 2024, Eq. 2): ``LL(x | P) / LL(x)``, the mean token log-likelihood
    of ``x`` after a non-member prefix ``P`` over its unconditional one. Both are negative; a
    member loses relatively more likelihood when conditioned on non-members, so its ratio is
    larger. Higher = more likely a member."""
    conditional = float(_logprobs(conditional_logprobs, "conditional_logprobs").mean())
    plain = float(_logprobs(token_logprobs).mean())
    if plain == 0.0:
        return 1.0  # a text the model is certain of: conditioning cannot change it
    return conditional / plain


def token_frequencies(token_id_lists: Sequence[Sequence[int]], vocab_size: int) -> np.ndarray:
    """Laplace-smoothed token frequencies ``(count + 1) / (total + |V|)`` of a reference corpus
    (DC-PDD's ``f``)."""
    counts = np.zeros(int(vocab_size), dtype=np.float64)
    for ids in token_id_lists:
        np.add.at(counts, np.asarray(ids, dtype=np.int64), 1.0)
    return (counts + 1.0) / (counts.sum() + vocab_size)


def dc_pdd_score(token_logprobs: Any, token_ids: Any, frequencies: Any, bound: float = 0.01) -> float:
    """DC-PDD (Zhang et al., 2024, Eq. 4-6): ``α_t = p(x_t) · log(1 / f(x_t))`` clipped at
    ``bound`` (their ``a``), averaged over the first occurrence of each distinct token of the
    text. ``f`` comes from :func:`token_frequencies`. Higher = more likely a member: the model
    finds the text's tokens likelier than their corpus frequency explains."""
    logp = _logprobs(token_logprobs)
    ids = np.asarray(token_ids, dtype=np.int64).reshape(-1)
    if len(ids) != len(logp):
        raise ValueError(f"DC-PDD needs one token id per log-probability: {len(ids)} ids, {len(logp)} log-probs")
    freq = np.asarray(frequencies, dtype=float)
    alpha = np.minimum(np.exp(logp) * -np.log(freq[ids]), bound)
    _, first = np.unique(ids, return_index=True)
    return float(alpha[np.sort(first)].mean())


def rmia_scores(target_probs: Any, reference_probs: Any, population: Any, *, a: float = 0.3,
                gamma: float = 1.0) -> np.ndarray:
    """Offline RMIA (Zarifzadeh et al., 2024, Eq. 3 and the offline approximation of Sec. 3):
    ``LR(x) = p(x|θ) / p(x)``, ``p(x) = ½((1 + a)·p_ref(x) + 1 − a)``;
    ``score(x) = #{z ∈ population : LR(x) / LR(z) ≥ γ} / |population|``, each population
    member left out of its own comparison. ``population`` is a boolean mask over the same
    texts."""
    target = _scores(target_probs, "target probabilities")
    reference = _scores(reference_probs, "reference probabilities")
    mask = np.asarray(population, dtype=bool).reshape(-1)
    if not (len(target) == len(reference) == len(mask)) or not mask.any():
        raise ValueError("RMIA needs one target and reference probability per text and a non-empty population")
    ratio = target / (0.5 * ((1 + a) * reference + 1 - a))
    population_ratio = np.sort(ratio[mask])
    # LR(x) / LR(z) >= γ  <=>  LR(z) <= LR(x) / γ
    count = np.searchsorted(population_ratio, ratio / gamma, side="right").astype(float)
    size = np.full(len(ratio), float(len(population_ratio)))
    if gamma <= 1:  # a population text counted itself (LR(z) / LR(z) = 1 >= γ)
        count[mask] -= 1
    size[mask] -= 1
    return np.divide(count, size, out=np.zeros_like(count), where=size > 0)


# ----------------------------------------------------------------------------- canaries


def exposure(canary_nll: float, candidate_nlls: Any) -> tuple[float, int]:
    """Exposure of a canary by exact enumeration (Carlini et al., 2019, Def. 3):
    ``log2 |R| - log2 rank``, where ``R`` is the whole randomness space (the canary plus
    ``candidate_nlls``, every other secret that fits the format) and ``rank`` is the
    canary's 1-based position when all secrets are sorted by the model's negative
    log-likelihood. Ties rank against the canary (rank = 1 + every other secret at most as
    likely), so a model that cannot tell secrets apart gets exposure ~0, never a lucky
    high one. Returns ``(exposure, rank)``."""
    candidates = _scores(candidate_nlls, "candidate NLLs")
    if not math.isfinite(canary_nll):
        raise ValueError("canary NLL must be finite")
    rank = 1 + int(np.sum(candidates <= canary_nll))
    space = len(candidates) + 1
    return float(math.log2(space) - math.log2(rank)), rank


def exposure_sampled(canary_nll: float, sampled_nlls: Any) -> float:
    """Exposure estimated from a uniform sample of the randomness space (Carlini et al.,
    2019, Sec. 4.3: ``rank / |R|`` is the probability that a random secret is at least as
    likely as the canary): ``-log2((#{sampled <= canary} + 1) / (n + 1))``. The +1 keeps
    the estimate finite; it cannot exceed ``log2(n + 1)``."""
    sample = _scores(sampled_nlls, "sampled NLLs")
    if not math.isfinite(canary_nll):
        raise ValueError("canary NLL must be finite")
    at_least_as_likely = int(np.sum(sample <= canary_nll))
    return float(-math.log2((at_least_as_likely + 1) / (len(sample) + 1)))


def exposure_extrapolated(canary_nll: float, sampled_nlls: Any) -> float:
    """Exposure by distribution fit (Carlini et al., 2019, Sec. 4.3 "extrapolation"): fit a
    skew-normal to the log-perplexities of a uniform sample of other secrets and read
    ``−log2 CDF(canary)``, the estimated fraction of the space at least as likely as the
    canary. Unlike :func:`exposure_sampled` it is not capped at ``log2(n + 1)``; a canary far
    below every sampled secret gets the tail probability of the fitted distribution. The
    paper fits the skew-normal for the same reason (the log-perplexities are near normal but
    skewed). Capped at 1022 bits only because float64 underflows there."""
    from scipy.stats import skewnorm

    sample = _scores(sampled_nlls, "sampled NLLs")
    if not math.isfinite(canary_nll):
        raise ValueError("canary NLL must be finite")
    if len(sample) < 3 or np.ptp(sample) == 0:
        return exposure_sampled(canary_nll, sample)
    shape, loc, scale = skewnorm.fit(sample)
    log_cdf = float(skewnorm.logcdf(canary_nll, shape, loc=loc, scale=scale))
    return float(min(-log_cdf / math.log(2), 1022.0)) if math.isfinite(log_cdf) else 1022.0


# ----------------------------------------------------------------------------- extraction


def token_edit_distance(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Levenshtein distance between two token sequences (insert, delete, substitute = 1)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


# ----------------------------------------------------------------------------- subsets


def _matrix(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty (models x examples) matrix")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def counterfactual_memorization(performance: Any, included: Any) -> np.ndarray:
    """Counterfactual memorization (Zhang et al., 2021, Eq. 1) of each example ``x``:
    ``E_{S contains x}[M(f_S, x)] - E_{S lacks x}[M(f_S, x)]`` over models trained on random
    subsets ``S``. ``performance[m, i]`` is model ``m``'s measure on example ``i``
    (correctness for Feldman's self-influence, or the probability of the label);
    ``included[m, i]`` says whether ``i`` was in model ``m``'s training subset. An example
    never (or always) included gets NaN."""
    perf = _matrix(performance, "performance")
    mask = np.asarray(included, dtype=bool)
    if mask.shape != perf.shape:
        raise ValueError(f"performance is {perf.shape} but included is {mask.shape}")
    n_in = mask.sum(axis=0)
    n_out = (~mask).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in = np.where(n_in > 0, (perf * mask).sum(axis=0) / np.maximum(n_in, 1), np.nan)
        mean_out = np.where(n_out > 0, (perf * ~mask).sum(axis=0) / np.maximum(n_out, 1), np.nan)
    return mean_in - mean_out


def influence_matrix(test_performance: Any, included: Any) -> np.ndarray:
    """Feldman & Zhang (2020) subsampled influence estimate, Eq. 2:
    ``infl[i, j] = E_{S contains i}[M(f_S, z_j)] - E_{S lacks i}[M(f_S, z_j)]`` for every
    training example ``i`` and test example ``j``; ``test_performance[m, j]`` is model
    ``m``'s measure on test example ``j`` and ``included[m, i]`` the subset membership."""
    perf = _matrix(test_performance, "test_performance")
    mask = np.asarray(included, dtype=float)
    if mask.ndim != 2 or mask.shape[0] != perf.shape[0]:
        raise ValueError(f"test_performance has {perf.shape[0]} models but included has {mask.shape[0]} rows")
    n_in = mask.sum(axis=0)[:, None]
    n_out = (1 - mask).sum(axis=0)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in = (mask.T @ perf) / n_in
        mean_out = ((1 - mask).T @ perf) / n_out
    return np.where((n_in > 0) & (n_out > 0), mean_in - mean_out, np.nan)


def forgetting_events(correct_history: Any) -> tuple[np.ndarray, np.ndarray]:
    """Forgetting events (Toneva et al., 2019): ``correct_history[t, i]`` says whether
    example ``i`` was classified correctly at evaluation ``t``; a forgetting event is a
    transition from correct at ``t`` to incorrect at ``t + 1``. Returns ``(counts,
    never_learned)``; never-learned examples are the ones the paper counts as infinitely
    forgotten (reported separately here so the counts stay integers)."""
    history = np.asarray(correct_history, dtype=bool)
    if history.ndim != 2 or history.shape[0] < 1:
        raise ValueError("correct_history must be an (evaluations x examples) matrix")
    counts = np.sum(history[:-1] & ~history[1:], axis=0).astype(int)
    never_learned = ~history.any(axis=0)
    return counts, never_learned


# ----------------------------------------------------------------------------- LiRA


def logit_confidence(logits: Any, labels: Any) -> np.ndarray:
    """LiRA's logit scaling (Carlini et al., 2022, Eq. 5): ``phi = log(p / (1 - p))`` with
    ``p`` the softmax probability of the true label, computed stably as
    ``z_y - logsumexp_{y' != y} z_{y'}`` from the logits ``z``."""
    z = np.asarray(logits, dtype=float)
    y = np.asarray(labels, dtype=int).reshape(-1)
    if z.ndim != 2 or len(z) != len(y):
        raise ValueError(f"logits must be (examples x classes) with one label each; got {z.shape} and {len(y)} labels")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must be in [0, {z.shape[1] - 1}]")
    true = z[np.arange(len(y)), y]
    others = z.copy()
    others[np.arange(len(y)), y] = -np.inf
    top = others.max(axis=1, keepdims=True)
    rest = top[:, 0] + np.log(np.exp(others - top).sum(axis=1))
    return true - rest


def _normal_logpdf(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return -0.5 * np.log(2 * np.pi * std**2) - (x - mean) ** 2 / (2 * std**2)


def _stds(values: np.ndarray, global_variance: bool) -> np.ndarray:
    if global_variance:
        return np.full(values.shape[1], max(float(np.nanstd(values)), 1e-6))
    return np.maximum(np.nanstd(values, axis=0), 1e-6)


def lira_online(target_phi: Any, in_phi: Any, out_phi: Any, *, global_variance: bool = False) -> np.ndarray:
    """Online LiRA (Carlini et al., 2022, Alg. 1): fit a Gaussian to the shadow models'
    logit-scaled confidences on each example when it was IN their training set and one
    when it was OUT, and score the target's confidence by the log likelihood ratio
    ``log N(phi; mu_in, sigma_in^2) - log N(phi; mu_out, sigma_out^2)``.

    ``in_phi``/``out_phi`` are (shadow models x examples) with NaN where a model did not
    have the example on that side. ``global_variance`` uses one variance for all examples
    (the paper's fixed-variance variant, better with few shadow models)."""
    phi = _scores(target_phi, "target confidences")
    ins = np.asarray(in_phi, dtype=float)
    outs = np.asarray(out_phi, dtype=float)
    if ins.shape[1:] != phi.shape or outs.shape[1:] != phi.shape:
        raise ValueError("shadow confidences must be (models x examples) with the target's number of examples")
    mean_in, mean_out = np.nanmean(ins, axis=0), np.nanmean(outs, axis=0)
    std_in, std_out = _stds(ins, global_variance), _stds(outs, global_variance)
    return _normal_logpdf(phi, mean_in, std_in) - _normal_logpdf(phi, mean_out, std_out)


def lira_offline(target_phi: Any, out_phi: Any, *, global_variance: bool = False) -> np.ndarray:
    """Offline LiRA (Carlini et al., 2022, Sec. VI-B): only OUT shadow models; a one-sided
    test of how far the target's confidence lies above the OUT Gaussian,
    ``log Phi((phi - mu_out) / sigma_out)`` (higher = more likely a member)."""
    from scipy.stats import norm

    phi = _scores(target_phi, "target confidences")
    outs = np.asarray(out_phi, dtype=float)
    if outs.shape[1:] != phi.shape:
        raise ValueError("shadow confidences must be (models x examples) with the target's number of examples")
    mean_out = np.nanmean(outs, axis=0)
    std_out = _stds(outs, global_variance)
    return norm.logcdf((phi - mean_out) / std_out)
