"""The registry of membership-inference attacks on language models: one class per attack,
registered under its CLI name, declaring what it needs beyond the target's token
log-probabilities. Every score is "higher = more likely a member".

Needs (checked before any model loads, reported in ``--help`` and the report):

* ``reference`` — a reference model's log-probabilities of the same texts;
* ``distribution`` — the moments of the target's next-token distribution (local models only);
* ``token_ids`` — the target's token ids (local models only);
* ``gradients`` — back-propagation through the target (local models only);
* ``prefix`` — non-member texts to condition on (``--recall-prefix`` or held-out non-members);
* ``paraphraser`` — an LLM that writes neighbours of each text (``--neighbour-llm``).

The statistics-only attacks of :data:`reliant.memorization.lm.ATTACKS` (LOSS, zlib,
reference, Min-K%, Min-K%++) are here too, so one loop runs them all. The new ones:

* ``gradnorm`` — GradNorm (Wang et al. 2024, arXiv:2402.17012; mimir's ``gradnorm``): the
  negated mean over parameter tensors of ``‖∇_θ L(x)‖₂``, L = mean target-token NLL; a
  member sits near a minimum, so its gradients are small.
* ``recall`` — ReCaLL (Xie et al. 2024, arXiv:2406.15968): ``LL(x | P) / LL(x)`` with
  ``LL`` the mean token log-likelihood and ``P`` a prefix of non-member texts; conditioning
  on non-members lowers a member's likelihood relatively more, so the ratio is larger.
* ``dc_pdd`` — DC-PDD (Zhang et al. 2024, arXiv:2409.14781): ``α_t = p(x_t) · log(1/f(x_t))``
  with ``f`` the Laplace-smoothed token frequency of a reference corpus, clipped at ``a``,
  averaged over the first occurrence of each token.
* ``rmia`` — RMIA (Zarifzadeh et al. 2024, arXiv:2312.03262), offline with one reference
  model: ``LR(x) = p(x|θ) / p(x)`` with ``p(x) = ½((1 + a)·p_ref(x) + 1 − a)`` (their
  offline approximation of the mean over IN and OUT models), and
  ``score(x) = Pr_z[LR(x) / LR(z) ≥ γ]`` over population texts z (the non-members, each
  left out of its own population). For a language model ``p(x|θ)`` is the per-token
  geometric mean probability ``exp(mean log p)``, a number in (0, 1] like a classifier's.
* ``neighbourhood`` — the neighbourhood attack (Mattern et al. 2023, arXiv:2305.18462):
  ``LL(x) − mean_n LL(x̃_n)`` over paraphrases ``x̃_n`` of ``x`` written by an LLM (the paper
  swaps words with BERT; here SmolLM2 or any backend paraphrases); a member is more likely
  than its neighbours.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reliant.memorization import metrics as M

__all__ = ["ATTACK_REGISTRY", "AttackContext", "MembershipAttack", "register_attack"]

ATTACK_REGISTRY: dict[str, MembershipAttack] = {}


def register_attack(cls: type[MembershipAttack]) -> type[MembershipAttack]:
    ATTACK_REGISTRY[cls.name] = cls()
    return cls


@dataclass
class AttackContext:
    """What the attacks read, for members followed by non-members (``is_member``)."""

    examples: list[Any]
    is_member: np.ndarray
    stats: list[Any]
    k: float = 0.2
    reference_stats: list[Any] | None = None
    prefix_stats: list[Any] | None = None
    gradient_norms: np.ndarray | None = None
    neighbour_stats: list[list[Any]] | None = None
    token_frequencies: np.ndarray | None = None
    params: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class MembershipAttack(abc.ABC):
    name = ""
    label = ""
    needs: frozenset[str] = frozenset()

    @abc.abstractmethod
    def scores(self, ctx: AttackContext) -> np.ndarray:
        raise NotImplementedError


def _mean_ll(stats: Sequence[Any]) -> np.ndarray:
    return np.array([M.loss_score(s.logprobs) for s in stats])


@register_attack
class Loss(MembershipAttack):
    name, label = "loss", "LOSS"

    def scores(self, ctx):
        return _mean_ll(ctx.stats)


@register_attack
class Zlib(MembershipAttack):
    name, label = "zlib", "zlib ratio"

    def scores(self, ctx):
        return np.array([M.zlib_score(s.logprobs, e.target) for s, e in zip(ctx.stats, ctx.examples)])


@register_attack
class Reference(MembershipAttack):
    name, label, needs = "reference", "reference ratio", frozenset({"reference"})

    def scores(self, ctx):
        return np.array([M.reference_score(s.logprobs, r.logprobs) for s, r in zip(ctx.stats, ctx.reference_stats)])


@register_attack
class MinK(MembershipAttack):
    name, label = "min_k", "Min-K%"

    def scores(self, ctx):
        return np.array([M.min_k_score(s.logprobs, ctx.k) for s in ctx.stats])


@register_attack
class MinKPlusPlus(MembershipAttack):
    name, label, needs = "min_k_pp", "Min-K%++", frozenset({"distribution"})

    def scores(self, ctx):
        return np.array([M.min_k_plus_plus_score(s.logprobs, s.means, s.stds, ctx.k) for s in ctx.stats])


@register_attack
class GradNorm(MembershipAttack):
    name, label, needs = "gradnorm", "GradNorm", frozenset({"gradients"})

    def scores(self, ctx):
        return -np.asarray(ctx.gradient_norms, dtype=float)


@register_attack
class ReCaLL(MembershipAttack):
    name, label, needs = "recall", "ReCaLL", frozenset({"prefix"})

    def scores(self, ctx):
        return np.array([M.recall_score(p.logprobs, s.logprobs) for p, s in zip(ctx.prefix_stats, ctx.stats)])


@register_attack
class DCPDD(MembershipAttack):
    name, label, needs = "dc_pdd", "DC-PDD", frozenset({"token_ids"})

    def scores(self, ctx):
        bound = ctx.params.dc_pdd_bound if ctx.params is not None else 0.01
        return np.array([M.dc_pdd_score(s.logprobs, s.ids, ctx.token_frequencies, bound) for s in ctx.stats])


@register_attack
class RMIA(MembershipAttack):
    name, label, needs = "rmia", "RMIA (offline)", frozenset({"reference"})

    def scores(self, ctx):
        a = ctx.params.rmia_a if ctx.params is not None else 0.3
        gamma = ctx.params.rmia_gamma if ctx.params is not None else 1.0
        target = np.exp(_mean_ll(ctx.stats))
        reference = np.exp(_mean_ll(ctx.reference_stats))
        return M.rmia_scores(target, reference, population=~ctx.is_member, a=a, gamma=gamma)


@register_attack
class Neighbourhood(MembershipAttack):
    name, label, needs = "neighbourhood", "neighbourhood", frozenset({"paraphraser"})

    def scores(self, ctx):
        own = _mean_ll(ctx.stats)
        out = np.full(len(own), math.nan)
        for i, rows in enumerate(ctx.neighbour_stats):
            values = [M.loss_score(s.logprobs) for s in rows if len(s.logprobs)]
            if values:
                out[i] = own[i] - float(np.mean(values))
        # A text without a usable paraphrase gets no evidence either way.
        return np.where(np.isfinite(out), out, 0.0)
