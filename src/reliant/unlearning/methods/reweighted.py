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

from reliant.unlearning.methods.ascent import frozen_copy, retain_nll, with_retain
from reliant.unlearning.methods.base import (
    SetupEnv,
    StepContext,
    UnlearningMethod,
    forget_weight_option,
    losses,
    own_option,
    register,
    retain_weight_option,
    torch_lazy,
)


@dataclass
class WGAParams:
    beta: float = own_option("wga_beta", 1.0, "WGA's exponent on the token probability weight (OpenUnlearning: 1).", gt=0)
    forget_weight: float = forget_weight_option()
    retain_weight: float = retain_weight_option()


@dataclass
class SatImpParams:
    beta1: float = own_option("satimp_beta1", 5.0, "SatImp's saturation exponent beta1 (OpenUnlearning: 5).", gt=0)
    beta2: float = own_option("satimp_beta2", 1.0, "SatImp's importance exponent beta2 (OpenUnlearning: 1).", gt=0)
    forget_weight: float = own_option("satimp_forget_weight", 0.1,
                                      "Weight of SatImp's forget term (OpenUnlearning SatImp.yaml gamma: 0.1).", min=0)
    retain_weight: float = retain_weight_option()


@dataclass
class CEUParams:
    ignore_first: int = own_option("ceu_ignore_first", 1,
                                   "Answer tokens at the start that CE-U does not unlearn (OpenUnlearning: 1).", min=0)
    forget_weight: float = forget_weight_option()


@dataclass
class UNDIALParams:
    beta: float = own_option("undial_beta", 10.0,
                             "UNDIAL's logit reduction on the true token (OpenUnlearning: 10).", gt=0)
    forget_weight: float = forget_weight_option()


def forget_batch(ctx: StepContext):
    forget = ctx.batch(ctx.forget_pairs())
    return ctx.logits(forget), forget


@register
class WGA(UnlearningMethod):
    name = "wga"
    label = "WGA"
    needs = frozenset({"retain"})
    summary = "weighted gradient ascent (token weight p^beta) plus token-mean NLL on retain"
    Params = WGAParams

    def loss(self, ctx: StepContext):
        logits, forget = forget_batch(ctx)
        forget_loss = losses.wga_loss(logits, forget["labels"], beta=self.params.beta)
        return with_retain(forget_loss, retain_nll(ctx), self.params)


@register
class SatImp(UnlearningMethod):
    name = "satimp"
    label = "SatImp"
    needs = frozenset({"retain"})
    summary = "gradient ascent reweighted by saturation and importance plus token-mean NLL on retain"
    Params = SatImpParams

    def loss(self, ctx: StepContext):
        logits, forget = forget_batch(ctx)
        forget_loss = losses.satimp_loss(logits, forget["labels"], beta1=self.params.beta1, beta2=self.params.beta2)
        return with_retain(forget_loss, retain_nll(ctx), self.params)


@register
class CEU(UnlearningMethod):
    name = "ceu"
    label = "CE-U"
    needs = frozenset()
    summary = "cross entropy against the model's own distribution without the true token, forget only"
    Params = CEUParams

    def loss(self, ctx: StepContext):
        logits, forget = forget_batch(ctx)
        forget_loss = losses.ceu_loss(logits, forget["labels"], ignore_first_n_answer_tokens=self.params.ignore_first)
        return with_retain(forget_loss, None, self.params)


@register
class UNDIAL(UnlearningMethod):
    name = "undial"
    label = "UNDIAL"
    needs = frozenset({"reference"})
    summary = "self-distillation towards the original model's logits with the true token lowered, forget only"
    Params = UNDIALParams

    def setup(self, env: SetupEnv) -> None:
        # The teacher's full next-token distribution on every forget position; a frozen
        # copy is cheaper to hold than those logits for a real vocabulary.
        self.reference_model = frozen_copy(env.model)

    def loss(self, ctx: StepContext):
        logits, forget = forget_batch(ctx)
        with torch_lazy.no_grad():
            teacher = self.reference_model(input_ids=forget["input_ids"], attention_mask=forget["attention_mask"]).logits
        forget_loss = losses.undial_loss(logits, teacher, forget["labels"], beta=self.params.beta)
        return with_retain(forget_loss, None, self.params)
