"""Cross-entropy, label smoothing and generalised cross-entropy: one network, one loss per batch."""

from __future__ import annotations

from reliant.construction.methods.base import BatchContext, LearningMethod, losses, register


@register
class CrossEntropy(LearningMethod):
    name, label, reference = "ce", "CE", "the standard baseline"

    def loss(self, batch: BatchContext):
        value = losses.cross_entropy(batch.logits[0], batch.labels)
        return value, {"ce": float(value.detach())}


@register
class LabelSmoothing(LearningMethod):
    name, label, reference = "label_smoothing", "Label smoothing", "Szegedy et al., CVPR 2016"
    reads = ("smoothing",)

    def loss(self, batch: BatchContext):
        value = losses.label_smoothing_loss(batch.logits[0], batch.labels, self.info.params.smoothing)
        return value, {"loss": float(value.detach())}


@register
class GCE(LearningMethod):
    name, label, reference = "gce", "GCE", "Zhang & Sabuncu, NeurIPS 2018"
    reads = ("q",)

    def loss(self, batch: BatchContext):
        value = losses.gce_loss(batch.logits[0], batch.labels, self.info.params.q)
        return value, {"gce": float(value.detach())}
