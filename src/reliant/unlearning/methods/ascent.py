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

from reliant.unlearning.methods.base import (
    ForgetRetainWeights,
    ForgetWeight,
    StepContext,
    UnlearningMethod,
    losses,
    register,
)


def forget_ascent(ctx: StepContext):
    """``-NLL`` of the batch's forget answers, token-averaged (:func:`losses.ga_loss`)."""
    logits, forget = ctx.forget_logits()
    return losses.ga_loss(logits, forget["labels"])


@register
class GradientAscent(UnlearningMethod):
    name = "ga"
    label = "GA"
    needs = frozenset()
    summary = "gradient ascent on the forget answers (OpenUnlearning GradAscent)"
    Params = ForgetWeight

    def loss(self, ctx: StepContext):
        return self.objective(ctx, forget_ascent(ctx))


@register
class GradientDifference(GradientAscent):
    name = "gd"
    label = "GradDiff"
    needs = frozenset({"retain"})
    summary = "gradient ascent on forget plus token-mean NLL on retain (OpenUnlearning GradDiff)"
    Params = ForgetRetainWeights


@register
class GradientAscentKL(UnlearningMethod):
    name = "ga_kl"
    label = "GA+KL"
    needs = frozenset({"retain", "reference"})
    summary = "gradient ascent on forget plus KL(original || current) on retain batches (GradDiff, KL)"
    Params = ForgetRetainWeights
    holds_reference_copy = True  # the original model's full distribution on fresh retain batches

    def loss(self, ctx: StepContext):
        forget_loss = forget_ascent(ctx)
        retain = ctx.batch(ctx.retain_pairs())
        kl = losses.kl_retain_loss(ctx.logits(retain), self.reference_logits(retain))
        return self.objective(ctx, forget_loss, kl)
