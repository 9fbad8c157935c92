"""Robustness to prior shift, post hoc: what a user (or another capability) imports.

Start with :class:`DROPS` (Wei et al., ICLR 2023) on a trained classifier's validation
logits, or :func:`compare_methods` for DROPS against the post-hoc baselines (no adjustment,
logit adjustment, balanced- and worst-optimal reweighting):

>>> from reliant.robustness.api import DROPS, compare_methods, synthetic_longtail
>>> split = synthetic_longtail(seed=0, num_classes=4, n_max=200, n_val_max=200, n_test_per_class=50, dim=6)
>>> drops = DROPS(delta=0.1, prior=split.prior, steps=100).fit(split.val_logits, split.val_labels)  # g in the KL ball
>>> bool(drops.divergence_ <= 0.1 + 1e-9), drops.predict(split.test_logits).shape  # logits + log g - log pi
(True, (200,))
>>> results = compare_methods(split.val_logits, split.val_labels, split.test_logits, split.test_labels,
...                           prior=split.prior, steps=100)        # delta selected out of fold on validation
>>> sorted(results["methods"])[:2], results["delta_selection"]["delta"] in results["delta_selection"]["deltas"]
(['DROPS', 'balanced-optimal reweighting'], True)

The training prior ``prior`` is required everywhere (no default to the validation
frequencies); :func:`estimate_prior` counts it from training labels. :func:`select_delta`
chooses DROPS' radius by cross-fitting on validation, :func:`temperature_calibrate` fits the
optional temperature.

:func:`run_drops` / :func:`run_longtail` are the ``reliant robust drops`` / ``longtail``
commands (their options: :class:`DropsConfig`, :class:`LongTailConfig`), :func:`demo_stage`
the stage of ``reliant demo``. The formulas live in :mod:`reliant.robustness.metrics` and
:mod:`reliant.robustness.divergences`; figures in :mod:`reliant.robustness.report`.
"""

from __future__ import annotations

from reliant.robustness.compare import compare_methods, summary_rows
from reliant.robustness.config import DEFAULT_DELTAS, DIVERGENCES, DropsConfig, LongTailConfig
from reliant.robustness.divergences import canonical, divergence, worst_case_weights
from reliant.robustness.drops import (
    DROPS,
    BalancedReweighting,
    LogitAdjustment,
    NoAdjustment,
    PostHocAdjuster,
    WorstClassReweighting,
    estimate_prior,
    make_baselines,
)
from reliant.robustness.longtail import LongTailSplit, exponential_profile, longtail_split, synthetic_longtail
from reliant.robustness.metrics import (
    accuracy_report,
    balanced_accuracy,
    delta_worst_accuracy,
    delta_worst_curve,
    per_group_accuracy,
    worst_group_accuracy,
)
from reliant.robustness.selection import select_delta, temperature_calibrate
from reliant.robustness.report import (
    add_to_report,
    plot_delta_worst,
    plot_dual,
    plot_per_group,
    plot_summary,
    plot_weights,
)
from reliant.robustness.workflows import SHARED_DATA, cifar10_files, demo_stage, load_inputs, run_drops, run_longtail

__all__ = [
    "DROPS",
    "DropsConfig",
    "LogitAdjustment",
    "LongTailConfig",
    "accuracy_report",
    "compare_methods",
    "demo_stage",
    "estimate_prior",
    "longtail_split",
    "make_baselines",
    "run_drops",
    "run_longtail",
    "select_delta",
    "synthetic_longtail",
    "temperature_calibrate",
]

# Also importable from here, as before (the estimators, splits and formulas behind the names above):
_COMPATIBLE = (
    BalancedReweighting, DEFAULT_DELTAS, DIVERGENCES, LongTailSplit, NoAdjustment, PostHocAdjuster,
    WorstClassReweighting, add_to_report, balanced_accuracy, canonical, cifar10_files, delta_worst_accuracy,
    delta_worst_curve, divergence, exponential_profile, load_inputs, per_group_accuracy, plot_delta_worst, plot_dual,
    plot_per_group, plot_summary, plot_weights, summary_rows, SHARED_DATA, worst_case_weights, worst_group_accuracy,
)
