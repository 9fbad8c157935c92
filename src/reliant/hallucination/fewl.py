"""FEWL: Factualness Evaluations via Weighting LLMs (Wei et al. 2024, arXiv:2402.10412).

FEWL scores a candidate answer ``h(x)`` to a question ``x`` without a gold answer. Answers
``h_i(x)`` of N off-the-shelf *reference* LLMs stand in for the gold answer, each weighted by
a per-question expertise ``λ_i(x)``, and a *laziness penalty* on neighbouring questions
removes agreement that is only topical. Everything here works on similarity values
``s(a, b)`` so the formulas can be checked by hand; :mod:`reliant.hallucination.similarity`
turns texts into those values (cosine of MiniLM embeddings by default).

The score (the paper's Definition of FEWL, §3; the variational f-divergence form of its
Eq. for the f-mutual information between candidate and gold answers, with the gold answer
replaced by expertise-weighted reference answers)::

    FEWL(h(x)) = Σ_i λ_i(x) · [ g(s(h(x), h_i(x)))  −  1/K · Σ_{x' ∈ NN_K(x)} f*( g(s(h(x), h_i(x'))) ) ]

* ``g`` is the variational function's output activation and ``f*`` the Fenchel conjugate of
  the chosen f-divergence (f-GAN, Nowozin et al. 2016, Table 2 — the same pairs Wei & Liu
  2021 use for robust f-divergences). The paper's main results use total variation
  (``g(v) = ½·tanh v``, ``f*(t) = t``); JS, KL, Pearson χ² and squared Hellinger are
  available as in its appendix ablation. The first term is the expectation under the
  joint distribution (answers to the *same* question), the second under the product of
  marginals (answers to *other*, here neighbouring, questions).
* ``NN_K(x)`` are the K nearest questions of ``x`` (cosine of question embeddings, via
  :func:`reliant.core.knn.knn`), ``K = 25`` as in the paper, leaving out near-duplicates
  whose similarity exceeds ``neighbor_max_sim`` (the paper thresholds neighbours too; its
  exact values are not recoverable here, so this is a parameter). A reference that gives
  topical, non-committal answers (or answers a neighbouring question instead) agrees with
  the candidate as much on ``x'`` as on ``x``; its bracket is then ≈ 0 — the laziness
  penalty.
* ``λ_i(x)`` — expertise weighting (paper §3.2): a reference is trusted on ``x`` when its
  answer *disagrees* with intentionally wrong (IW) answers to ``x`` and *agrees* with their
  corrected (CO) versions::

      e_i(x) = mean_r s(h_i(x), CO_r(x)) − mean_r s(h_i(x), IW_r(x))
      λ_i(x) = softmax_i( e_i(x) / τ )

  Without CO answers ``e_i(x) = −mean_r s(h_i(x), IW_r(x))`` (the paper's first version,
  "1 − similarity", up to a constant that the softmax ignores). The paper normalises with
  a softmax and does not state a temperature (τ = 1 there, on HHEM consistency scores that
  spread over [0, 1]); cosines of MiniLM embeddings between answers to the same question
  are compressed into a narrow band, so the default here is ``τ = 0.1``. It is a parameter.

* Generic references (reliant's addition, not in the paper). The penalty above removes
  agreement a *candidate* gets from topical answers; it does nothing about a reference that
  says the same non-committal thing to every question ("I have no comment."): such an answer
  is far from every IW answer, so its expertise is high. With ``diversity_weighting`` each
  reference's weight is multiplied by its answer diversity
  ``d_i = 1 − mean_{x, x' ∈ NN_K(x)} s(h_i(x), h_i(x'))`` (renormalised per question), which
  is ≈ 0 for a reference that answers every neighbouring question alike.

The bracket is weighted as a whole: ``Σ_i λ_i D_f(P_i ‖ Q_i)`` is the expertise-weighted
divergence whose variational lower bound the score is (the paper's display puts λ in front
of the first term; with Σλ = 1 and the penalty averaged over references the two agree when
λ is uniform). ``penalty_weighting="uniform"`` gives that reading instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reliant.core.errors import ConfigError

__all__ = [
    "DIVERGENCES",
    "Divergence",
    "divergence",
    "expertise_weights",
    "fewl_scores",
    "select_neighbors",
]


@dataclass(frozen=True)
class Divergence:
    """An f-divergence's output activation ``g`` and Fenchel conjugate ``f*`` (f-GAN Table 2)."""

    name: str
    activation: Callable[[np.ndarray], np.ndarray]
    conjugate: Callable[[np.ndarray], np.ndarray]


def _js_activation(v: np.ndarray) -> np.ndarray:
    return np.log(2.0) - np.logaddexp(0.0, -v)


def _js_conjugate(t: np.ndarray) -> np.ndarray:
    return -np.log(2.0 - np.exp(t))


DIVERGENCES: dict[str, Divergence] = {
    "tv": Divergence("tv", lambda v: 0.5 * np.tanh(v), lambda t: t),
    "kl": Divergence("kl", lambda v: v, lambda t: np.exp(t - 1.0)),
    "js": Divergence("js", _js_activation, _js_conjugate),
    "pearson": Divergence("pearson", lambda v: v, lambda t: 0.25 * t * t + t),
    "hellinger": Divergence("hellinger", lambda v: 1.0 - np.exp(-v), lambda t: t / (1.0 - t)),
}


def divergence(name: str) -> Divergence:
    try:
        return DIVERGENCES[name]
    except KeyError:
        raise ConfigError(f"unknown divergence {name!r} (choose {', '.join(DIVERGENCES)})", field="divergence") from None


