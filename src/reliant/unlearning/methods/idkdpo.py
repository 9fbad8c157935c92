"""IdkDPO (OpenUnlearning ``DPO`` with refusals as the preferred answers): DPO preferring
the template answer ("I don't know") over the forget answer to the same question, against
the original model's cached log-probabilities of both."""

from __future__ import annotations

from dataclasses import dataclass

from reliant.unlearning.methods.ascent import with_retain
from reliant.unlearning.methods.base import (
    SetupEnv,
    StepContext,
    UnlearningMethod,
    beta_option,
    forget_weight_option,
    losses,
    register,
)


@dataclass
class IdkDPOParams:
    beta: float = beta_option()
    forget_weight: float = forget_weight_option()


@register
class IdkDPO(UnlearningMethod):
    name = "idkdpo"
    label = "IdkDPO"
    needs = frozenset({"template", "reference"})
    summary = "DPO preferring a refusal over the forget answer"
    Params = IdkDPOParams

    def setup(self, env: SetupEnv) -> None:
        self.reference_forget = env.reference_logps(env.forget)
        self.reference_template = env.reference_logps([(q, t) for (q, _), t in zip(env.forget, env.templates)])

    def loss(self, ctx: StepContext):
        forget = ctx.batch(ctx.forget_pairs())
        forget_logits = ctx.logits(forget)
        template = ctx.batch(ctx.template_pairs())
        token_logps, mask = losses.answer_token_logprobs(forget_logits, forget["labels"])
        lose = (token_logps * mask).sum(-1)
        template_logps, template_mask = losses.answer_token_logprobs(ctx.logits(template), template["labels"])
        win = (template_logps * template_mask).sum(-1)
        forget_loss = losses.dpo_loss(
            win, lose, self.reference_template[ctx.indices].to(ctx.device), self.reference_forget[ctx.indices].to(ctx.device),
            beta=self.params.beta,
        )
        return with_retain(forget_loss, None, self.params)
