"""Options of the ``reliant analytics`` commands, declared once.

Imports only the standard library and :mod:`reliant.core.config`, so ``reliant analytics
--help`` and a bad flag never load torch, Qdrant or pandas. The retrieval parameters are one
nested section (:class:`RetrievalParams`) shared by ``ask``, ``eval`` and ``serve``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError

__all__ = ["ANSWERER_NAMES", "PLANNER_NAMES", "AnswerParams", "AskConfig", "ChartConfig", "EvalConfig", "IndexConfig", "PlannerParams", "RetrievalParams",
           "ServeConfig", "STORE_NAMES", "TrendsConfig"]

ANSWERER_NAMES = ("extractive", "llm")
"""The registered answerers (``answer.ANSWERERS``; a test keeps the two in step)."""
PLANNER_NAMES = ("rules", "llm")
"""The registered chart planners (``planners.PLANNERS``)."""
STORE_NAMES = ("qdrant", "exact")
"""The registered vector stores (``stores.STORES``)."""
PERIODS = ("year", "quarter", "month")
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


def check_day(value: str | None, name: str) -> None:
    if value is None:
        return
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"expected an ISO day YYYY-MM-DD, got {value!r}", field=name) from None


@dataclass(frozen=True)
class RetrievalParams:
    """Hybrid retrieval (BM25 + MiniLM, reciprocal rank fusion) and its time-awareness."""

    k: int = option(8, "Articles retrieved per (sub-)question.", min=1, max=100)
    candidates: int = option(100, "Candidates each retriever (BM25, dense) passes to the fusion.", min=1)
    k_rrf: int = option(60, "Reciprocal rank fusion constant: score = sum 1 / (k_rrf + rank).", min=1)
    recency_weight: float = option(1.0, "Boost of the newest sources when the question asks for the latest state "
                                        "(score x (1 + w 0.5^(age / half-life))); 0 turns it off.", min=0)
    half_life_days: float = option(365.0, "Half-life of the recency boost, in days.", gt=0)
    retriever: str = option("hybrid", "Which retrievers run: BM25 and dense fused, or one of them alone.",
                            choices=("hybrid", "lexical", "dense"))
    store: str = option("exact", "Dense vector store: exact (numpy brute force) or qdrant (Qdrant's local mode in "
                                 "memory, about 65x slower here at 20k articles; or a server with --store-url).",
                        choices=STORE_NAMES)
    store_url: Optional[str] = option(None, "URL of a Qdrant server or cluster for --store qdrant, e.g. "
                                            "http://localhost:6333 (the index's vectors are uploaded once, into a "
                                            "collection named after the index's content); default: local mode.")
    store_api_key_env: str = option("QDRANT_API_KEY", "Environment variable holding the Qdrant server's API key; "
                                                      "read when the store opens, never written to the run folder. "
                                                      "Unset: no key.")


def check_store(params: RetrievalParams) -> None:
    """Rules of the store options no single field can state."""
    if params.store_url is None:
        return
    from urllib.parse import urlsplit

    if params.store != "qdrant":
        raise ConfigError(f"--store-url is for --store qdrant (got --store {params.store})", field="store_url")
    parts = urlsplit(params.store_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"expected http(s)://host[:port], got {params.store_url!r}", field="store_url")
    if parts.username or parts.password:
        raise ConfigError("put the API key in the environment variable of --store-api-key-env, not in the URL",
                          field="store_url")
    if not params.store_api_key_env.isidentifier():
        raise ConfigError(f"must be an environment variable name, got {params.store_api_key_env!r}",
                          field="store_api_key_env")


@dataclass(frozen=True)
class AnswerParams:
    """Who writes the cited answer (``ask`` and ``eval``)."""

    answerer: str = option("extractive", "Who writes the answer: extractive (no LLM) or llm.", choices=ANSWERER_NAMES)
    answer_llm: str = option("smollm2", "LLM backend spec for --answerer llm: smollm2, tiny, hf:<id>, "
                                        "openai:<model>@<url>.")
    max_sentences: int = option(3, "Sentences per (sub-)answer.", min=1, max=10)
    max_new_tokens: int = option(160, "Tokens the LLM answerer may write.", min=1)


@dataclass(frozen=True)
class PlannerParams:
    """How a chart request becomes a plan (``chart`` and the page of ``serve``)."""

    planner: str = option("rules", "Who turns a chart request into a plan: rules (the request grammar, no model) "
                                   "or llm (a model writes the plan as JSON, validated; never run as code).",
                          choices=PLANNER_NAMES)
    planner_llm: str = option("smollm2", "LLM backend spec for --planner llm: smollm2, tiny, hf:<id>, "
                                         "openai:<model>@<url>.")
    planner_retries: int = option(2, "Times an invalid LLM plan is sent back with its error before the request "
                                     "is refused.", min=0, max=10)
    max_new_tokens: int = option(256, "Tokens the LLM planner may write per try.", min=16)


@dataclass
class IndexConfig:
    """Index dated articles (id, date, title, text) into an index folder; new or changed ones are embedded."""

    data: Optional[Path] = option(None, "Articles: jsonl/json/csv/parquet(.gz) with id, date (ISO), title, text "
                                        "[, source, url]; the shipped Wikinews corpus is at "
                                        "src/reliant/analytics/data/wikinews_economy.jsonl.gz.",
                                  required=True, path="file")
    index: Optional[Path] = option(None, "Index folder to create or update (incremental).", required=True)
    embedder: str = option(DEFAULT_EMBEDDER, "Sentence embedder (the packaged MiniLM by default).")
    batch_size: int = option(64, "Texts per embedding batch.", min=1)
    device: str = option("auto", "Device for the embedder: auto, cpu, cuda, cuda:N or mps.")
    limit: Optional[int] = option(None, "Index only the first N articles.", min=1)
    seed: int = seed_option()


@dataclass
class AskConfig:
    """Answer a question from an index, time-aware, every sentence cited [article id, date]."""

    index: Optional[Path] = option(None, "Index folder built by `reliant analytics index`.", required=True,
                                   path="dir")
    question: Optional[str] = option(None, "The question, e.g. 'What happened to IndyMac Bank in July 2008?'.",
                                     required=True)
    as_of: Optional[str] = option(None, "Reference date of the question (YYYY-MM-DD); default: today.")
    answering: AnswerParams = field(default_factory=AnswerParams)
    baseline: bool = option(True, "Also answer with the same retriever without time-awareness, for comparison.")
    retrieval: RetrievalParams = field(default_factory=RetrievalParams)
    seed: int = seed_option()

    def validate(self) -> None:
        check_day(self.as_of, "as_of")
        check_store(self.retrieval)
        if self.question is not None and not self.question.strip():
            raise ConfigError("the question is empty", field="question")


@dataclass
class TrendsConfig:
    """Topics over time: clusters of the indexed articles, c-TF-IDF labels, shares per period, emerging/declining."""

    index: Optional[Path] = option(None, "Index folder built by `reliant analytics index`.", required=True,
                                   path="dir")
    topics: int = option(8, "Number of topics (k-means clusters).", min=2, max=100)
    period: str = option("year", "Time step of the counts and shares.", choices=PERIODS)
    recent_periods: int = option(3, "Periods at the end that decide emerging/declining.", min=2)
    start: Optional[str] = option(None, "First day (YYYY-MM-DD) of the articles used.")
    end: Optional[str] = option(None, "Last day (YYYY-MM-DD) of the articles used.")
    seed: int = seed_option()

    def validate(self) -> None:
        check_day(self.start, "start")
        check_day(self.end, "end")
        if self.start and self.end and self.start > self.end:
            raise ConfigError(f"--start {self.start} is after --end {self.end}", field="start")


@dataclass
class ChartConfig:
    """Turn a chart request into a validated Vega-Lite spec and draw it (SVG + PNG), never running code."""

    request: Optional[str] = option(None, "What to plot, e.g. 'line chart of revenue for Walmart and Apple from "
                                          "2000 to 2021' or 'articles about oil per year'. Give this or --plan.")
    plan: Optional[Path] = option(None, "A chart plan as JSON (source, mark, x, y, aggregate, color, filters, top, "
                                        "keywords, title) instead of --request.", path="file")
    table: Optional[Path] = option(None, "A CSV table to plot, e.g. ../shared/data/falm_news/fortune500.csv "
                                         "(Year, Name, Revenue, Rank).", path="file")
    index: Optional[Path] = option(None, "Index folder whose article counts can be plotted.", path="dir")
    planning: PlannerParams = field(default_factory=PlannerParams)
    seed: int = seed_option()

    def validate(self) -> None:
        if self.planning.planner == "llm" and self.plan is not None:
            raise ConfigError("--planner llm turns --request into a plan; --plan is one already", field="planner")
        if (self.request is None) == (self.plan is None):
            raise ConfigError("give --request or --plan (one of them)", field="request")
        if self.request is not None and not self.request.strip():
            raise ConfigError("the chart request is empty", field="request")
        if self.table is None and self.index is None:
            raise ConfigError("give --table (a CSV) or --index (article counts) as the chart's data", field="table")


@dataclass
class EvalConfig:
    """Evaluate time-aware vs time-unaware retrieval and answers on questions with gold article ids and dates."""

    index: Optional[Path] = option(None, "Index folder built by `reliant analytics index`.", required=True,
                                   path="dir")
    questions: Optional[Path] = option(None, "jsonl of {question, as_of, gold_ids, gold_start, gold_end}; "
                                             "benchmarks/bench_analytics_evalset.py builds one.",
                                       required=True, path="file")
    ks: list[int] = option([1, 3, 5, 8], "Cut-offs of recall@k.", min=1)
    answers: bool = option(True, "Also write answers (with --answerer) and score their citations.")
    limit: Optional[int] = option(None, "Use only the first N questions.", min=1)
    retrieval: RetrievalParams = field(default_factory=RetrievalParams)
    answering: AnswerParams = field(default_factory=AnswerParams)
    seed: int = seed_option()

    def validate(self) -> None:
        check_store(self.retrieval)


@dataclass
class ServeConfig:
    """Serve the analytics web page (ask, citations, timeline, trends, charts) on this machine; no run folder."""

    index: Optional[Path] = option(None, "Index folder built by `reliant analytics index`.", required=True,
                                   path="dir")
    table: Optional[Path] = option(None, "A CSV table for chart requests, e.g. the Fortune 500 list.", path="file")
    host: str = option("127.0.0.1", "Address to listen on.")
    port: int = option(8765, "Port to listen on.", min=1, max=65535)
    as_of: Optional[str] = option(None, "Default reference date of questions (YYYY-MM-DD); default: today.")
    topics: int = option(8, "Topics of the trend chart.", min=2, max=100)
    retrieval: RetrievalParams = field(default_factory=RetrievalParams)
    planning: PlannerParams = field(default_factory=PlannerParams)
    seed: int = seed_option()

    def validate(self) -> None:
        check_day(self.as_of, "as_of")
        check_store(self.retrieval)
