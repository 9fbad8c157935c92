"""FLAT (Wang et al., "LLM Unlearning via Loss Adjustment with Only Forget Data", ICLR 2025).

Forget data only: each forget question is paired with a template answer (a refusal), and
the loss ``-g*(P_e) + f*(g*(P_f))`` of :func:`reliant.unlearning.losses.flat_loss` raises
the template answer's probability and lowers the forget answer's (paper eq. 4; ``P`` the mean
token probability of an answer; g*/f* per divergence in ``losses.FLAT_DIVERGENCES``).

Templates: the official data pipeline (``UCSC-REAL/FLAT``, the forget dataset's
``__getitem__``) draws a new refusal from the ``idontknow`` list every time a forget item is
read, i.e. every epoch; that is the default here (``--template-draw redraw``), and
``--template-draw once`` keeps one draw per question for the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass

from reliant.core.config import option
from reliant.unlearning.methods.base import StepContext, UnlearningMethod, losses, register

# The names of losses.FLAT_DIVERGENCES / FLAT_REDUCTIONS, here so that checking a flag never
# imports torch (tests/unlearning/test_method_contract.py keeps the two lists equal).
DIVERGENCES = ("kl", "js", "pearson", "tv")
REDUCTIONS = ("paper", "official")


@dataclass
class FlatParams:
    divergence: str = option("kl", "FLAT's f-divergence (variational form).", choices=DIVERGENCES)
    reduction: str = option(
        "paper", "FLAT's reduction: paper (per-sample g*/f*) or official (the released code's batch scalars).",
        choices=REDUCTIONS,
    )


@register
class Flat(UnlearningMethod):
    name = "flat"
    label = "FLAT"
    needs = frozenset({"template"})
    summary = "f-divergence loss adjustment between template and forget answers, forget data only"
    Params = FlatParams

    def loss(self, ctx: StepContext):
        # Forget and template answers in one concatenated forward/backward pass.
        forget_logits, forget, template_logits, template = ctx.logits_of_both(ctx.forget_pairs(), ctx.template_pairs())
        loss = losses.flat_loss(
            template_logits, template["labels"], forget_logits, forget["labels"],
            divergence=self.params.divergence, reduction=self.params.reduction,
        )
        return loss, {"flat": float(loss.detach())}
