"""Human-vs-machine error analysis and post-hoc teams on one labelled set.

Following Liu, Wei, Liu & Davis ("Human and AI Perceptual Differences in Image Classification
Errors"): :func:`analyze` compares the distributions of the two sources' mistakes (confusion
matrices, per-class error rates, error overlap and consistency, agreement, a homogeneity test
of the error distributions), ranks items by difficulty (machine confidence; human agreement
over all available votes) and reports accuracy per difficulty bin, then fits the teams of
:mod:`reliant.collaboration.combine` with cross-fitting and sweeps the share of rows deferred to
(or consulted with) the human.

The "human" of the teams is ``annotators`` votes drawn per item (without replacement) from the
given vote counts, answered by plurality (seeded tie-breaks): one CIFAR-10H annotator by
default, not the crowd of ~50, which would be an unrealistically strong human.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reliant.collaboration import metrics as M
from reliant.collaboration.combine import (
    DEFAULT_FRACTIONS,
    ConfusionCombiner,
    LogLinearCombiner,
    best_threshold,
    consult_curve,
    cross_fit,
    deferral_curve,
    threshold_defer,
)
from reliant.collaboration.votes import agreement, plurality, sample_annotators
from reliant.core.arrays import confusion_matrix, softmax
from reliant.core.errors import ConfigError, check_number

__all__ = ["analyze", "difficulty_bins"]


def difficulty_bins(score: np.ndarray, correct: dict[str, np.ndarray], bins: int = 5) -> list[dict]:
    """Rows cut into ``bins`` quantile bins of ``score`` (low = hard); accuracy of each source per bin."""
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(score, kind="stable")
    rows = []
    for i, part in enumerate(np.array_split(order, bins)):
        if len(part) == 0:
            continue
        entry = {"bin": i + 1, "rows": int(len(part)), "score from": float(score[part].min()),
                 "score to": float(score[part].max())}
        for name, values in correct.items():
            entry[name] = float(np.mean(values[part]))
        rows.append(entry)
    return rows


def check_params(*, annotators: int, folds: int, alpha: float, bins: int) -> None:
    """One-line errors for out-of-range options of :func:`analyze` (checked before any work)."""
    check_number(annotators, "annotators", low=0, integer=True)
    check_number(folds, "folds", low=2, integer=True)
    check_number(alpha, "alpha", low=0, low_open=True)
    check_number(bins, "bins", low=1, integer=True)


def analyze(
    machine_logits: np.ndarray,
    human_votes: np.ndarray,
    labels: np.ndarray,
    *,
    annotators: int = 1,
    folds: int = 2,
    alpha: float = 1.0,
    bins: int = 5,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> dict:
    """Error analysis and teams for machine logits (n x K), human vote counts (n x K) and labels.

    Returns a dict of plain numbers and arrays: ``machine`` / ``human`` (accuracy, per-class
    error, confusion), ``comparison`` (kappa, error consistency, overlap, oracle accuracy,
    confusion similarity, chi-square test), ``difficulty`` (bins and rank correlation),
    ``teams`` (out-of-fold accuracy of each team), ``curves`` (accuracy vs share deferred).
    """
    check_params(annotators=annotators, folds=folds, alpha=alpha, bins=bins)
    logits = np.asarray(machine_logits, dtype=np.float64)
    votes_all = np.asarray(human_votes, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    n, k = logits.shape
    if n < 2 * folds:
        raise ConfigError(f"needs at least {2 * folds} rows for {folds}-fold cross-fitting, got {n}", field="folds")
    rng = np.random.default_rng(seed)
    votes = sample_annotators(votes_all, annotators, rng)
    human_pred = plurality(votes, rng)
    probs = softmax(logits)
    machine_pred = np.argmax(logits, axis=1)
    confidence = probs.max(axis=1)
    machine_right = machine_pred == labels
    human_right = human_pred == labels

    conf_m_counts = confusion_matrix(labels, machine_pred, k, normalize=False)
    conf_h_counts = confusion_matrix(labels, human_pred, k, normalize=False)
    conf_m = confusion_matrix(labels, machine_pred, k)
    conf_h = confusion_matrix(labels, human_pred, k)
    # the crowd's (all votes) soft confusion: where human judgement itself goes
    conf_crowd = confusion_matrix(labels, votes_all / votes_all.sum(axis=1, keepdims=True), k)

    comparison = {
        "cohen_kappa": M.cohen_kappa(human_pred, machine_pred, k),
        "agreement": float(np.mean(human_pred == machine_pred)),
        "error_consistency": M.error_consistency(human_right, machine_right),
        "oracle_accuracy": M.oracle_accuracy(human_right, machine_right),
        **{f"overlap_{key}": value for key, value in M.error_overlap(human_right, machine_right).items()},
        **M.confusion_similarity(conf_h, conf_m, conf_h_counts, conf_m_counts),
        "crowd_offdiag_correlation": M.confusion_similarity(conf_crowd, conf_m)["offdiag_correlation"],
        **{f"chi2_{key}": value for key, value in M.chi2_error_test(conf_h_counts, conf_m_counts).items()},
    }

    human_agreement = agreement(votes_all)
    correct = {"machine": machine_right, "human": human_right}
    difficulty = {
        "by_machine_confidence": difficulty_bins(confidence, correct, bins),
        "spearman_confidence_vs_human_agreement": M.spearman(confidence, human_agreement),
        "votes_per_item_median": float(np.median(votes_all.sum(axis=1))),
    }
    if votes_all.sum(axis=1).max() > 1:
        difficulty["by_human_agreement"] = difficulty_bins(human_agreement, correct, bins)

    # ---- teams, out of fold
    def fit_threshold(fit_rows: np.ndarray, eval_rows: np.ndarray) -> np.ndarray:
        t = best_threshold(confidence[fit_rows], machine_pred[fit_rows], human_pred[fit_rows], labels[fit_rows])
        return np.full(len(eval_rows), t)

    thresholds = cross_fit(n, folds, seed, fit_threshold)
    defer_pred, deferred = threshold_defer(confidence, machine_pred, human_pred, thresholds)

    combiners = {"confusion": ConfusionCombiner(alpha=alpha), "loglinear": LogLinearCombiner()}
    team_preds = {}
    fitted: dict[str, list] = {name: [] for name in combiners}
    for name, combiner in combiners.items():
        def fit_predict(fit_rows: np.ndarray, eval_rows: np.ndarray, combiner=combiner, name=name) -> np.ndarray:
            combiner.fit(logits[fit_rows], votes[fit_rows], labels[fit_rows])
            if name == "confusion":
                fitted[name].append({"temperature": combiner.temperature_})
            else:
                fitted[name].append({"machine_weight": combiner.machine_weight_, "human_weight": combiner.human_weight_})
            return combiner.predict(logits[eval_rows], votes[eval_rows])

        team_preds[name] = cross_fit(n, folds, seed, fit_predict)
    best_team = max(team_preds, key=lambda name: float(np.mean(team_preds[name] == labels)))

    machine_acc = float(machine_right.mean())
    human_acc = float(human_right.mean())
    teams = [
        {"team": "machine alone", "accuracy": machine_acc, "human consulted": 0.0},
        {"team": f"human alone ({annotators or 'all'} vote{'s' if annotators != 1 else ''})", "accuracy": human_acc,
         "human consulted": 1.0},
        {"team": "defer to human below a confidence threshold", "accuracy": float(np.mean(defer_pred == labels)),
         "human consulted": float(deferred.mean())},
        {"team": ConfusionCombiner.name, "accuracy": float(np.mean(team_preds["confusion"] == labels)),
         "human consulted": 1.0},
        {"team": LogLinearCombiner.name, "accuracy": float(np.mean(team_preds["loglinear"] == labels)),
         "human consulted": 1.0},
        {"team": "oracle: whichever of the two is right", "accuracy": comparison["oracle_accuracy"], "human consulted": 1.0},
    ]
    for row in teams:
        row["gain over best single"] = row["accuracy"] - max(machine_acc, human_acc)

    fractions = [float(f) for f in fractions]
    curves = {
        "fractions": fractions,
        "defer_to_human": deferral_curve(confidence, machine_pred, human_pred, labels, fractions).tolist(),
        "consult_and_combine": consult_curve(confidence, machine_pred, team_preds[best_team], labels, fractions).tolist(),
        "combiner_used": combiners[best_team].name,
    }
    best_curve = max(max(curves["defer_to_human"]), max(curves["consult_and_combine"]))
    team_best = max(row["accuracy"] for row in teams[2:5])
    hardest = np.lexsort((human_agreement, confidence))[: min(10, n)]
    return {
        "rows": n,
        "classes": k,
        "annotators": annotators,
        "machine": {"accuracy": machine_acc, "per_class_error": M.per_class_error(conf_m).tolist(),
                    "confusion": conf_m.tolist(), "confusion_counts": conf_m_counts.tolist()},
        "human": {"accuracy": human_acc, "per_class_error": M.per_class_error(conf_h).tolist(),
                  "confusion": conf_h.tolist(), "confusion_counts": conf_h_counts.tolist(),
                  "crowd_plurality_accuracy": float(np.mean(np.argmax(votes_all, axis=1) == labels)),
                  "crowd_confusion": conf_crowd.tolist()},
        "comparison": comparison,
        "difficulty": difficulty,
        "teams": teams,
        "team_beats_both": bool(team_best > max(machine_acc, human_acc)),
        "best_team_accuracy": team_best,
        "best_curve_accuracy": float(best_curve),
        "fitted": {"thresholds": sorted(set(np.round(thresholds, 6).tolist())), **fitted},
        "curves": curves,
        "hardest_rows": [{"row": int(i), "label": int(labels[i]), "machine": int(machine_pred[i]),
                          "machine confidence": float(confidence[i]), "human": int(human_pred[i]),
                          "human agreement (all votes)": float(human_agreement[i])} for i in hardest],
    }
