"""Memorization and membership inference: the entry points other code imports.

Language models::

    from reliant.memorization.api import audit_lm, load_examples
    result = audit_lm("path/to/model", load_examples("members.jsonl"), load_examples("heldout.jsonl"),
                      reference="path/to/reference", extract=True)
    result.summary["min_k_pp"]["auroc"], result.summary["reference"]["tpr_at_1pct_fpr"]

Canaries (secret sharer)::

    canaries = make_canaries(10, n_digits=4)          # insert canary_texts(...) into training
    canary_exposure(model, tokenizer, canaries, n_candidates=None).exposure   # exact

Classifiers (subset-trained models)::

    result = train_on_subsets(digits_with_noise(0.05), n_models=16)
    result.memorization(); result.lira()

Membership attacks are one registry, :data:`ATTACK_REGISTRY` (:mod:`reliant.memorization.attacks`):
LOSS, zlib, reference, Min-K%, Min-K%++, GradNorm, ReCaLL, DC-PDD, RMIA and the neighbourhood
attack; ``ATTACKS`` stays the five computable from token statistics alone
(:func:`membership_scores`). A model behind an OpenAI-compatible completions endpoint is
audited with ``audit_lm("openai:<model>@<url>", ...)`` (log-probability attacks only).

Score formulas (LOSS, zlib, reference, Min-K%++, ReCaLL, DC-PDD, RMIA, exposure, counterfactual memorization,
influence, forgetting events, LiRA) live in :mod:`reliant.memorization.metrics`; the ones
other capabilities share (exact ROC/AUROC/TPR at low FPR, Min-K%, ROUGE-L) in
:mod:`reliant.core.metrics`. They stay importable from here, but ``__all__`` lists only the
entry points, configs and result types. The unlearning capability can reuse
:func:`audit_lm` / :func:`membership_scores` for PrivLeak-style checks.
"""

from __future__ import annotations

from typing import Any

from reliant.core.rundir import RunDirectory
from reliant.memorization.audit import (
    AuditResult,
    attack_summary,
    audit_lm,
    empirical_fpr,
    membership_p_value,
    write_audit,
)
from reliant.memorization.attacks import ATTACK_REGISTRY, AttackContext, MembershipAttack, register_attack
from reliant.memorization.builtin import SMALL_SETTINGS, BuiltinSetup, builtin_setup
from reliant.memorization.canaries import (
    Canary,
    ExposureResult,
    canary_exposure,
    canary_texts,
    load_canaries,
    make_canaries,
)
from reliant.memorization.classifier import (
    ClassifierData,
    SubsetResult,
    atypicality,
    digits_with_noise,
    load_classifier_data,
    train_on_subsets,
)
from reliant.memorization.config import AuditConfig, CanaryConfig, CounterfactualConfig, MIAParams
from reliant.memorization.inputs import Example, examples_from_records, load_examples
from reliant.memorization.lm import (
    ATTACKS,
    ExtractionResult,
    TokenStats,
    api_token_statistics,
    extraction,
    gradient_norms,
    membership_scores,
    token_statistics,
)
from reliant.memorization.metrics import (
    auroc,
    bootstrap_auroc,
    counterfactual_memorization,
    dc_pdd_score,
    exposure,
    exposure_extrapolated,
    exposure_sampled,
    forgetting_events,
    influence_matrix,
    lira_offline,
    lira_online,
    logit_confidence,
    loss_score,
    min_k_plus_plus_score,
    min_k_score,
    recall_score,
    reference_score,
    rmia_scores,
    roc_points,
    rouge_l_f1,
    token_edit_distance,
    token_frequencies,
    tpr_at_fpr,
    zlib_score,
)
from reliant.memorization.workflows import (
    audit_stage,
    canaries_stage,
    counterfactual_stage,
    run_audit,
    run_canaries,
    run_counterfactual,
)

__all__ = [
    "ATTACKS",
    "ATTACK_REGISTRY",
    "AttackContext",
    "MIAParams",
    "MembershipAttack",
    "TokenStats",
    "api_token_statistics",
    "dc_pdd_score",
    "exposure_extrapolated",
    "gradient_norms",
    "recall_score",
    "register_attack",
    "rmia_scores",
    "AuditConfig",
    "AuditResult",
    "CanaryConfig",
    "CounterfactualConfig",
    "ExposureResult",
    "ExtractionResult",
    "SubsetResult",
    "audit_lm",
    "builtin_setup",
    "canary_exposure",
    "canary_texts",
    "demo_stage",
    "digits_with_noise",
    "load_canaries",
    "load_examples",
    "make_canaries",
    "membership_scores",
    "run_audit",
    "run_canaries",
    "run_counterfactual",
    "train_on_subsets",
]


class _StageRun:
    """A view of a shared run directory for one demo stage: artefact names get a prefix
    and metrics are collected for the stage instead of written at the top level."""

    def __init__(self, run: RunDirectory, prefix: str) -> None:
        self._run = run
        self._prefix = prefix
        self.metrics: dict[str, Any] = {}

    def file(self, name: str):
        return self._run.file(f"{self._prefix}{name}")

    def add_figure(self, title: str, figure: Any, caption: str = "", save_as: str | None = None) -> None:
        self._run.add_figure(title, figure, caption=caption, save_as=f"{self._prefix}{save_as}" if save_as else None)

    def add_metrics(self, values: dict[str, Any]) -> None:
        self.metrics.update(values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)


def demo_stage(run: RunDirectory, seed: int) -> dict:
    """Membership audit, canary exposure and classifier memorization on built-in data.

    Uses two small tiny LMs trained on disjoint fictitious people (cached after the first
    build; the first build takes a few minutes on 2 CPU cores, later runs well under a
    minute) and scikit-learn's bundled digits with 5% flipped labels."""
    stage = _StageRun(run, "memorization_")
    headline: dict[str, Any] = {}
    headline.update(audit_stage(stage, AuditConfig(seed=seed, extract=True)))
    headline.update(canaries_stage(stage, CanaryConfig(seed=seed, n_candidates=199, exact_up_to=1)))
    headline.update(counterfactual_stage(stage, CounterfactualConfig(seed=seed, n_models=8, epochs=40, lira_targets=2)))
    return {"headline": headline, "details": stage.metrics}
