"""Token-reweighted ascent and its relatives, named as in OpenUnlearning
(``src/trainer/unlearn/wga.py``, ``satimp.py``, ``ceu.py``, ``undial.py``), each with its
published defaults (``configs/trainer/<Name>.yaml``):

* ``wga``     WGA, ``gamma * WGA(forget) + alpha * NLL_tok(retain)``, beta 1, gamma = alpha = 1
  (Wang et al., ICLR 2025);
* ``satimp``  SatImp, ``gamma * SatImp(forget) + alpha * NLL_tok(retain)``, beta1 5, beta2 1,
  gamma 0.1, alpha 1 (Yang et al., ICML 2025; the YAML's values, which differ from the
  class defaults);
* ``ceu``     CE-U, forget only, the first answer token not unlearned (Yang et al., 2025);
* ``undial``  UNDIAL, self-distillation on adjusted logits, beta 10; OpenUnlearning's retain
  weight is 0, so it is registered forget-only (Dong et al., NAACL 2025).

The formulas are in :mod:`reliant.unlearning.losses` (``wga_loss``, ``satimp_loss``,
``ceu_loss``, ``undial_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass

from reliant.unlearning.methods.base import (
    ForgetRetainWeights,
    ForgetWeight,
    StepContext,
    UnlearningMethod,
    losses,
    own_option,
    register,
    retain_weight_option,
)


@dataclass
class WGAParams(ForgetRetainWeights):
    beta: float = own_option("wga_beta", 1.0, "WGA's exponent on the token probability weight (OpenUnlearning: 1).", gt=0)


@dataclass
class SatImpParams:
    beta1: float = own_option("satimp_beta1", 5.0, "SatImp's saturation exponent beta1 (OpenUnlearning: 5).", gt=0)
    beta2: float = own_option("satimp_beta2", 1.0, "SatImp's importance exponent beta2 (OpenUnlearning: 1).", gt=0)
    forget_weight: float = own_option("satimp_forget_weight", 0.1,
                                      "Weight of SatImp's forget term (OpenUnlearning SatImp.yaml gamma: 0.1).", min=0)
    retain_weight: float = retain_weight_option()


@dataclass
class CEUParams(ForgetWeight):
    ignore_first: int = own_option("ceu_ignore_first", 1,
                                   "Answer tokens at the start that CE-U does not unlearn (OpenUnlearning: 1).", min=0)


@dataclass
class UNDIALParams(ForgetWeight):
    beta: float = own_option("undial_beta", 10.0,
                             "UNDIAL's logit reduction on the true token (OpenUnlearning: 10).", gt=0)


@register
class WGA(UnlearningMethod):
    name = "wga"
    label = "WGA"
    needs = frozenset({"retain"})
    summary = "weighted gradient ascent (token weight p^beta) plus token-mean NLL on retain"
    Params = WGAParams

    def loss(self, ctx: StepContext):
        logits, forget = ctx.forget_logits()
        return self.objective(ctx, losses.wga_loss(logits, forget["labels"], beta=self.params.beta))


@register
class SatImp(UnlearningMethod):
    name = "satimp"
    label = "SatImp"
    needs = frozenset({"retain"})
    summary = "gradient ascent reweighted by saturation and importance plus token-mean NLL on retain"
    Params = SatImpParams

    def loss(self, ctx: StepContext):
        logits, forget = ctx.forget_logits()
        return self.objective(ctx, losses.satimp_loss(logits, forget["labels"], beta1=self.params.beta1, beta2=self.params.beta2))


@register
class CEU(UnlearningMethod):
    name = "ceu"
    label = "CE-U"
    needs = frozenset()
    summary = "cross entropy against the model's own distribution without the true token, forget only"
    Params = CEUParams

    def loss(self, ctx: StepContext):
        logits, forget = ctx.forget_logits()
        return self.objective(ctx, losses.ceu_loss(logits, forget["labels"], ignore_first_n_answer_tokens=self.params.ignore_first))


@register
class UNDIAL(UnlearningMethod):
    name = "undial"
    label = "UNDIAL"
    needs = frozenset({"reference"})
    summary = "self-distillation towards the original model's logits with the true token lowered, forget only"
    Params = UNDIALParams
    # The teacher's full next-token distribution on every forget position; a frozen copy is
    # cheaper to hold than those logits for a real vocabulary.
    holds_reference_copy = True

    def loss(self, ctx: StepContext):
        logits, forget = ctx.forget_logits()
        teacher = self.reference_logits(forget)
        return self.objective(ctx, losses.undial_loss(logits, teacher, forget["labels"], beta=self.params.beta))
