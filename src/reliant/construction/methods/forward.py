"""Forward loss correction with a noise transition matrix (Patrini et al., CVPR 2017).

``T`` is the one the user gives, or HOC's estimate from the features of a cross-entropy
model (Zhu et al., ICML 2021, through :mod:`reliant.curation.api`), as ADC pairs them.
"""

from __future__ import annotations

from reliant.construction.methods.base import BatchContext, LearningMethod, SetupInfo, losses, register, torch_lazy


@register
class ForwardCorrection(LearningMethod):
    name, label, reference = "forward", "Forward (T from HOC)", "Patrini et al., CVPR 2017; T by HOC"
    needs = frozenset({"transition"})

    def setup(self, info: SetupInfo) -> None:
        super().setup(info)
        if info.transition is None:
            raise ValueError("forward correction needs a transition matrix")
        self.transition = torch_lazy.as_tensor(info.transition, dtype=torch_lazy.float32, device=info.device)

    def loss(self, batch: BatchContext):
        value = losses.forward_corrected_loss(batch.logits[0], batch.labels, self.transition)
        return value, {"forward": float(value.detach())}
