"""Numbers in, numbers out: retrieval recall@k, date accuracy, citation precision.

* recall@k = |gold ∩ top-k| / min(k, |gold|): the share of the gold articles that could fit in
  k slots which are there (1 when the top-k are all gold, even for a large gold set);
* date accuracy@k = share of the top-k articles published inside the question's gold period;
* citation precision = share of an answer's citations that point at a gold article;
  citation date accuracy = share of citations dated inside the gold period;
* supported rate = share of citations the support check accepts;
* faithful sentences (answer faithfulness, :mod:`~reliant.analytics.evaluation`) = share of an
  answer's sentences that carry a citation and whose every citation is supported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

__all__ = ["citation_precision", "date_accuracy", "recall_at_k", "summarize"]


def recall_at_k(retrieved: Sequence[str], gold: set[str], k: int) -> float:
    if not gold:
        raise ValueError("recall needs at least one gold id")
    return len(set(retrieved[:k]) & gold) / min(k, len(gold))


def date_accuracy(days: Sequence[dt.date], start: dt.date, end: dt.date, k: int) -> float:
    top = list(days[:k])
    return sum(start <= d <= end for d in top) / len(top) if top else 0.0


def citation_precision(cited: Sequence[str], gold: set[str]) -> float | None:
    return sum(c in gold for c in cited) / len(cited) if cited else None


def summarize(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None
