"""Retain-only fine-tuning: the "retrained" gold reference of TOFU, trained on the retain
answers alone (one epoch runs over the retain set, not the forget set)."""

from __future__ import annotations

from reliant.unlearning.methods.base import StepContext, UnlearningMethod, losses, register


@register
class RetainFineTune(UnlearningMethod):
    name = "retain_ft"
    label = "Retain FT"
    needs = frozenset({"retain"})
    summary = "fine-tuning on the retain answers only (the retrained reference)"
    trains_on = "retain"

    def loss(self, ctx: StepContext):
        batch = ctx.batch(ctx.indexed_retain_pairs())
        loss = losses.sequence_nll(ctx.logits(batch), batch["labels"]).mean()
        return loss, {"retain_nll": float(loss.detach())}
