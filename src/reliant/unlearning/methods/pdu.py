"""PDU, primal-dual unlearning (Entesari et al., 2025, "Constrained Entropic Unlearning: A
Primal-Dual Framework for Large Language Models"; OpenUnlearning ``src/trainer/unlearn/pdu.py``,
``configs/trainer/PDU.yaml``).

Unlearning as a constrained problem: make the forget answers' next-token logits flat,
``min pdu_forget_loss`` (:func:`reliant.unlearning.losses.pdu_forget_loss`), subject to
``NLL_tok(retain) <= eps``. The Lagrangian ``gamma * forget + lambda * (NLL_tok(retain) - eps)``
is minimised over the weights while the dual variable follows projected gradient ascent after
every step, ``lambda <- max(0, lambda + eta * (NLL_tok(retain) - eps))``, once
``dual_warmup_epochs`` epochs are over.

Published defaults: gamma 1, initial lambda (alpha) 1, dual step 1, per-step dual updates,
5 warm-up epochs. OpenUnlearning leaves ``eps`` required (``???``); here it defaults to the
*original* model's token-mean retain NLL over the whole retain set, i.e. "keep the retain loss
where it was" (``--pdu-retain-eps`` sets it). The epoch-wise dual update variant is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from reliant.core.config import option
from reliant.unlearning.methods.base import (
    ForgetRetainWeights,
    SetupEnv,
    StepContext,
    UnlearningMethod,
    losses,
    own_option,
    register,
    settings_field,
)


@dataclass
class PDUParams(ForgetRetainWeights):
    retain_eps: Optional[float] = settings_field(
        "pdu_retain_eps", option(None, "PDU's bound on the retain NLL (default: the original model's token-mean "
                                       "retain NLL).", min=0))
    dual_step: float = own_option("pdu_dual_step", 1.0, "PDU's dual step size (OpenUnlearning: 1).", min=0)
    dual_warmup_epochs: int = own_option("pdu_dual_warmup_epochs", 5,
                                         "Epochs before PDU updates its dual variable (OpenUnlearning: 5).", min=0)


@register
class PDU(UnlearningMethod):
    name = "pdu"
    label = "PDU"
    needs = frozenset({"retain"})
    summary = "flattens forget logits under a retain-loss constraint, primal-dual (dual = retain weight)"
    Params = PDUParams

    def setup(self, env: SetupEnv) -> None:
        self.dual = float(self.params.retain_weight)
        if self.params.retain_eps is not None:
            self.eps = float(self.params.retain_eps)
        else:
            self.eps = float(env.reference_retain_nll())

    def loss(self, ctx: StepContext):
        logits, forget = ctx.forget_logits()
        forget_loss = losses.pdu_forget_loss(logits, forget["labels"])
        slack = ctx.retain_nll() - self.eps
        loss = self.params.forget_weight * forget_loss + self.dual * slack
        return loss, {"forget": float(forget_loss.detach()), "retain_slack": float(slack.detach()), "dual": self.dual}

    def after_update(self, parts: dict[str, float], epoch: int) -> None:
        # OpenUnlearning enables the update at the end of epoch `dual_warmup_epochs`.
        if epoch >= self.params.dual_warmup_epochs:
            self.dual = max(0.0, self.dual + self.params.dual_step * parts["retain_slack"])

    def state(self) -> dict[str, Any]:
        return {"dual": self.dual, "eps": self.eps}

    def restore(self, state: dict[str, Any]) -> None:
        self.dual, self.eps = float(state["dual"]), float(state["eps"])
