"""Run-directory output of a FEWL scoring: per-answer scores, metrics, tables and plots.

Plots: FEWL score distributions (per candidate model, or per gold degree when gold labels are
given), the reference LLMs' expertise weights, ROC curves of FEWL and the baselines against
gold labels, and the models' mean FEWL against their gold hallucination rate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from reliant.core.data import save_records
from reliant.core.plotting import PALETTE, new_figure
from reliant.hallucination.scoring import FEWLResult

__all__ = ["result_metrics", "select_examples", "write_report"]

METHOD_LABELS = {
    "fewl": "FEWL",
    "single_reference": "single reference",
    "reference_average": "reference average",
    "self_consistency": "self-consistency",
    "selfcheck_ngram": "SelfCheckGPT unigram",
    "selfcheck_nli": "SelfCheckGPT NLI",
    "selfcheck_prompt": "SelfCheckGPT prompt",
}


def select_examples(result: FEWLResult, k: int | None = None, *, model: str | None = None) -> list[dict[str, Any]]:
    """FEWL's hallucination-reduction step (paper §5): pick answers to learn from by score.

    For every question the highest-FEWL candidate answer (of ``model`` only, when given) that
    FEWL does not flag as hallucinated (score at or above the question's threshold) is kept;
    the kept answers are sorted by FEWL and the best ``k`` returned. They serve as in-context
    examples or as label-free supervised fine-tuning data, as in the paper's ICL and SFT
    experiments.
    """
    models = [model] if model is not None else result.models
    rows = []
    for q in range(len(result.qa)):
        best = max(models, key=lambda m: (result.scores[m][q], m))
        score = float(result.scores[best][q])
        if not score >= result.thresholds[q]:
            continue
        rows.append({"id": result.qa.ids[q], "question": result.qa.questions[q], "answer": result.qa.candidates[best][q],
                     "model": best, "fewl": score})
    rows.sort(key=lambda r: (-r["fewl"], r["id"]))
    return rows if k is None else rows[:k]


def result_metrics(result: FEWLResult) -> dict[str, Any]:
    """What ``metrics.json`` records: sizes, per-model table, mean weights, evaluation vs gold."""
    metrics: dict[str, Any] = {
        "n_questions": len(result.qa),
        "n_models": len(result.models),
        "n_references": len(result.qa.reference_names),
        "models": result.model_table(),
        "reference_weights": result.mean_weights(),
        "similarity": result.similarity,
        "threshold": str(result.params.threshold),
    }
    if result.has_threshold:
        metrics["mean_threshold"] = float(np.mean(result.thresholds))
    if result.diversity is not None:
        metrics["reference_diversity"] = dict(zip(result.qa.reference_names, map(float, result.diversity)))
    if result.evaluation:
        metrics["evaluation"] = result.evaluation
        gold_degrees = _gold_degree_means(result)
        if gold_degrees:
            metrics["mean_fewl_by_gold_degree"] = gold_degrees
    return metrics


def _gold_degree_means(result: FEWLResult) -> dict[str, float]:
    scores, gold = _pooled(result, "fewl")
    out = {}
    for degree in sorted(set(gold[np.isfinite(gold)].tolist())):
        out[f"{degree:g}"] = float(np.mean(scores[gold == degree]))
    return out


def _pooled(result: FEWLResult, method: str) -> tuple[np.ndarray, np.ndarray]:
    by_model = result.scores if method == "fewl" else result.baselines.get(method, {})
    models = [m for m in by_model if m in result.qa.gold]
    if not models:
        return np.zeros(0), np.zeros(0)
    scores = np.concatenate([by_model[m] for m in models])
    gold = np.concatenate([result.qa.gold[m] for m in models])
    keep = np.isfinite(scores) & np.isfinite(gold)
    return scores[keep], gold[keep]


def _score_distributions(run, result: FEWLResult, prefix: str) -> None:
    fig, ax = new_figure(6.4, 3.6)
    everything = np.concatenate(list(result.scores.values()))
    bins = np.linspace(float(everything.min()), float(everything.max()) + 1e-9, 31)
    scores, gold = _pooled(result, "fewl")
    if gold.size and len(set(gold.tolist())) > 1:
        for i, degree in enumerate(sorted(set(gold.tolist()))):
            label = {0.0: "not hallucinated", 0.5: "half hallucinated", 1.0: "hallucinated"}.get(degree, f"degree {degree:g}")
            ax.hist(scores[gold == degree], bins=bins, alpha=0.55, color=PALETTE[[2, 1, 3][i % 3]], label=f"{label} (gold)")
        caption = "FEWL of every candidate answer, split by the held-out gold label (never seen by FEWL)."
    else:
        for i, (model, values) in enumerate(result.scores.items()):
            ax.hist(values, bins=bins, alpha=0.5, color=PALETTE[i % len(PALETTE)], label=model)
        caption = "FEWL of every candidate answer, per candidate model."
    if result.has_threshold:
        ax.axvline(float(np.median(result.thresholds)), color="black", linestyle="--", linewidth=1,
                   label="median threshold (uncalibrated)")
    ax.set_xlabel("FEWL score (higher = more truthful)")
    ax.set_ylabel("answers")
    ax.legend(fontsize=7)
    run.add_figure(f"{prefix}FEWL score distribution", fig, caption=caption)


def _expertise_plot(run, result: FEWLResult, prefix: str) -> None:
    names = result.qa.reference_names
    fig, ax = new_figure(6.4, 3.4)
    data = [result.weights[:, i] for i in range(len(names))]
    ax.boxplot(data, showfliers=False)
    ax.scatter(np.arange(1, len(names) + 1), result.weights.mean(axis=0), color=PALETTE[3], zorder=3, label="mean")
    ax.axhline(1.0 / max(1, len(names)), color="grey", linestyle=":", linewidth=1, label="uniform")
    ax.set_xticks(np.arange(1, len(names) + 1))
    ax.set_xticklabels(names, rotation=20, fontsize=8)
    ax.set_ylabel("expertise weight λ_i(x)")
    ax.legend(fontsize=7)
    run.add_figure(f"{prefix}Reference expertise weights", fig,
                   caption="Per-question expertise weight of each reference LLM (from IW/CO answers); box = quartiles.")


def _roc_plot(run, result: FEWLResult, prefix: str) -> None:
    from sklearn.metrics import roc_curve

    fig, ax = new_figure(4.8, 4.2)
    drew = False
    for i, method in enumerate(["fewl", *result.baselines]):
        scores, gold = _pooled(result, method)
        labels = gold >= 0.5
        if not scores.size or labels.all() or not labels.any():
            continue
        fpr, tpr, _ = roc_curve(labels, -scores)
        auc = result.evaluation.get(method, {}).get("auroc", math.nan)
        ax.plot(fpr, tpr, color=PALETTE[i % len(PALETTE)], label=f"{METHOD_LABELS.get(method, method)} (AUROC {auc:.3f})")
        drew = True
    if not drew:
        return
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=7, loc="lower right")
    run.add_figure(f"{prefix}Detecting hallucinated answers (ROC vs gold)", fig,
                   caption="Positive = gold-hallucinated answer (degree ≥ 0.5); each method's score negated.")


def _ranking_plot(run, result: FEWLResult, prefix: str) -> None:
    models = [m for m in result.models if m in result.qa.gold and np.isfinite(result.qa.gold[m]).any()]
    if len(models) < 2:
        return
    fig, ax = new_figure(5.2, 3.8)
    rates = [float(np.nanmean(result.qa.gold[m])) for m in models]
    means = [float(np.mean(result.scores[m])) for m in models]
    ax.scatter(rates, means, color=PALETTE[0])
    for m, x, y in zip(models, rates, means):
        ax.annotate(m, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("gold hallucination rate")
    ax.set_ylabel("mean FEWL")
    rho = result.evaluation.get("fewl", {}).get("spearman", math.nan)
    run.add_figure(f"{prefix}Model ranking vs gold", fig, caption=f"Spearman ρ (mean FEWL vs −gold rate) = {rho:.3f}.")


def evaluation_rows(result: FEWLResult) -> list[dict[str, Any]]:
    return [{"method": METHOD_LABELS.get(name, name), **values} for name, values in result.evaluation.items()]


def write_report(run, result: FEWLResult, *, prefix: str = "", files: bool = True, select: int = 0) -> dict[str, Any]:
    """Add FEWL's tables, plots and (with ``files``) ``scores.jsonl``/``weights.jsonl`` to ``run``."""
    metrics = result_metrics(result)
    if files:
        save_records(result.question_rows(), run.file("scores.jsonl"))
        weights = [
            {"id": result.qa.ids[q], **{name: float(result.weights[q, i]) for i, name in enumerate(result.qa.reference_names)}}
            for q in range(len(result.qa))
        ]
        save_records(weights, run.file("weights.jsonl"))
        if result.sentences:
            save_records(result.sentences, run.file("sentences.jsonl"))
        if select:
            chosen = select_examples(result, select)
            save_records(chosen, run.file("selected.jsonl"))
            metrics["selected"] = len(chosen)
            if result.qa.gold and chosen:
                degrees = [result.qa.gold[r["model"]][result.qa.ids.index(r["id"])] if r["model"] in result.qa.gold else math.nan
                           for r in chosen]
                metrics["selected_gold_hallucination_rate"] = float(np.nanmean(degrees)) if np.isfinite(degrees).any() else math.nan
    run.add_table(f"{prefix}Candidate models ranked by FEWL", result.model_table(),
                  caption=f"Rank 1 = least hallucinating. Similarity: {result.similarity}. Baseline columns are "
                          "'higher = more truthful' (SelfCheckGPT scores negated)."
                          + (" Flagged rate = share of answers below their question's threshold, which is not "
                             "calibrated without gold labels." if result.has_threshold else ""))
    run.add_table(f"{prefix}Reference LLMs", [
        {"reference": name, "mean expertise weight": float(result.weights[:, i].mean()),
         "mean raw expertise": float(result.expertise[:, i].mean()),
         **({"answer diversity": float(result.diversity[i])} if result.diversity is not None else {})}
        for i, name in enumerate(result.qa.reference_names)
    ], caption="Answer diversity = 1 − mean similarity of the reference's answers to neighbouring questions; "
               "a reference that says the same thing everywhere gets ≈ 0 and, with diversity weighting, ≈ no weight.")
    if result.evaluation:
        run.add_table(f"{prefix}Agreement with held-out gold labels", evaluation_rows(result),
                      caption="spearman/kendall: model ranking vs −gold rate; auroc: hallucinated-answer detection.")
    _score_distributions(run, result, prefix)
    _expertise_plot(run, result, prefix)
    if result.evaluation:
        _roc_plot(run, result, prefix)
        _ranking_plot(run, result, prefix)
    return metrics
