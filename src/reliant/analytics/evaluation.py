"""Time-aware vs time-unaware retrieval and answers on questions with gold ids and periods.

Both arms use the same index, the same hybrid retriever and the same answerer; the only
difference is ``time_aware`` (:func:`~reliant.analytics.retrieval.retrieve`). Metrics are in
:mod:`~reliant.analytics.metrics`.
"""

from __future__ import annotations

from reliant.analytics.answer import Answerer, answer_question
from reliant.analytics.config import RetrievalParams
from reliant.analytics.index import NewsIndex
from reliant.analytics.metrics import citation_precision, date_accuracy, recall_at_k, summarize
from reliant.analytics.retrieval import retrieve
from reliant.core.progress import track

__all__ = ["evaluate"]

ARMS = {"time_aware": True, "baseline": False}


def evaluate(index: NewsIndex, questions: list[dict], *, ks: list[int], params: RetrievalParams = RetrievalParams(),
             answerer: Answerer | None = None, max_sentences: int = 3) -> dict:
    """Per-question and mean metrics of both arms (see the module docstring); without an
    ``answerer`` only retrieval is scored."""
    from dataclasses import replace

    k_max = max(ks)
    search = replace(params, k=max(k_max, params.k))
    per_question = []
    answers = answerer is not None
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
                                         time_aware=aware, params=params, split=False, max_sentences=max_sentences)
                cited = answer.citations()
                sentences = [s for p in answer.parts for s in p.sentences]
                row[f"{arm}.answer"] = answer.text()
                row[f"{arm}.citation_precision"] = citation_precision([c.article_id for c in cited], q["gold"])
                row[f"{arm}.citation_date_accuracy"] = (
                    sum(q["gold_start"] <= c.day <= q["gold_end"] for c in cited) / len(cited) if cited else None)
                row[f"{arm}.supported"] = sum(c.supported for c in cited) / len(cited) if cited else None
                # Faithfulness: the share of the answer's sentences whose every citation is supported
                # (an uncited sentence counts as unfaithful: nothing backs it).
                row[f"{arm}.faithful_sentences"] = (sum(bool(s.citations) and all(c.supported for c in s.citations)
                                                        for s in sentences) / len(sentences) if sentences else None)
        per_question.append(row)
    names = [f"recall@{k}" for k in ks] + [f"date_accuracy@{k}" for k in ks]
    if answers:
        names += ["citation_precision", "citation_date_accuracy", "supported", "faithful_sentences"]
    summary = {arm: {n: summarize([r.get(f"{arm}.{n}") for r in per_question]) for n in names} for arm in ARMS}
    table = [{"metric": n, "time-aware": summary["time_aware"][n], "baseline (no time)": summary["baseline"][n]}
             for n in names]
    kinds = sorted({r["kind"] for r in per_question if r["kind"]})
    by_kind = [{"kind": kind, "questions": sum(r["kind"] == kind for r in per_question),
                **{f"{arm} recall@{k_max}": summarize([r[f"{arm}.recall@{k_max}"] for r in per_question
                                                       if r["kind"] == kind]) for arm in ARMS}}
               for kind in kinds]
    return {"per_question": per_question, "summary": summary, "table": table, "by_kind": by_kind}
