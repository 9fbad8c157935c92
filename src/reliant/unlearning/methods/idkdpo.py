"""IdkDPO, named as in OpenUnlearning (``src/trainer/unlearn/dpo.py`` with the ``idk`` data,
``configs/trainer/DPO.yaml``): DPO preferring a refusal (a template answer, "I don't know")
over the forget answer to the same question, against the original model,

* ``idkdpo``         ``gamma * DPO + alpha * NLL_tok(retain)``, beta 0.1, gamma = alpha = 1;
* ``idkdpo_forget``  ``DPO`` alone (Maini et al., 2024, TOFU's "IDK" preference baseline
  without the retain term).

``DPO = -(2/beta) mean_i logsigmoid(beta ((w_i - w_ref_i) - (l_i - l_ref_i)))`` on summed answer
log-probabilities (OpenUnlearning's ``compute_dpo_loss``, whose ``2/beta`` scale standard DPO
lacks). The original model's log-probabilities are cached before training for every
(question, refusal) pair any epoch draws, so no second model is held.
"""

from __future__ import annotations

from reliant.unlearning.methods.base import SetupEnv, StepContext, UnlearningMethod, losses, register, torch_lazy
from reliant.unlearning.methods.npo import NPOForgetParams, NPOParams


@register
class IdkDPOForgetOnly(UnlearningMethod):
    name = "idkdpo_forget"
    label = "IdkDPO (forget only)"
    needs = frozenset({"template", "reference"})
    summary = "DPO preferring a refusal over the forget answer, no retain term"
    # beta 0.1 and the weights: the same declarations as NPO's (OpenUnlearning DPO.yaml = NPO.yaml).
    Params = NPOForgetParams

    def setup(self, env: SetupEnv) -> None:
        self.reference_forget = env.reference_logps(env.forget)
        # Every (question index, refusal) pair a training epoch will use, scored once.
        keys = sorted({(i, t) for epoch in env.epoch_templates for i, t in enumerate(epoch)})
        values = env.reference_logps([(env.forget[i][0], t) for i, t in keys]).tolist()
        self.reference_template = dict(zip(keys, values))

    def loss(self, ctx: StepContext):
        template_pairs = ctx.template_pairs()
        # Preferred (refusal) and dispreferred (forget answer) rows in one forward pass.
        forget_logits, forget, template_logits, template = ctx.logits_of_both(ctx.forget_pairs(), template_pairs)
        token_logps, mask = losses.answer_token_logprobs(forget_logits, forget["labels"])
        lose = (token_logps * mask).sum(-1)
        template_logps, template_mask = losses.answer_token_logprobs(template_logits, template["labels"])
        win = (template_logps * template_mask).sum(-1)
        reference_win = torch_lazy.tensor(
            [self.reference_template[(i, t)] for i, (_, t) in zip(ctx.indices, template_pairs)],
            dtype=win.dtype, device=ctx.device,
        )
        forget_loss = losses.dpo_loss(win, lose, reference_win, self.reference_forget[ctx.indices].to(ctx.device),
                                      beta=self.params.beta)
        return self.objective(ctx, forget_loss)


@register
class IdkDPO(IdkDPOForgetOnly):
    name = "idkdpo"
    label = "IdkDPO"
    needs = frozenset({"template", "retain", "reference"})
    summary = "DPO preferring a refusal over the forget answer plus token-mean NLL on retain (OpenUnlearning DPO)"
    Params = NPOParams
