"""Early-learning regularisation (Liu, Niles-Weed, Razavian, Fernandez-Granda, NeurIPS 2020).

Each training row keeps a target ``t_i ← β t_i + (1 − β) p_i / Σ p_i`` (their Eq. 9, updated
with the detached predictions whenever the row is in a batch); the loss adds
``λ log(1 − ⟨p_i, t_i⟩)``, which keeps the model close to what it predicted early, before it
memorised the wrong labels."""

from __future__ import annotations

from reliant.construction.methods.base import BatchContext, LearningMethod, SetupInfo, losses, register, torch_lazy


@register
class ELR(LearningMethod):
    name, label, reference = "elr", "ELR", "Liu et al., NeurIPS 2020"
    reads = ("elr_lambda", "elr_beta")

    def setup(self, info: SetupInfo) -> None:
        super().setup(info)
        self.targets = torch_lazy.zeros(info.num_samples, info.num_classes, device=info.device)

    def loss(self, batch: BatchContext):
        torch = torch_lazy
        params = self.info.params
        logits = batch.logits[0]
        with torch.no_grad():
            probs = torch.softmax(logits, dim=1).clamp(1e-4, 1.0 - 1e-4)
            probs = probs / probs.sum(dim=1, keepdim=True)
            self.targets[batch.index] = params.elr_beta * self.targets[batch.index] + (1 - params.elr_beta) * probs
        value = losses.elr_loss(logits, batch.labels, self.targets[batch.index], params.elr_lambda)
        return value, {"elr": float(value.detach())}
