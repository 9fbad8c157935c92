"""What the web page asks for, as plain functions returning JSON-ready dicts.

:mod:`reliant.analytics.server` only routes HTTP requests to these (and turns a
:class:`~reliant.core.errors.UserError` into a 4xx one-line JSON error), so everything the
page shows is testable without a server.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from reliant.analytics.config import RetrievalParams
from reliant.analytics.index import NewsIndex
from reliant.core.errors import UserError

__all__ = ["AnalyticsService"]


@dataclass
class AnalyticsService:
    index: NewsIndex
    table: Any = None
    table_values: dict | None = None
    as_of: dt.date | None = None
    topics: int = 8
    params: RetrievalParams = field(default_factory=RetrievalParams)
    seed: int = 0
    planner: Any = None  # a planners.ChartPlanner; None: the request grammar
    _trends: dict | None = None

    def ask(self, question: str, as_of: str | None = None) -> dict:
        from reliant.analytics.answer import answer_question
        from reliant.analytics.time_resolution import parse_as_of

        if not isinstance(question, str) or not question.strip():
            raise UserError("the question is empty", field="question")
        try:
            reference = parse_as_of(as_of) if as_of else (self.as_of or dt.date.today())
        except ValueError:
            raise UserError(f"expected an ISO day YYYY-MM-DD, got {as_of!r}", field="as_of") from None
        answer = answer_question(self.index, question, as_of=reference, params=self.params)
        payload = answer.to_json(self.index)
        payload["timeline_svg"] = self._timeline(answer)
        return payload

    def _timeline(self, answer) -> str:
        import pandas as pd

        from reliant.analytics.charts import render, validate_spec

        import altair as alt

        cited = {c.article_id for c in answer.citations()}
        rows = [{"date": self.index.articles[r].day.isoformat(), "id": self.index.articles[r].id,
                 "title": self.index.articles[r].title[:80], "cited": "cited" if self.index.articles[r].id in cited
                 else "retrieved", "part": i + 1}
                for i, part in enumerate(answer.parts) for r in part.retrieved.rows()]
        if not rows:
            return ""
        chart = alt.Chart(pd.DataFrame(rows)).mark_circle(size=90).encode(
            x=alt.X("date:T", title="published"), y=alt.Y("part:O", title="sub-question"),
            color=alt.Color("cited:N", scale=alt.Scale(domain=["cited", "retrieved"], range=["#D55E00", "#999999"])),
            tooltip=["id", "date", "title"]).properties(width=560, height=40 + 30 * len(answer.parts),
                                                        title="Timeline of sources")
        spec = chart.to_dict()
        if validate_spec(spec):
            raise ValueError("the timeline spec does not validate")  # built here, so a bug, not user input
        return render(spec).decode("utf-8")

    def article(self, article_id: str) -> dict:
        row = self.index.row_of.get(article_id)
        if row is None:
            raise UserError(f"no article with id {article_id!r} in the index", field="id")
        a = self.index.articles[row]
        return {"id": a.id, "date": a.day.isoformat(), "title": a.title, "text": a.text, "source": a.source,
                "url": a.url}

    def trends(self) -> dict:
        if self._trends is None:
            import pandas as pd

            from reliant.analytics.charts import ChartPlan, chart_spec, render
            from reliant.analytics.trends import topic_trends

            topics = min(self.topics, len(self.index.articles))
            trends = topic_trends(self.index, topics=topics, seed=self.seed)
            spec = chart_spec(ChartPlan("trends", "line", "period", "share", color="topic",
                                        title="Topics over time (share of each year's articles)"),
                              pd.DataFrame(trends.long_rows()))
            self._trends = {"topics": trends.rows(), "svg": render(spec).decode("utf-8")}
        return self._trends

    def chart(self, request: str) -> dict:
        from reliant.analytics.charts import chart_data, chart_spec, render, validate_spec
        from reliant.analytics.planners import RulePlanner

        if not isinstance(request, str) or not request.strip():
            raise UserError("the chart request is empty", field="request")
        columns = None if self.table is None else list(self.table.columns)
        planner = self.planner or RulePlanner()
        plan = planner.plan(request, columns, self.table_values, has_articles=True)
        data = chart_data(plan, self.table, self.index.articles)
        spec = chart_spec(plan, data)
        errors = validate_spec(spec)
        return {"plan": plan.to_json(), "planner": planner.name, "planner_tries": len(planner.attempts),
                "spec_valid": not errors, "spec_errors": errors, "rows": len(data),
                "svg": render(spec).decode("utf-8") if not errors else ""}
