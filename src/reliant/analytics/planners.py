"""Chart planners: a natural-language request becomes a :class:`~reliant.analytics.charts.ChartPlan`.

One registry (:data:`PLANNERS`, the choices of ``--planner``):

* ``rules`` (default, no model): the request grammar of :func:`~reliant.analytics.charts.plan_chart`.
* ``llm``: a model through the shared backend (:func:`reliant.core.llm.make_backend`: ``smollm2``
  offline, any ``openai:<model>@<url>`` server) is shown the plan's fields, the data's columns and
  one worked example, and replies with a plan as JSON. The first JSON object of the reply is
  parsed with :func:`json.JSONDecoder.raw_decode` (data, never code: nothing the model writes is
  executed or evaluated) and validated by :func:`~reliant.analytics.charts.plan_from_json`
  against the table's columns and values. An invalid plan is sent back with the one-line reason
  for another try; after ``retries`` re-asks the request is refused with that reason. Every try
  (reply and verdict) is kept in :attr:`ChartPlanner.attempts` for the run folder.

FALM (arXiv 2406.06559, Sec. 3) has its model decompose a chart request into steps; here the
steps are the plan's declarative fields, so the worst a model can do is an invalid plan.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from reliant.analytics.charts import AGGREGATES, MARKS, ChartPlan, plan_chart, plan_from_json
from reliant.core.errors import UserError

__all__ = ["PLANNERS", "ChartPlanner", "LLMPlanner", "RulePlanner", "make_planner", "parse_plan_reply"]

PLANNERS: dict[str, type[ChartPlanner]] = {}


def register_planner(cls: type[ChartPlanner]) -> type[ChartPlanner]:
    PLANNERS[cls.name] = cls
    return cls


class ChartPlanner(ABC):
    """Turns a chart request into a validated plan, or raises a one-line UserError."""

    name = ""
    label = ""

    def __init__(self) -> None:
        self.attempts: list[dict[str, Any]] = []

    @abstractmethod
    def plan(self, request: str, columns: list[str] | None, values: dict[str, set[str]] | None,
             *, has_articles: bool = False) -> ChartPlan:
        """``columns``/``values``: the table's (None without a table); ``has_articles``: an index is
        open. :attr:`attempts` then holds this request's tries."""

    def close(self) -> None:
        pass


@register_planner
class RulePlanner(ChartPlanner):
    name = "rules"
    label = "request grammar (no model)"

    def plan(self, request, columns, values, *, has_articles=False):
        self.attempts = [{"try": 1, "reply": None, "error": None}]
        return plan_chart(request, columns, values)


SYSTEM = f"""You turn a chart request into a chart plan. Reply with one JSON object and nothing else.
Fields of the plan:
- "source": "table" (rows of the table) or "articles" (counts of news articles)
- "mark": one of {", ".join(MARKS)}
- "x": the column on the x axis (for articles: "year", "quarter" or "month")
- "y": the column to plot (for articles: "articles")
- "aggregate": one of {", ".join(AGGREGATES)} (how rows with the same x are combined)
- "color": a column whose values become separate lines, or null
- "filters": a list of {{"column": ..., "op": ..., "value": ...}}; op is one of ==, in, >=, <=, between;
  "in" takes a list of values, "between" a list [low, high]
- "top": keep only this many rows with the largest y, or null
- "keywords": for articles only, words the articles must mention
- "title": a short title
Use only the column names given. Never write code."""

EXAMPLE_REQUEST = "average revenue by year for Apple and Ford since 2010"
EXAMPLE_PLAN = {"source": "table", "mark": "line", "x": "Year", "y": "Revenue", "aggregate": "mean",
                "color": "Name", "filters": [{"column": "Name", "op": "in", "value": ["Apple", "Ford"]},
                                             {"column": "Year", "op": ">=", "value": 2010}],
                "top": None, "keywords": [], "title": "Average revenue of Apple and Ford since 2010"}


def describe_data(columns: list[str] | None, values: dict[str, set[str]] | None, has_articles: bool) -> str:
    """What the model may plot: the table's columns (text ones with a few of their values)."""
    lines = []
    if columns is not None:
        parts = []
        for column in columns:
            if values is not None and column in values:
                examples = ", ".join(repr(v) for v in sorted(values[column], key=str)[:3])
                parts.append(f"{column} (text, e.g. {examples})")
            else:
                parts.append(f"{column} (number)")
        lines.append("Table columns: " + "; ".join(parts) + ".")
    if has_articles:
        lines.append('News articles can be counted per "year", "quarter" or "month" (source "articles").')
    return "\n".join(lines)


def parse_plan_reply(reply: str) -> Any:
    """The first JSON object in a model's reply (code fences and chatter around it ignored)."""
    decoder = json.JSONDecoder()
    start = reply.find("{")
    while start != -1:
        try:
            data, _ = decoder.raw_decode(reply, start)
            return data
        except ValueError:
            start = reply.find("{", start + 1)
    raise UserError("the reply holds no JSON object")


@register_planner
class LLMPlanner(ChartPlanner):
    name = "llm"
    label = "LLM (core.llm backend) writing a JSON plan"

    def __init__(self, spec: str = "smollm2", *, retries: int = 2, max_new_tokens: int = 256, seed: int = 0,
                 backend=None) -> None:
        super().__init__()
        if backend is None:
            from reliant.core.llm import make_backend

            backend = make_backend(spec)
        self.backend = backend
        self.spec = spec
        self.retries = retries
        self.max_new_tokens = max_new_tokens
        self.seed = seed

    def plan(self, request, columns, values, *, has_articles=False):
        self.attempts = []
        data_note = describe_data(columns, values, has_articles)
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": "Table columns: Year (number); Name (text, e.g. 'Apple'); "
                                                f"Revenue (number); Rank (number).\nRequest: {EXAMPLE_REQUEST}"},
                    {"role": "assistant", "content": json.dumps(EXAMPLE_PLAN)},
                    {"role": "user", "content": f"{data_note}\nRequest: {request}"}]
        error = ""
        for attempt in range(1, self.retries + 2):
            reply = self.backend.chat([messages], max_new_tokens=self.max_new_tokens, temperature=0.0,
                                      seed=self.seed)[0][0]
            try:
                plan = plan_from_json(parse_plan_reply(reply), columns, values=values)
                if plan.source == "articles" and not has_articles:
                    raise UserError("source 'articles' needs an index of articles; use source 'table'",
                                    field="source")
                if plan.source == "table" and columns is None:
                    raise UserError("there is no table here; use source 'articles'", field="source")
            except UserError as exc:
                error = exc.one_line()
                self.attempts.append({"try": attempt, "reply": reply, "error": error})
                messages = messages + [{"role": "assistant", "content": reply},
                                       {"role": "user", "content": f"That plan is invalid: {error}. Reply with "
                                                                   "the corrected JSON object only."}]
                continue
            self.attempts.append({"try": attempt, "reply": reply, "error": None})
            if not plan.title:
                plan.title = request
            return plan
        raise UserError(f"the LLM planner ({self.spec}) gave no valid chart plan in {self.retries + 1} tries; "
                        f"last: {error}", field="request")

    def close(self) -> None:
        self.backend.close()


def make_planner(params, seed: int = 0) -> ChartPlanner:
    """The planner of a :class:`~reliant.analytics.config.PlannerParams` section."""
    if params.planner == "llm":
        return LLMPlanner(params.planner_llm, retries=params.planner_retries, max_new_tokens=params.max_new_tokens,
                          seed=seed)
    return PLANNERS[params.planner]()
