"""Post-hoc imbalance methods on a cross-entropy model's logits, through the robustness
capability: logit adjustment (Menon et al., ICLR 2021: ``z − τ log π``) and DROPS (Wei et al.,
ICLR 2023: per-class weights fitted on a validation split for the worst case in a KL ball
around the uniform target)."""

from __future__ import annotations

from reliant.construction.methods.base import register
from reliant.construction.methods.standard import CrossEntropy


class _PostHoc(CrossEntropy):
    """The model itself is trained with plain CE (the inherited loss); ``adjust`` does the rest."""

    family = "imbalance"
    posthoc = True


@register
class PostHocLogitAdjustment(_PostHoc):
    name, label, reference = "posthoc_la", "Post-hoc logit adjustment", "Menon et al., ICLR 2021"
    reads = ("tau",)

    def adjust(self, val_logits, val_labels, prior):
        from reliant.robustness.api import LogitAdjustment

        return LogitAdjustment(prior=prior, tau=self.info.params.tau).fit(val_logits, val_labels)


@register
class PostHocDROPS(_PostHoc):
    name, label, reference = "drops", "DROPS (post-hoc)", "Wei et al., ICLR 2023"
    needs = frozenset({"validation"})
    reads = ("drops_delta",)

    def adjust(self, val_logits, val_labels, prior):
        from reliant.robustness.api import DROPS

        return DROPS(delta=self.info.params.drops_delta, prior=prior).fit(val_logits, val_labels)
