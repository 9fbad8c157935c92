"""Gradient ascent and its retain-regularised variants, named as in OpenUnlearning
(``locuslab/open-unlearning``, ``src/trainer/unlearn/grad_ascent.py``, ``grad_diff.py``):

* ``ga``    GradAscent: ``L = -NLL_tok(forget)``;
* ``gd``    GradDiff (``retain_loss_type: NLL``): ``L = gamma * (-NLL_tok(forget)) + alpha * NLL_tok(retain)``;
* ``ga_kl`` GradDiff with ``retain_loss_type: KL`` (TOFU's "KL" baseline):
  ``L = gamma * (-NLL_tok(forget)) + alpha * KL(original || current)`` on retain inputs.

``NLL_tok`` is the negative log-likelihood averaged over every answer token of the batch,
the ``outputs.loss`` a Hugging Face causal LM returns (not a mean of per-sequence means).
The KL is OpenUnlearning's ``compute_kl_divergence``: over every position of the retain
batch (prompt and padding included), summed and divided by ``batch * length``
(:func:`reliant.unlearning.losses.kl_retain_loss` with ``labels=None``).
Defaults ``gamma = alpha = 1`` (``configs/trainer/GradDiff.yaml``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reliant.unlearning.methods.base import (
    SetupEnv,
    StepContext,
    UnlearningMethod,
    forget_weight_option,
    losses,
    register,
    retain_weight_option,
    torch_lazy,
)

if TYPE_CHECKING:
    import torch


@dataclass
class AscentParams:
    forget_weight: float = forget_weight_option()


@dataclass
class RetainedAscentParams(AscentParams):
    retain_weight: float = retain_weight_option()


def forget_ascent(ctx: StepContext) -> torch.Tensor:
    """``-NLL`` of the batch's forget answers, token-averaged (:func:`losses.ga_loss`)."""
    forget = ctx.batch(ctx.forget_pairs())
    return losses.ga_loss(ctx.logits(forget), forget["labels"])


def retain_nll(ctx: StepContext) -> torch.Tensor:
    """NLL of a random retain batch averaged over all its answer tokens (OpenUnlearning's
    ``retain_loss_type: NLL``, i.e. ``model(**retain_inputs).loss``)."""
    retain = ctx.batch(ctx.retain_pairs())
    return losses.token_mean_nll(ctx.logits(retain), retain["labels"])


def with_retain(forget_loss: torch.Tensor, retain_loss: torch.Tensor | None, params,
                forget_weight: float | None = None, retain_weight: float | None = None
                ) -> tuple[torch.Tensor, dict[str, float]]:
    """``gamma * forget + alpha * retain`` and its parts (OpenUnlearning's GradDiff sum).

    ``gamma``/``alpha`` are ``params.forget_weight``/``params.retain_weight`` unless given
    (methods whose published weights differ declare their own fields)."""
    gamma = params.forget_weight if forget_weight is None else forget_weight
    parts = {"forget": float(forget_loss.detach())}
    loss = gamma * forget_loss
    if retain_loss is not None:
        alpha = params.retain_weight if retain_weight is None else retain_weight
        parts["retain"] = float(retain_loss.detach())
        loss = loss + alpha * retain_loss
    return loss, parts


def frozen_copy(model):
    """A frozen copy of the original model, for methods that need its full next-token
    distribution (or activations) on batches that change every step."""
    return copy.deepcopy(model).eval().requires_grad_(False)


@register
class GradientAscent(UnlearningMethod):
    name = "ga"
    label = "GA"
    needs = frozenset()
    summary = "gradient ascent on the forget answers (OpenUnlearning GradAscent)"
    Params = AscentParams

    def loss(self, ctx: StepContext):
        return with_retain(forget_ascent(ctx), None, self.params)


@register
class GradientDifference(UnlearningMethod):
    name = "gd"
    label = "GradDiff"
    needs = frozenset({"retain"})
    summary = "gradient ascent on forget plus token-mean NLL on retain (OpenUnlearning GradDiff)"
    Params = RetainedAscentParams

    def loss(self, ctx: StepContext):
        forget_loss = forget_ascent(ctx)
        return with_retain(forget_loss, retain_nll(ctx), self.params)


@register
class GradientAscentKL(UnlearningMethod):
    name = "ga_kl"
    label = "GA+KL"
    needs = frozenset({"retain", "reference"})
    summary = "gradient ascent on forget plus KL(original || current) on retain batches (GradDiff, KL)"
    Params = RetainedAscentParams

    def setup(self, env: SetupEnv) -> None:
        # Needs the original model's full distribution on fresh retain batches.
        self.reference_model = frozen_copy(env.model)

    def loss(self, ctx: StepContext):
        forget_loss = forget_ascent(ctx)
        retain = ctx.batch(ctx.retain_pairs())
        retain_logits = ctx.logits(retain)
        with torch_lazy.no_grad():
            ref_logits = self.reference_model(input_ids=retain["input_ids"], attention_mask=retain["attention_mask"]).logits
        return with_retain(forget_loss, losses.kl_retain_loss(retain_logits, ref_logits), self.params)
