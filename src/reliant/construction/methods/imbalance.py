"""Class-imbalanced training losses: re-weighting, logit-adjusted loss, balanced softmax, LDAM-DRW."""

from __future__ import annotations

from reliant.construction.methods.base import BatchContext, LearningMethod, SetupInfo, losses, register, torch_lazy


def _tensor(values, info: SetupInfo):
    return torch_lazy.as_tensor(values, dtype=torch_lazy.float32, device=info.device)


@register
class Reweighting(LearningMethod):
    name, label, family = "reweight", "Re-weighting", "imbalance"
    reference = "inverse frequency / effective number (Cui et al., CVPR 2019)"
    reads = ("weighting", "weighting_beta")

    def setup(self, info: SetupInfo) -> None:
        super().setup(info)
        self.weight = _tensor(losses.class_weights(info.counts, info.params.weighting, info.params.weighting_beta), info)

    def loss(self, batch: BatchContext):
        value = losses.cross_entropy(batch.logits[0], batch.labels, weight=self.weight)
        return value, {"weighted_ce": float(value.detach())}


@register
class LogitAdjustedLoss(LearningMethod):
    name, label, family, reference = "logit_adjusted", "Logit-adjusted loss", "imbalance", "Menon et al., ICLR 2021"
    reads = ("tau",)

    def setup(self, info: SetupInfo) -> None:
        super().setup(info)
        import numpy as np

        prior = np.maximum(info.counts, 1) / np.maximum(info.counts, 1).sum()
        self.log_prior = _tensor(np.log(prior), info)

    def loss(self, batch: BatchContext):
        value = losses.logit_adjusted_loss(batch.logits[0], batch.labels, self.log_prior, self.info.params.tau)
        return value, {"la": float(value.detach())}


@register
class BalancedSoftmax(LearningMethod):
    name, label, family, reference = "balanced_softmax", "Balanced softmax", "imbalance", "Ren et al., NeurIPS 2020"

    def setup(self, info: SetupInfo) -> None:
        super().setup(info)
        self.counts = _tensor(info.counts, info)

    def loss(self, batch: BatchContext):
        value = losses.balanced_softmax_loss(batch.logits[0], batch.labels, self.counts)
        return value, {"bs": float(value.detach())}


@register
class LDAMDRW(LearningMethod):
    """LDAM margins on a cosine head; from the ``drw_start`` share of epochs on, the loss is
    re-weighted by the effective number (β = 0.9999), the deferred re-weighting of Cao et al."""

    name, label, family, reference = "ldam_drw", "LDAM-DRW", "imbalance", "Cao et al., NeurIPS 2019"
    reads = ("ldam_max_margin", "ldam_scale", "drw_start")
    head = "cosine"

    def setup(self, info: SetupInfo) -> None:
        super().setup(info)
        self.margins = _tensor(losses.ldam_margins(info.counts, info.params.ldam_max_margin), info)
        self.drw_weight = _tensor(losses.class_weights(info.counts, "effective", 0.9999), info)

    def loss(self, batch: BatchContext):
        params = self.info.params
        deferred = batch.epoch >= round(params.drw_start * batch.epochs)
        weight = self.drw_weight if deferred else None
        value = losses.ldam_loss(batch.logits[0], batch.labels, self.margins, params.ldam_scale, weight=weight)
        return value, {"ldam": float(value.detach()), "drw": float(deferred)}
