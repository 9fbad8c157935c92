"""Negative preference optimisation, named as in OpenUnlearning (``src/trainer/unlearn/npo.py``,
``simnpo.py``; both subclass GradDiff and add ``alpha * NLL_tok(retain)``), with the papers'
forget-only objectives under their own names:

* ``npo``            ``gamma * NPO(forget) + alpha * NLL_tok(retain)``, beta 0.1, gamma = alpha = 1
  (``configs/trainer/NPO.yaml``; Zhang et al., 2024, "NPO+RT");
* ``npo_forget``     ``NPO(forget)`` alone (Zhang et al., 2024, eq. 3);
* ``simnpo``         ``gamma * SimNPO(forget) + alpha * NLL_tok(retain)`` with beta 4.5, delta 0,
  gamma 0.125, alpha 1 (``configs/trainer/SimNPO.yaml``, from ``OPTML-Group/Unlearn-Simple``
  ``TOFU/config/forget.yaml``: ``npo_coeff`` 0.125, ``beta`` 4.5);
* ``simnpo_forget``  ``gamma * SimNPO(forget)`` alone, same beta, delta and gamma (Fan et al., 2024, eq. 4).

``NPO(forget) = -(2/beta) mean_i logsigmoid(-beta (log p(y_i|x_i) - log p_ref(y_i|x_i)))`` with
summed answer log-probabilities; ``SimNPO(forget) = -(2/beta) mean_i logsigmoid(beta (NLL_i/|y_i| - delta))``
(no reference model). NPO's reference log-probabilities are those of the *original* model on
the fixed forget answers, so they are computed once in :meth:`setup` instead of keeping a
second model in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from reliant.unlearning.methods.base import (
    ForgetRetainWeights,
    ForgetWeight,
    SetupEnv,
    StepContext,
    UnlearningMethod,
    beta_option,
    losses,
    own_option,
    register,
    retain_weight_option,
)


@dataclass
class NPOForgetParams(ForgetWeight):
    beta: float = beta_option()


@dataclass
class NPOParams(NPOForgetParams, ForgetRetainWeights):
    pass


@dataclass
class SimNPOForgetParams:
    beta: float = own_option("simnpo_beta", 4.5, "SimNPO's beta (OpenUnlearning / Unlearn-Simple TOFU: 4.5; "
                             "the paper's range 2.5-4.5).", gt=0)
    delta: float = own_option("simnpo_delta", 0.0, "SimNPO's reward margin delta, inside beta (OpenUnlearning: 0).")
    forget_weight: float = own_option("simnpo_forget_weight", 0.125,
                                      "Weight of SimNPO's forget term (OpenUnlearning gamma / Unlearn-Simple npo_coeff: 0.125).",
                                      min=0)


@dataclass
class SimNPOParams(SimNPOForgetParams):
    retain_weight: float = retain_weight_option()


def policy_forget_logps(ctx: StepContext):
    """Summed answer log-probabilities of the batch's forget answers and their token counts."""
    logits, forget = ctx.forget_logits()
    token_logps, mask = losses.answer_token_logprobs(logits, forget["labels"])
    return (token_logps * mask).sum(-1), mask.sum(-1)


@register
class NPOForgetOnly(UnlearningMethod):
    name = "npo_forget"
    label = "NPO (forget only)"
    needs = frozenset({"reference"})
    summary = "negative preference optimisation against the original model, no retain term (NPO paper)"
    Params = NPOForgetParams

    def setup(self, env: SetupEnv) -> None:
        self.reference_forget = env.reference_logps(env.forget)

    def loss(self, ctx: StepContext):
        policy, _ = policy_forget_logps(ctx)
        forget_loss = losses.npo_loss(policy, self.reference_forget[ctx.indices].to(ctx.device), beta=self.params.beta)
        return self.objective(ctx, forget_loss)


@register
class NPO(NPOForgetOnly):
    name = "npo"
    label = "NPO"
    needs = frozenset({"retain", "reference"})
    summary = "NPO plus token-mean NLL on retain batches (OpenUnlearning NPO)"
    Params = NPOParams


@register
class SimNPOForgetOnly(UnlearningMethod):
    name = "simnpo_forget"
    label = "SimNPO (forget only)"
    needs = frozenset()
    summary = "reference-free, length-normalised NPO, no retain term (SimNPO paper)"
    Params = SimNPOForgetParams

    def loss(self, ctx: StepContext):
        logps, counts = policy_forget_logps(ctx)
        return self.objective(ctx, losses.simnpo_loss(logps, counts, beta=self.params.beta, delta=self.params.delta))


@register
class SimNPO(SimNPOForgetOnly):
    name = "simnpo"
    label = "SimNPO"
    needs = frozenset({"retain"})
    summary = "SimNPO plus token-mean NLL on retain batches (OpenUnlearning SimNPO)"
    Params = SimNPOParams
