"""Time-aware vs time-unaware retrieval and answers on questions with gold ids and periods.

Both arms use the same index, the same hybrid retriever and the same answerer; the only
difference is ``time_aware`` (:func:`~reliant.analytics.retrieval.retrieve`). Metrics are in
:mod:`~reliant.analytics.metrics`.
"""

from __future__ import annotations

from reliant.analytics.answer import ExtractiveAnswerer, answer_question
from reliant.analytics.config import RetrievalParams
from reliant.analytics.index import NewsIndex
from reliant.analytics.metrics import citation_precision, date_accuracy, recall_at_k, summarize
from reliant.analytics.retrieval import retrieve
from reliant.core.progress import track

__all__ = ["evaluate"]

ARMS = {"time_aware": True, "baseline": False}


def evaluate(index: NewsIndex, questions: list[dict], *, ks: list[int], params: RetrievalParams = RetrievalParams(),
             answers: bool = True) -> dict:
    """Per-question and mean metrics of both arms (see the module docstring)."""
    from dataclasses import replace

    k_max = max(ks)
    search = replace(params, k=max(k_max, params.k))
    per_question = []
    answerer = ExtractiveAnswerer()
    for q in track(questions, "evaluating questions"):
        row = {"question": q["question"], "as_of": q["as_of"].isoformat(), "kind": q["kind"]}
        for arm, aware in ARMS.items():
            hits = retrieve(index, q["question"], as_of=q["as_of"], time_aware=aware, params=search).rows()
            ids = [index.articles[r].id for r in hits]
            days = [index.articles[r].day for r in hits]
            for k in ks:
                row[f"{arm}.recall@{k}"] = recall_at_k(ids, q["gold"], k)
                row[f"{arm}.date_accuracy@{k}"] = date_accuracy(days, q["gold_start"], q["gold_end"], k)
            if answers:
                answer = answer_question(index, q["question"], as_of=q["as_of"], answerer=answerer,
                                         time_aware=aware, params=params, split=False)
                cited = answer.citations()
                row[f"{arm}.citation_precision"] = citation_precision([c.article_id for c in cited], q["gold"])
                row[f"{arm}.citation_date_accuracy"] = (
                    sum(q["gold_start"] <= c.day <= q["gold_end"] for c in cited) / len(cited) if cited else None)
                row[f"{arm}.supported"] = sum(c.supported for c in cited) / len(cited) if cited else None
        per_question.append(row)
    names = [f"recall@{k}" for k in ks] + [f"date_accuracy@{k}" for k in ks]
    if answers:
        names += ["citation_precision", "citation_date_accuracy", "supported"]
    summary = {arm: {n: summarize([r.get(f"{arm}.{n}") for r in per_question]) for n in names} for arm in ARMS}
    table = [{"metric": n, "time-aware": summary["time_aware"][n], "baseline (no time)": summary["baseline"][n]}
             for n in names]
    kinds = sorted({r["kind"] for r in per_question if r["kind"]})
    by_kind = [{"kind": kind, "questions": sum(r["kind"] == kind for r in per_question),
                **{f"{arm} recall@{k_max}": summarize([r[f"{arm}.recall@{k_max}"] for r in per_question
                                                       if r["kind"] == kind]) for arm in ARMS}}
               for kind in kinds]
    return {"per_question": per_question, "summary": summary, "table": table, "by_kind": by_kind}
