"""Hybrid, time-aware retrieval: BM25 + MiniLM fused by reciprocal rank, filtered by date.

Lexical (bm25s) and dense (the index's vector store) candidate lists are fused with
reciprocal rank fusion, RRF(d) = sum_r 1 / (k_rrf + rank_r(d)) (Cormack et al., SIGIR 2009),
which needs no score calibration between the two. Time-awareness (FALM Sec. 3: "accurate
event registration by date and priority to recent updates") adds, relative to the question's
reference date:

1. a cut-off: nothing published after ``as_of`` is known to the question;
2. the window of the question's temporal expression (:mod:`~reliant.analytics.time_resolution`)
   as a hard filter on both retrievers; an event anchor ("before the merger") is dated first
   by retrieving the event itself;
3. priority to recent updates when the question asks for the latest state ("currently",
   "latest") or names no time at all: the fused score is multiplied by
   ``1 + recency_weight * 0.5 ** (age_days / half_life_days)``.

The baseline (``time_aware=False``) is the same retriever on the full question with none of
the three, so a comparison isolates time-awareness.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from reliant.analytics.config import RetrievalParams
from reliant.analytics.index import NewsIndex
from reliant.analytics.time_resolution import TimeIntent, TimeWindow, anchored_window, resolve_time

__all__ = ["Hit", "RetrievalParams", "Retrieved", "retrieve"]


@dataclass(frozen=True)
class Hit:
    row: int
    score: float
    lexical_rank: int | None
    dense_rank: int | None


@dataclass
class Retrieved:
    """The hits of one question and how time was read."""

    question: str
    intent: TimeIntent | None
    window: TimeWindow | None
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[int]:
        return [h.row for h in self.hits]


def _rank_lists(index: NewsIndex, text: str, params: RetrievalParams, start: dt.date | None,
                end: dt.date | None) -> tuple[list[int], list[int]]:
    lexical: list[int] = []
    dense: list[int] = []
    if params.retriever in ("hybrid", "lexical"):
        scores = index.lexical_scores(text)
        keep = scores > 0
        if start is not None:
            keep &= index.day_numbers >= start.toordinal()
        if end is not None:
            keep &= index.day_numbers <= end.toordinal()
        rows = np.flatnonzero(keep)
        lexical = rows[np.lexsort((rows, -scores[rows]))][: params.candidates].tolist()
    if params.retriever in ("hybrid", "dense"):
        dense, _ = index.store.search(index.embed_query(text), params.candidates, start, end)
        dense = dense.tolist()
    return lexical, dense


def _fuse(lexical: list[int], dense: list[int], k_rrf: int) -> dict[int, list]:
    fused: dict[int, list] = {}
    for name, ranking in (("lexical", lexical), ("dense", dense)):
        for rank, row in enumerate(ranking, start=1):
            entry = fused.setdefault(row, [0.0, None, None])
            entry[0] += 1.0 / (k_rrf + rank)
            entry[1 if name == "lexical" else 2] = rank
    return fused


def retrieve(index: NewsIndex, question: str, *, as_of: dt.date | str | None = None, time_aware: bool = True,
             params: RetrievalParams = RetrievalParams()) -> Retrieved:
    """The top ``params.k`` articles for ``question`` (see the module docstring)."""
    if not time_aware:
        lexical, dense = _rank_lists(index, question, params, None, None)
        fused = _fuse(lexical, dense, params.k_rrf)
        order = sorted(fused, key=lambda r: (-fused[r][0], r))[: params.k]
        return Retrieved(question, None, None, [Hit(r, fused[r][0], fused[r][1], fused[r][2]) for r in order])
    intent = resolve_time(question, as_of)
    notes: list[str] = []
    window = intent.window
    if intent.anchor is not None:
        event_rows = retrieve(index, intent.anchor.event, as_of=intent.as_of, time_aware=False,
                              params=replace(params, k=1))
        cut = [r for r in event_rows.rows() if index.articles[r].day <= intent.as_of]
        if cut:
            event = index.articles[cut[0]]
            window = anchored_window(intent.anchor, event.day, intent.as_of)
            notes.append(f"dated '{intent.anchor.event}' by article {event.id} ({event.day.isoformat()})")
        else:
            notes.append(f"could not date '{intent.anchor.event}'; no date filter applied")
    start = window.start if window is not None else None
    end = window.end if window is not None else intent.as_of
    if start is not None and end is not None and start > end:
        notes.append(f"the period asked about ({window.expression}) starts after the reference date "
                     f"{intent.as_of.isoformat()}: nothing can be known about it")
        return Retrieved(question, intent, window, [], notes)
    # Search the topic without its temporal words, which would only match articles that
    # happen to mention the year in their text (the window already says when).
    text = intent.topic if intent.topic.strip(" ?.!") else question
    lexical, dense = _rank_lists(index, text, params, start, end)
    fused = _fuse(lexical, dense, params.k_rrf)
    boost_recent = intent.prefer_recent or (window is None and intent.anchor is None)
    if boost_recent and params.recency_weight > 0:
        reference = intent.as_of.toordinal()
        for row, entry in fused.items():
            age = max(0, reference - int(index.day_numbers[row]))
            entry[0] *= 1.0 + params.recency_weight * 0.5 ** (age / params.half_life_days)
        if intent.prefer_recent:
            notes.append(f"the question asks for the latest state: recent sources (as of {intent.as_of}) rank higher")
    order = sorted(fused, key=lambda r: (-fused[r][0], r))[: params.k]
    return Retrieved(question, intent, window, [Hit(r, fused[r][0], fused[r][1], fused[r][2]) for r in order], notes)
