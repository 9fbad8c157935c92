"""Negative preference optimisation: NPO (Zhang et al., 2024), NPO+GD, and the
reference-free, length-normalised SimNPO (Fan et al., 2024).

NPO compares against the original model on the *forget* answers only, which are fixed,
so their log-probabilities are computed once in :meth:`setup` and cached instead of
keeping a second model in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from reliant.unlearning.methods.ascent import retain_nll, with_retain
from reliant.core.config import option
from reliant.unlearning.methods.base import (
    SetupEnv,
    StepContext,
    UnlearningMethod,
    beta_option,
    forget_weight_option,
    losses,
    register,
    retain_weight_option,
    settings_field,
)


@dataclass
class NPOParams:
    beta: float = beta_option()
    forget_weight: float = forget_weight_option()


@dataclass
class NPOGDParams(NPOParams):
    retain_weight: float = retain_weight_option()


@dataclass
class SimNPOParams(NPOParams):
    gamma: float = settings_field("simnpo_gamma", option(0.0, "SimNPO's reward margin gamma (outside beta)."))


def _policy_forget_logps(ctx: StepContext):
    forget = ctx.batch(ctx.forget_pairs())
    token_logps, mask = losses.answer_token_logprobs(ctx.logits(forget), forget["labels"])
    return (token_logps * mask).sum(-1), mask.sum(-1)


@register
class NPO(UnlearningMethod):
    name = "npo"
    label = "NPO"
    needs = frozenset({"reference"})
    summary = "negative preference optimisation against the original model"
    Params = NPOParams

    def setup(self, env: SetupEnv) -> None:
        self.reference_forget = env.reference_logps(env.forget)

    def forget_term(self, ctx: StepContext):
        policy, _ = _policy_forget_logps(ctx)
        return losses.npo_loss(policy, self.reference_forget[ctx.indices].to(ctx.device), beta=self.params.beta)

    def loss(self, ctx: StepContext):
        return with_retain(self.forget_term(ctx), None, self.params)


@register
class NPOGD(NPO):
    name = "npo_gd"
    label = "NPO+GD"
    needs = frozenset({"retain", "reference"})
    summary = "NPO plus NLL on retain batches"
    Params = NPOGDParams

    def loss(self, ctx: StepContext):
        forget_loss = self.forget_term(ctx)
        return with_retain(forget_loss, retain_nll(ctx), self.params)


@register
class SimNPO(UnlearningMethod):
    name = "simnpo"
    label = "SimNPO"
    needs = frozenset()
    summary = "reference-free, length-normalised NPO"
    Params = SimNPOParams

    def loss(self, ctx: StepContext):
        logps, counts = _policy_forget_logps(ctx)
        forget_loss = losses.simnpo_loss(logps, counts, beta=self.params.beta, gamma=self.params.gamma)
        return with_retain(forget_loss, None, self.params)
