"""Data curation: what a user (or another capability) imports.

    from reliant.curation.api import neighbor_graph, estimate_transition, detect_label_errors
    features, _ = transform_features(features)                     # log for probability rows
    graph = neighbor_graph(features, k=12)                         # once per pool (random ties)
    report = check_features(features, noisy_labels, graph, K)      # report.problems: hopeless input
    hoc = estimate_transition(noisy_labels, K, graph)              # T, p, noise rate
    found = detect_label_errors(noisy_labels, K, graph, method="rank",
                                class_rates=rank_rates(hoc.T, hoc.p, hoc.noisy_prior))
    curation = curate_scores(llm_scores, graph)                    # DS2 score curation
    chosen = select_ds2(curation.curated, long_tail_scores(graph), budget=1000)

:func:`run_diagnose`, :func:`run_detect`, :func:`run_rate` and :func:`run_select` are the
``reliant curate`` commands (a config from :mod:`reliant.curation.config` in, ``(run folder,
summary lines)`` out)::

    from reliant.core.config import resolve_config
    from reliant.curation.api import DiagnoseConfig, run_diagnose
    folder, lines = run_diagnose(resolve_config(DiagnoseConfig, features="emb.npy", labels="noisy.npy"))

:func:`demo_stage` is the stage of ``reliant demo``.
"""

from __future__ import annotations

from reliant.curation.baselines import argmax_baseline, cleanlab_baseline, cleanlab_issues, knn_pred_probs
from reliant.curation.checks import FeatureReport, check_features, check_transition, transform_features
from reliant.curation.config import (
    DetectConfig,
    DiagnoseConfig,
    HocParams,
    RateConfig,
    RaterParams,
    SelectConfig,
    SimiFeatParams,
)
from reliant.curation.ds2 import (
    NUM_LEVELS,
    ScoreCuration,
    compress_rating,
    curate_scores,
    long_tail_scores,
    parse_rating,
    rate_samples,
    rate_samples_by_likelihood,
    rate_samples_with_replies,
    rating_prompt,
    select_ds2,
    select_random,
    select_score_diversity,
    select_score_threshold,
)
from reliant.curation.hoc import (
    HOCResult,
    RaterHOCResult,
    analytic_consensus,
    consensus_counts,
    estimate_transition,
    estimate_transition_raters,
    solve_transition,
)
from reliant.curation.metrics import (
    agreement,
    detection_scores,
    empirical_transition,
    mean_pairwise_cosine_distance,
    random_detection_f1,
    transition_errors,
)
from reliant.curation.neighbors import NeighborGraph, duplicated_graph, neighbor_graph, restrict_to_sample
from reliant.curation.simifeat import DetectionResult, detect_label_errors, knn_label_votes, rank_rates
from reliant.curation.synthetic import NoisyDataset, clusterable_features, make_transition
from reliant.curation.workflows import demo_stage, run_detect, run_diagnose, run_rate, run_select

__all__ = [
    "DetectConfig",
    "DetectionResult",
    "DiagnoseConfig",
    "HOCResult",
    "HocParams",
    "NeighborGraph",
    "check_features",
    "RateConfig",
    "RaterParams",
    "ScoreCuration",
    "SelectConfig",
    "SimiFeatParams",
    "curate_scores",
    "demo_stage",
    "detect_label_errors",
    "detection_scores",
    "estimate_transition",
    "neighbor_graph",
    "rank_rates",
    "run_detect",
    "run_diagnose",
    "run_rate",
    "run_select",
    "select_ds2",
]
