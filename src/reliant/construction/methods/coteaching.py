"""Co-teaching (Han et al., NeurIPS 2018): two networks, each trained on the small-loss
samples of the other. The forget rate rises linearly from 0 to ``τ`` over the first
``coteaching_ramp`` share of epochs (their ``T_k``); ``τ`` is ``--forget-rate`` or, by
default, the estimated noise rate (the paper assumes it known; ADC estimates it with HOC)."""

from __future__ import annotations

from reliant.construction.methods.base import BatchContext, LearningMethod, SetupInfo, losses, register


@register
class CoTeaching(LearningMethod):
    name, label, reference = "coteaching", "Co-teaching", "Han et al., NeurIPS 2018"
    needs = frozenset({"noise_rate"})
    reads = ("forget_rate", "coteaching_ramp")
    networks = 2

    def setup(self, info: SetupInfo) -> None:
        super().setup(info)
        given = info.params.forget_rate
        self.tau = float(given if given is not None else (info.noise_rate or 0.0))

    def forget_rate(self, epoch: int, epochs: int) -> float:
        ramp = max(1, round(self.info.params.coteaching_ramp * epochs))
        return self.tau * min(1.0, epoch / ramp)

    def loss(self, batch: BatchContext):
        rate = self.forget_rate(batch.epoch, batch.epochs)
        loss_a, loss_b = losses.coteaching_losses(batch.logits[0], batch.logits[1], batch.labels, rate)
        return loss_a + loss_b, {"net_a": float(loss_a.detach()), "net_b": float(loss_b.detach()), "forget_rate": rate}
