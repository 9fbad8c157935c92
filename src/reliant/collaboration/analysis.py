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
    consult_curve,
    cross_fit,
    deferral_curve,
)
from reliant.collaboration.deferral import (
    DEFERRAL_METHODS,
    DeferralData,
    cross_fitted_deferral,
    deferral_parts,
    make_deferral,
)
from reliant.collaboration.votes import agreement, plurality, sample_annotators
from reliant.core.arrays import confusion_matrix, log_softmax, softmax
from reliant.core.errors import ConfigError, check_number

__all__ = ["DEFAULT_DEFERRAL", "ai_ai_teams", "analyze", "difficulty_bins"]

DEFAULT_DEFERRAL: tuple[str, ...] = ("confidence", "compare_confidence", "realizable_surrogate")


def _rule_features(logits: np.ndarray, features: np.ndarray | None) -> np.ndarray:
    """What a learned deferral rule sees: the machine's log-probabilities (floored, so a
    probability of 0 stays finite) and any given features."""
    machine = np.maximum(log_softmax(logits), np.log(1e-6))
    return machine if features is None else np.hstack([machine, np.asarray(features, dtype=np.float64)])


def ai_ai_teams(logits_a: np.ndarray, logits_b: np.ndarray, labels: np.ndarray, features: np.ndarray | None = None,
                *, deferral_methods: Sequence[str] = DEFAULT_DEFERRAL, folds: int = 2, seed: int = 0,
                budget: float | None = None) -> dict:
    """Two machines as a team (the paper's AI-AI baseline for human-AI teams): machine A defers
    to machine B with every registered rule (cross-fitted, as for the human), the average of
    their probabilities, the more confident of the two, and the oracle; plus how their
    mistakes overlap."""
    pred_a, pred_b = np.argmax(logits_a, axis=1), np.argmax(logits_b, axis=1)
    right_a, right_b = pred_a == labels, pred_b == labels
    probs_a, probs_b = softmax(logits_a), softmax(logits_b)
    data = DeferralData(logits_a, _rule_features(logits_a, features), pred_b, labels)
    decisions = cross_fitted_deferral(data, deferral_methods, folds=folds, seed=seed, budget=budget)
    more_confident = np.where(probs_b.max(axis=1) > probs_a.max(axis=1), pred_b, pred_a)
    acc_a, acc_b = float(right_a.mean()), float(right_b.mean())
    teams = [{"team": "machine A alone", "accuracy": acc_a, "machine B consulted": 0.0},
             {"team": "machine B alone", "accuracy": acc_b, "machine B consulted": 1.0}]
    for name, d in decisions.items():
        parts = deferral_parts(d["deferred"], pred_a, pred_b, labels)
        teams.append({"team": f"A defers to B: {DEFERRAL_METHODS[name].label}", "accuracy": parts["accuracy"],
                      "machine B consulted": parts["deferred"]})
    teams += [
        {"team": "average of the two machines' probabilities", "accuracy": float(np.mean(
            np.argmax(probs_a + probs_b, axis=1) == labels)), "machine B consulted": 1.0},
        {"team": "the more confident machine answers", "accuracy": float(np.mean(more_confident == labels)),
         "machine B consulted": float(np.mean(more_confident != pred_a))},
        {"team": "oracle: whichever machine is right", "accuracy": M.oracle_accuracy(right_a, right_b),
         "machine B consulted": 1.0},
    ]
    for row in teams:
        row["gain over best single"] = row["accuracy"] - max(acc_a, acc_b)
    return {"machine_b_accuracy": acc_b, "error_consistency": M.error_consistency(right_a, right_b),
            "both_wrong": float(np.mean(~right_a & ~right_b)),
            "best_team_accuracy": max(row["accuracy"] for row in teams[2:-1]), "teams": teams}


def difficulty_bins(score: np.ndarray, correct: dict[str, np.ndarray], bins: int = 5) -> list[dict]:
    """Rows cut into at most ``bins`` quantile bins of ``score`` (low = hard); accuracy of each
    source per bin.

    Each row's quantile is the mid-rank of its score (``(average rank - 1/2) / n``, the same
    for every row of a tie), and bin ``i`` holds the quantiles in ``[i / bins, (i + 1) / bins)``.
    So rows with the same score always share a bin, and the bins stay intervals of the score:
    when many rows tie (e.g. CIFAR-10H images every annotator agreed on), that group fills
    its own bin and the bins it spans are not created, rather than one group of identical
    scores being split by row order. Each entry records its score range, size and share.
    """
    from scipy.stats import rankdata

    score = np.asarray(score, dtype=np.float64)
    mid_quantile = (rankdata(score, method="average") - 0.5) / len(score)
    assignment = np.minimum((mid_quantile * bins).astype(np.int64), bins - 1)
    rows = []
    for i in range(bins):
        part = np.flatnonzero(assignment == i)
        if len(part) == 0:
            continue
        entry = {"bin": len(rows) + 1, "rows": int(len(part)), "score from": float(score[part].min()),
                 "score to": float(score[part].max())}
        for name, values in correct.items():
            entry[name] = float(np.mean(values[part]))
        rows.append(entry)
    for entry in rows:
        entry["share of rows"] = entry["rows"] / len(score)
    return rows