def _masked_mean(values: np.ndarray, mask: np.ndarray | None, axis: int) -> np.ndarray:
    """Mean over ``axis`` of the entries where ``mask`` is True (0 where none are)."""
    if mask is None:
        return values.mean(axis=axis)
    weights = mask.astype(float)
    total = (values * weights).sum(axis=axis)
    count = weights.sum(axis=axis)
    return np.divide(total, count, out=np.zeros_like(total, dtype=float), where=count > 0)


def expertise_weights(
    sim_wrong: np.ndarray,
    wrong_mask: np.ndarray | None = None,
    sim_corrected: np.ndarray | None = None,
    corrected_mask: np.ndarray | None = None,
    *,
    temperature: float = 0.1,
    diversity: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-question expertise ``λ_i(x)`` of every reference (paper §3.2), optionally times
    each reference's answer diversity ``d_i`` (reliant's down-weighting of generic
    references, module docstring): ``λ_i(x) ∝ d_i · exp(e_i(x) / τ)``.

    Args:
        sim_wrong: ``(n, N, R)`` similarities ``s(h_i(x), IW_r(x))``.
        wrong_mask: ``(n, R)`` True where question ``x`` has an r-th IW answer.
        sim_corrected: ``(n, N, R')`` similarities ``s(h_i(x), CO_r(x))`` or None.
        corrected_mask: ``(n, R')`` as ``wrong_mask`` for CO answers.
        temperature: softmax temperature τ.
        diversity: ``(N,)`` values in [0, 1] or None (no down-weighting); floored at 1e-6
            so a row never sums to 0.

    Returns:
        ``(weights, raw)``: ``(n, N)`` λ (rows sum to 1) and the raw expertise ``e_i(x)``.
    """
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}", field="temperature")
    wmask = None if wrong_mask is None else np.broadcast_to(wrong_mask[:, None, :], sim_wrong.shape)
    raw = -_masked_mean(sim_wrong, wmask, axis=2)
    if sim_corrected is not None and sim_corrected.shape[-1] > 0:
        cmask = None if corrected_mask is None else np.broadcast_to(corrected_mask[:, None, :], sim_corrected.shape)
        raw = raw + _masked_mean(sim_corrected, cmask, axis=2)
    logits = raw / temperature
    if diversity is not None:
        logits = logits + np.log(np.maximum(np.asarray(diversity, dtype=float), 1e-6))[None, :]
    logits = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights, raw


def fewl_scores(
    sim_same: np.ndarray,
    sim_neighbors: np.ndarray | None,
    weights: np.ndarray,
    *,
    neighbor_mask: np.ndarray | None = None,
    divergence_name: str = "tv",
    penalty_weighting: str = "expertise",
    return_terms: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The FEWL score of each candidate answer (module docstring formula).

    Args:
        sim_same: ``(n, N)`` similarities ``s(h(x), h_i(x))``.
        sim_neighbors: ``(n, N, K)`` similarities ``s(h(x), h_i(x'_k))`` with ``x'_k`` the
            k-th neighbour of ``x``; None switches the laziness penalty off.
        weights: ``(n, N)`` expertise λ (rows summing to 1; uniform for the unweighted form).
        neighbor_mask: ``(n, K)`` True for real (not padded) neighbours.
        divergence_name: key of :data:`DIVERGENCES`.
        penalty_weighting: ``"expertise"`` (λ weights the whole bracket) or ``"uniform"``
            (λ weights the agreement term only, the penalty is averaged over references).
        return_terms: also return the ``(n,)`` agreement and penalty terms.

    Returns:
        ``(n,)`` scores, higher = more truthful (less hallucinated).
    """
    div = divergence(divergence_name)
    if penalty_weighting not in ("expertise", "uniform"):
        raise ConfigError(
            f"penalty_weighting must be 'expertise' or 'uniform', got {penalty_weighting!r}", field="penalty_weighting"
        )
    agreement = (weights * div.activation(sim_same)).sum(axis=1)
    if sim_neighbors is None or sim_neighbors.shape[-1] == 0:
        penalty = np.zeros_like(agreement)
    else:
        mask = None if neighbor_mask is None else np.broadcast_to(neighbor_mask[:, None, :], sim_neighbors.shape)
        per_reference = _masked_mean(div.conjugate(div.activation(sim_neighbors)), mask, axis=2)
        if penalty_weighting == "expertise":
            penalty = (weights * per_reference).sum(axis=1)
        else:
            penalty = per_reference.mean(axis=1)
    scores = agreement - penalty
    if return_terms:
        return scores, agreement, penalty
    return scores


def select_neighbors(
    question_vectors: np.ndarray, k: int = 25, max_similarity: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other questions of each question, skipping near-duplicates.

    Candidates are the ``min(n − 1, 2k)`` nearest by cosine (:func:`reliant.core.knn.knn`);
    those above ``max_similarity`` are dropped (a near-duplicate question may rightly share
    the answer). Returns ``(idx, mask)`` of shape ``(n, k')`` with ``k' = min(k, n − 1)``;
    ``mask`` is False where fewer than ``k'`` neighbours survived (their ``idx`` is 0).
    """
    from reliant.core.knn import knn

    n = question_vectors.shape[0]
    if k < 1:
        raise ConfigError(f"neighbors must be >= 1, got {k}", field="neighbors")
    k_eff = min(k, n - 1)
    if k_eff < 1:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=bool)
    pool = min(n - 1, 2 * k_eff)
    sims, idx = knn(question_vectors, k=pool, normalized=True, backend="exact")
    keep = sims <= max_similarity
    out_idx = np.zeros((n, k_eff), dtype=np.int64)
    out_mask = np.zeros((n, k_eff), dtype=bool)
    for row in range(n):
        chosen = idx[row][keep[row]][:k_eff]
        out_idx[row, : len(chosen)] = chosen
        out_mask[row, : len(chosen)] = True
    return out_idx, out_mask
