"""``reliant analytics``: index, ask, trends, chart, eval and serve (FALM).

Options come from :mod:`reliant.analytics.config`; the handlers live in
:mod:`reliant.analytics.workflows` (and :mod:`reliant.analytics.server` for ``serve``) and
are imported only when a command runs.
"""

from __future__ import annotations

import typer

from reliant.analytics.config import AskConfig, ChartConfig, EvalConfig, IndexConfig, ServeConfig, TrendsConfig
from reliant.core.cli_common import command, command_group

group = command_group("Time-aware question answering over dated news, with citations, trends and charts (FALM).")

command(group, "index", IndexConfig, "reliant.analytics.workflows:run_index",
        example="reliant analytics index --data src/reliant/analytics/data/wikinews_economy.jsonl.gz "
                "--index news-index --out index-run")
command(group, "ask", AskConfig, "reliant.analytics.workflows:run_ask",
        example="reliant analytics ask --index news-index --question 'What happened to IndyMac Bank last year?' "
                "--as-of 2009-03-01 --out ask-run")
command(group, "trends", TrendsConfig, "reliant.analytics.workflows:run_trends",
        example="reliant analytics trends --index news-index --topics 8 --period year --out trends-run")
command(group, "chart", ChartConfig, "reliant.analytics.workflows:run_chart",
        example="reliant analytics chart --table ../shared/data/falm_news/fortune500.csv "
                "--request 'line chart of revenue for Walmart and Apple from 2000 to 2021' --out chart-run")
command(group, "eval", EvalConfig, "reliant.analytics.workflows:run_eval",
        example="reliant analytics eval --index news-index --questions benchmarks/results/analytics/evalset.jsonl "
                "--out eval-run")
command(group, "serve", ServeConfig, "reliant.analytics.server:run_serve", run_folder=False,
        example="reliant analytics serve --index news-index --table ../shared/data/falm_news/fortune500.csv")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="analytics")
