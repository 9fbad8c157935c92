"""Answers built from retrieved passages, every sentence cited as [article id, date].

:func:`answer_question` decomposes the question (:mod:`~reliant.analytics.decompose`),
retrieves for each part with time-awareness (:mod:`~reliant.analytics.retrieval`), lets the
chosen answerer write cited sentences, and checks each citation
(:mod:`~reliant.analytics.support`). Answerers form a registry:

* ``extractive`` (default, no LLM): the passage sentences closest to the question (MiniLM
  cosine plus the share of the question's content words they contain), at most one per
  article, each citing its article. Newest first when the question asks for the latest state,
  otherwise in date order, so the answer reads as a timeline.
* ``llm``: a model through :func:`reliant.core.llm.make_backend` (``smollm2`` offline, any
  ``openai:<model>@<url>`` server) gets numbered passages with their ids and dates and is asked
  to end every sentence with the number of its source, ``[n]``. The markers become citations;
  a sentence without one is kept and shown as uncited. The model's text is only ever read.

Every answer states the dates of the facts it uses (each citation carries its article's day),
and when the cited sources span more than one day the newest as of the question's date is
named as the one that holds.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from reliant.analytics.decompose import decompose
from reliant.analytics.index import NewsIndex
from reliant.analytics.retrieval import RetrievalParams, Retrieved, retrieve
from reliant.analytics.support import content_words, split_sentences, support

__all__ = ["ANSWERERS", "Answer", "Citation", "CitedSentence", "SubAnswer", "answer_question", "make_answerer"]

ANSWERERS: dict[str, type[Answerer]] = {}


def register_answerer(cls: type[Answerer]) -> type[Answerer]:
    ANSWERERS[cls.name] = cls
    return cls


@dataclass
class Citation:
    article_id: str
    day: dt.date
    supported: bool = True
    overlap: float = 1.0

    def label(self) -> str:
        return f"[{self.article_id}, {self.day.isoformat()}]"


@dataclass
class CitedSentence:
    text: str
    citations: list[Citation] = field(default_factory=list)

    def render(self) -> str:
        marks = " ".join(c.label() + ("" if c.supported else " (unsupported)") for c in self.citations)
        return f"{self.text} {marks or '(uncited)'}"


@dataclass
class SubAnswer:
    question: str
    retrieved: Retrieved
    sentences: list[CitedSentence]
    notes: list[str] = field(default_factory=list)


@dataclass
class Answer:
    question: str
    as_of: dt.date
    answerer: str
    parts: list[SubAnswer]

    def text(self) -> str:
        blocks = []
        for part in self.parts:
            lines = ([f"{part.question}"] if len(self.parts) > 1 else []) + [s.render() for s in part.sentences]
            lines += [f"({note})" for note in part.notes]
            blocks.append("\n".join(lines) if part.sentences else "\n".join(lines + ["No source in the index answers this."]))
        return "\n\n".join(blocks)

    def citations(self) -> list[Citation]:
        return [c for part in self.parts for s in part.sentences for c in s.citations]

    def to_json(self, index: NewsIndex) -> dict:
        def article(row: int) -> dict:
            a = index.articles[row]
            return {"id": a.id, "date": a.day.isoformat(), "title": a.title, "url": a.url}

        return {
            "question": self.question, "as_of": self.as_of.isoformat(), "answerer": self.answerer,
            "parts": [{
                "question": p.question,
                "time": p.retrieved.intent.describe() if p.retrieved.intent else "time-unaware",
                "window": None if p.retrieved.window is None else
                [p.retrieved.window.start and p.retrieved.window.start.isoformat(),
                 p.retrieved.window.end and p.retrieved.window.end.isoformat()],
                "sentences": [{"text": s.text, "citations": [
                    {"id": c.article_id, "date": c.day.isoformat(), "supported": c.supported,
                     "overlap": round(c.overlap, 3)} for c in s.citations]} for s in p.sentences],
                "sources": [article(h.row) for h in p.retrieved.hits],
                "notes": p.notes,
            } for p in self.parts],
            "text": self.text(),
        }


class Answerer(ABC):
    """Writes cited sentences for one sub-question from its retrieved articles."""

    name = ""
    label = ""

    @abstractmethod
    def write(self, index: NewsIndex, question: str, retrieved: Retrieved, max_sentences: int) -> list[CitedSentence]:
        ...

    def close(self) -> None:
        pass


def _embed(index: NewsIndex, texts: list[str]) -> np.ndarray:
    from reliant.core.embeddings import embed

    return embed(texts, index.meta["embedder"], show_progress=False)


def _candidate_sentences(index: NewsIndex, rows: list[int], per_article: int = 12) -> list[tuple[int, str]]:
    out = []
    for row in rows:
        article = index.articles[row]
        sentences = [s for s in split_sentences(article.text) if 5 <= len(s.split()) <= 80][:per_article]
        out += [(row, s) for s in (sentences or [article.title])]
    return out


@register_answerer
class ExtractiveAnswerer(Answerer):
    name = "extractive"
    label = "extractive (no LLM)"

    def write(self, index, question, retrieved, max_sentences):
        rows = retrieved.rows()
        if not rows:
            return []
        candidates = _candidate_sentences(index, rows)
        topic = retrieved.intent.topic if retrieved.intent is not None and retrieved.intent.topic else question
        vectors = _embed(index, [topic] + [s for _, s in candidates])
        cosine = vectors[1:] @ vectors[0]
        words = content_words(topic)
        overlap = np.array([len(words & content_words(s)) / max(1, len(words)) for _, s in candidates])
        # Retrieval rank matters too: a sentence of the best article beats a lookalike in the 8th.
        rank_of = {row: rank for rank, row in enumerate(rows)}
        prior = np.array([1.0 / (1 + rank_of[row]) for row, _ in candidates])
        score = 0.6 * cosine + 0.3 * overlap + 0.1 * prior
        chosen: list[int] = []
        used_rows: set[int] = set()
        for i in np.lexsort((np.arange(len(score)), -score)):
            row = candidates[i][0]
            if row not in used_rows:
                chosen.append(int(i))
                used_rows.add(row)
            if len(chosen) == max_sentences:
                break
        newest_first = retrieved.intent is not None and retrieved.intent.prefer_recent
        chosen.sort(key=lambda i: (index.articles[candidates[i][0]].day, i), reverse=newest_first)
        return [CitedSentence(candidates[i][1], [Citation(index.articles[candidates[i][0]].id,
                                                          index.articles[candidates[i][0]].day)]) for i in chosen]


@register_answerer
class LLMAnswerer(Answerer):
    name = "llm"
    label = "LLM (core.llm backend)"
    system = ("You answer questions about business news using only the numbered sources. Write at most {n} short "
              "sentences. End every sentence with the number of the source it comes from in square brackets, "
              "like [2]. If the sources do not answer the question, say so.")

    def __init__(self, spec: str = "smollm2", max_new_tokens: int = 160, seed: int = 0) -> None:
        from reliant.core.llm import make_backend

        self.backend = make_backend(spec)
        self.max_new_tokens = max_new_tokens
        self.seed = seed

    def write(self, index, question, retrieved, max_sentences):
        rows = retrieved.rows()[:5]
        if not rows:
            return []
        candidates = _candidate_sentences(index, rows, per_article=4)
        sources = []
        for n, row in enumerate(rows, start=1):
            a = index.articles[row]
            lead = " ".join(s for r, s in candidates if r == row)
            sources.append(f"[{n}] ({a.id}, {a.day.isoformat()}) {a.title}. {lead}")
        messages = [{"role": "system", "content": self.system.format(n=max_sentences)},
                    {"role": "user", "content": "Sources:\n" + "\n".join(sources) + f"\n\nQuestion: {question}"}]
        reply = self.backend.chat([messages], max_new_tokens=self.max_new_tokens, temperature=0.0, seed=self.seed)[0][0]
        out = []
        for sentence in split_sentences(reply)[: max_sentences + 2]:
            marks = [int(m) for m in re.findall(r"\[(\d+)\]", sentence)]
            text = re.sub(r"\s*\[\d+(?:\s*,\s*\d+)*\]", "", sentence).strip()
            if len(text.split()) < 3:
                continue
            cited = [rows[m - 1] for m in dict.fromkeys(marks) if 1 <= m <= len(rows)]
            out.append(CitedSentence(text, [Citation(index.articles[r].id, index.articles[r].day) for r in cited]))
        return out[:max_sentences]

    def close(self):
        self.backend.close()


def make_answerer(name: str, *, llm: str = "smollm2", max_new_tokens: int = 160, seed: int = 0) -> Answerer:
    if name == "llm":
        return LLMAnswerer(llm, max_new_tokens=max_new_tokens, seed=seed)
    return ANSWERERS[name]()


def answerer_of(params, seed: int = 0) -> Answerer:
    """The answerer of a :class:`~reliant.analytics.config.AnswerParams` section."""
    return make_answerer(params.answerer, llm=params.answer_llm, max_new_tokens=params.max_new_tokens, seed=seed)


def _check_citations(index: NewsIndex, sentences: list[CitedSentence]) -> None:
    def embed(texts):
        return _embed(index, list(texts))

    for sentence in sentences:
        for citation in sentence.citations:
            article = index.articles[index.row_of[citation.article_id]]
            verdict = support(sentence.text, f"{article.title}. {article.text}", embed=embed)
            citation.supported, citation.overlap = verdict.supported, verdict.overlap


def _time_notes(index: NewsIndex, part: SubAnswer) -> list[str]:
    notes = list(part.retrieved.notes)
    intent, window = part.retrieved.intent, part.retrieved.window
    if intent is not None:
        if window is not None:
            notes.insert(0, f"sources limited to {window.label()} ({window.expression}), as of {intent.as_of}")
        else:
            notes.insert(0, f"sources published up to {intent.as_of}")
    days = sorted({c.day for s in part.sentences for c in s.citations})
    if len(days) > 1:
        newest = max((c for s in part.sentences for c in s.citations), key=lambda c: (c.day, c.article_id))
        notes.append(f"facts dated {days[0]} to {days[-1]}; where they differ, the latest as of "
                     f"{intent.as_of if intent else days[-1]} holds: article {newest.article_id} ({newest.day})")
    return notes


def answer_question(index: NewsIndex, question: str, *, as_of: dt.date | str | None = None,
                    answerer: Answerer | None = None, time_aware: bool = True, max_sentences: int = 3,
                    params: RetrievalParams = RetrievalParams(), split: bool = True) -> Answer:
    """Answer ``question`` from ``index`` (see the module docstring)."""
    from reliant.analytics.time_resolution import parse_as_of

    answerer = answerer or ExtractiveAnswerer()
    reference = parse_as_of(as_of)
    parts = []
    for sub in (decompose(question) if split else [question]):
        retrieved = retrieve(index, sub, as_of=reference, time_aware=time_aware, params=params)
        sentences = answerer.write(index, sub, retrieved, max_sentences)
        _check_citations(index, sentences)
        part = SubAnswer(sub, retrieved, sentences)
        part.notes = _time_notes(index, part)
        parts.append(part)
    return Answer(question, reference, answerer.name, parts)
