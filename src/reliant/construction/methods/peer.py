"""Peer loss (Liu & Guo, ICML 2020): cross-entropy minus α times the loss on random
(prediction, label) pairs, which punishes fitting the label distribution blindly. As in the
authors' experiments, the first ``peer_warmup`` share of epochs trains with plain CE."""

from __future__ import annotations

from reliant.construction.methods.base import BatchContext, LearningMethod, SetupInfo, losses, register, torch_lazy


@register
class PeerLoss(LearningMethod):
    name, label, reference = "peer", "Peer loss", "Liu & Guo, ICML 2020"
    reads = ("peer_alpha", "peer_warmup")

    def setup(self, info: SetupInfo) -> None:
        super().setup(info)
        self.generator = torch_lazy.Generator().manual_seed(info.seed + 7919)

    def loss(self, batch: BatchContext):
        params = self.info.params
        if batch.epoch < round(params.peer_warmup * batch.epochs):
            value = losses.cross_entropy(batch.logits[0], batch.labels)
            return value, {"ce": float(value.detach())}
        value = losses.peer_loss(batch.logits[0], batch.labels, params.peer_alpha, generator=self.generator)
        return value, {"peer": float(value.detach())}
