"""Human vs machine, post hoc: what a user (or another capability) imports.

Start with :func:`analyze` on machine logits, human vote counts and true labels:

>>> from reliant.collaboration.api import analyze, synthetic_human_machine
>>> data = synthetic_human_machine(n=600, num_classes=4, votes_per_item=5, seed=0)
>>> result = analyze(data["logits"], data["votes"], data["labels"], annotators=1, seed=0)
>>> [row["team"] for row in result["teams"]][:2]     # machine alone, human alone, deferral, combinations, oracle
['machine alone', 'human alone (1 vote)']
>>> sorted(result["comparison"])[:3]                 # kappa, error consistency, overlap, confusion similarity, chi2
['agreement', 'chi2_chi2', 'chi2_dof']

Deferral rules form a registry (:data:`DEFERRAL_METHODS`: confidence threshold, Compare
Confidence, a learned rejector trained with the realizable surrogate), each cross-fitted by
:func:`cross_fitted_deferral`, with a human-effort budget and per-part metrics
(``result["deferral"]``); a second machine's logits add the AI-AI teams (``result["ai_ai"]``).

The teams are also usable on their own (:class:`ConfusionCombiner`, :class:`LogLinearCombiner`,
:func:`threshold_defer`, :func:`deferral_curve`). :func:`run_analyze` is the ``reliant collab
analyze`` command (options: :class:`CollabConfig`), :func:`demo_stage` the stage of
``reliant demo`` (synthetic data, no files). The statistics live in
:mod:`reliant.collaboration.metrics`, the figures in :mod:`reliant.collaboration.report`.
"""

from __future__ import annotations

from reliant.collaboration.analysis import DEFAULT_DEFERRAL, ai_ai_teams, analyze, check_params, difficulty_bins
from reliant.collaboration.combine import (
    DEFAULT_FRACTIONS,
    ConfusionCombiner,
    LogLinearCombiner,
    best_threshold,
    consult_curve,
    cross_fit,
    deferral_curve,
    fit_temperature,
    human_confusion,
    threshold_defer,
)
from reliant.collaboration.config import CollabConfig
from reliant.collaboration.deferral import (
    DEFERRAL_METHODS,
    DeferralData,
    DeferralMethod,
    cross_fitted_deferral,
    deferral_parts,
    register_deferral,
)
from reliant.collaboration.metrics import (
    chi2_error_test,
    cohen_kappa,
    confusion_similarity,
    error_consistency,
    error_overlap,
    oracle_accuracy,
)
from reliant.collaboration.report import (
    add_to_report,
    plot_confusions,
    plot_curves,
    plot_difficulty,
    plot_overlap,
    plot_per_class_error,
)
from reliant.collaboration.synthetic import synthetic_human_machine
from reliant.collaboration.votes import agreement, as_counts, plurality, sample_annotators
from reliant.collaboration.workflows import demo_stage, load_inputs, run_analyze

__all__ = [
    "CollabConfig",
    "ConfusionCombiner",
    "DEFERRAL_METHODS",
    "LogLinearCombiner",
    "analyze",
    "cross_fitted_deferral",
    "deferral_curve",
    "demo_stage",
    "register_deferral",
    "run_analyze",
    "synthetic_human_machine",
    "threshold_defer",
]

# Also importable from here, as before (the statistics, vote helpers and figures behind the names above):
_COMPATIBLE = (
    DEFAULT_DEFERRAL, DeferralData, DeferralMethod, ai_ai_teams, deferral_parts, DEFAULT_FRACTIONS, add_to_report, agreement, as_counts, best_threshold, check_params, chi2_error_test,
    cohen_kappa, confusion_similarity, consult_curve, cross_fit, difficulty_bins, error_consistency, error_overlap,
    fit_temperature, human_confusion, load_inputs, oracle_accuracy, plot_confusions, plot_curves, plot_difficulty,
    plot_overlap, plot_per_class_error, plurality, sample_annotators,
)