def check_params(*, annotators: int, folds: int, alpha: float, bins: int, budget: float | None = None,
                 deferral_methods: Sequence[str] = DEFAULT_DEFERRAL) -> None:
    """One-line errors for out-of-range options of :func:`analyze` (checked before any work)."""
    check_number(annotators, "annotators", low=0, integer=True)
    check_number(folds, "folds", low=2, integer=True)
    check_number(alpha, "alpha", low=0, low_open=True)
    check_number(bins, "bins", low=1, integer=True)
    if budget is not None:
        check_number(budget, "budget", low=0, high=1)
    if not deferral_methods:
        raise ConfigError("give at least one deferral method", field="deferral_methods")
    for name in deferral_methods:
        make_deferral(name)


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
    deferral_methods: Sequence[str] = DEFAULT_DEFERRAL,
    budget: float | None = None,
    features: np.ndarray | None = None,
    second_machine_logits: np.ndarray | None = None,
    seed: int = 0,
) -> dict:
    """Error analysis and teams for machine logits (n x K), human vote counts (n x K) and labels.

    ``deferral_methods`` are names of :data:`~reliant.collaboration.deferral.DEFERRAL_METHODS`,
    each cross-fitted (``folds``) and capped at a ``budget`` share of deferred rows when given;
    ``features`` (n x d) are what the learned rules see besides the machine's
    log-probabilities; ``second_machine_logits`` adds the AI-AI teams (``result["ai_ai"]``).

    Returns a dict of plain numbers and arrays: ``machine`` / ``human`` (accuracy, per-class
    error, confusion), ``comparison`` (kappa, error consistency, overlap, oracle accuracy,
    confusion similarity, chi-square test), ``difficulty`` (bins and rank correlation),
    ``teams`` (out-of-fold accuracy of each team), ``curves`` (accuracy vs share deferred).
    """
    check_params(annotators=annotators, folds=folds, alpha=alpha, bins=bins, budget=budget,
                 deferral_methods=deferral_methods)
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
    deferral_data = DeferralData(logits, _rule_features(logits, features), human_pred, labels)
    decisions = cross_fitted_deferral(deferral_data, deferral_methods, folds=folds, seed=seed, budget=budget)
    deferral = {name: {"label": DEFERRAL_METHODS[name].label,
                       **deferral_parts(d["deferred"], machine_pred, human_pred, labels),
                       "thresholds": d["thresholds"]} for name, d in decisions.items()}

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
    budget_note = "" if budget is None else f", budget {budget:.0%}"
    teams = [
        {"team": "machine alone", "accuracy": machine_acc, "human consulted": 0.0},
        {"team": f"human alone ({annotators or 'all'} vote{'s' if annotators != 1 else ''})", "accuracy": human_acc,
         "human consulted": 1.0},
    ]
    teams += [{"team": f"defer: {entry['label']}{budget_note}", "accuracy": entry["accuracy"],
               "human consulted": entry["deferred"]} for entry in deferral.values()]
    teams += [
        {"team": ConfusionCombiner.name, "accuracy": float(np.mean(team_preds["confusion"] == labels)),
         "human consulted": 1.0},
        {"team": LogLinearCombiner.name, "accuracy": float(np.mean(team_preds["loglinear"] == labels)),
         "human consulted": 1.0},
        {"team": "oracle: whichever of the two is right", "accuracy": comparison["oracle_accuracy"],
         "human consulted": 1.0},
    ]
    for row in teams:
        row["gain over best single"] = row["accuracy"] - max(machine_acc, human_acc)

    fractions = [float(f) for f in fractions]
    # Curves rank rows by each rule's out-of-fold score; the curve's maximum is still chosen
    # on the very rows it is scored on (an in-sample choice of the share), so it is reported
    # as such and never as the headline.
    curves = {
        "fractions": fractions,
        "defer_to_human": deferral_curve(confidence, machine_pred, human_pred, labels, fractions).tolist(),
        "consult_and_combine": consult_curve(confidence, machine_pred, team_preds[best_team], labels, fractions).tolist(),
        "combiner_used": combiners[best_team].name,
        "by_method": {name: deferral_curve(-d["scores"], machine_pred, human_pred, labels, fractions).tolist()
                      for name, d in decisions.items()},
    }
    best_curve = max(max(curves["defer_to_human"]), max(curves["consult_and_combine"]))
    team_best = max(row["accuracy"] for row in teams[2:-1])
    best_deferral = max(deferral, key=lambda name: deferral[name]["accuracy"])
    ai_ai = None
    if second_machine_logits is not None:
        ai_ai = ai_ai_teams(logits, np.asarray(second_machine_logits, dtype=np.float64), labels, features,
                            deferral_methods=deferral_methods, folds=folds, seed=seed, budget=budget)
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
        "deferral": deferral,
        "best_deferral_method": best_deferral,
        "budget": budget,
        # the maximum over the curves' shares, chosen on the rows it is scored on: optimistic
        "best_curve_accuracy": float(best_curve),
        "best_curve_accuracy_is_in_sample": True,
        # the confidence rule stores -t (defer when -confidence > -t): report t itself
        "fitted": {"thresholds": sorted(set(np.round([-t for t in deferral.get("confidence", {}).get("thresholds", [])],
                                                     6).tolist())),
                   **fitted},
        "curves": curves,
        "ai_ai": ai_ai,
        "hardest_rows": [{"row": int(i), "label": int(labels[i]), "machine": int(machine_pred[i]),
                          "machine confidence": float(confidence[i]), "human": int(human_pred[i]),
                          "human agreement (all votes)": float(human_agreement[i])} for i in hardest],
    }
