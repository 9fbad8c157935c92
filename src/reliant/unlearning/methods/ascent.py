"""Gradient ascent and its retain-regularised variants (OpenUnlearning ``GradAscent`` and
``GradDiff``; TOFU's "KL" baseline): GA, GD (GradDiff with retain NLL), GA+KL."""

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
    """Mean per-sequence NLL of a random retain batch."""
    retain = ctx.batch(ctx.retain_pairs())
    return losses.sequence_nll(ctx.logits(retain), retain["labels"]).mean()


def with_retain(forget_loss: torch.Tensor, retain_loss: torch.Tensor | None, params) -> tuple[torch.Tensor, dict[str, float]]:
    """``forget_weight * forget + retain_weight * retain`` and its parts."""
    parts = {"forget": float(forget_loss.detach())}
    loss = params.forget_weight * forget_loss
    if retain_loss is not None:
        parts["retain"] = float(retain_loss.detach())
        loss = loss + params.retain_weight * retain_loss
    return loss, parts


@register
class GradientAscent(UnlearningMethod):
    name = "ga"
    label = "GA"
    needs = frozenset()
    summary = "gradient ascent on the forget answers"
    Params = AscentParams

    def loss(self, ctx: StepContext):
        return with_retain(forget_ascent(ctx), None, self.params)


@register
class GradientDifference(UnlearningMethod):
    name = "gd"
    label = "GD"
    needs = frozenset({"retain"})
    summary = "gradient ascent on forget plus NLL on retain (GradDiff)"
    Params = RetainedAscentParams

    def loss(self, ctx: StepContext):
        forget_loss = forget_ascent(ctx)
        return with_retain(forget_loss, retain_nll(ctx), self.params)


@register
class GradientAscentKL(UnlearningMethod):
    name = "ga_kl"
    label = "GA+KL"
    needs = frozenset({"retain", "reference"})
    summary = "gradient ascent on forget plus KL(original || current) on retain batches"
    Params = RetainedAscentParams

    def setup(self, env: SetupEnv) -> None:
        # The one method that needs the original model's full distribution on fresh
        # retain batches, so it keeps a frozen copy.
        self.reference_model = copy.deepcopy(env.model).eval().requires_grad_(False)

    def loss(self, ctx: StepContext):
        forget_loss = forget_ascent(ctx)
        retain = ctx.batch(ctx.retain_pairs())
        retain_logits = ctx.logits(retain)
        with torch_lazy.no_grad():
            ref_logits = self.reference_model(input_ids=retain["input_ids"], attention_mask=retain["attention_mask"]).logits
        return with_retain(forget_loss, losses.kl_retain_loss(retain_logits, ref_logits, retain["labels"]), self.params)
