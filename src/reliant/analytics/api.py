"""Time-aware business question answering over dated news (FALM): what a user imports.

Start with :func:`build_index` and :func:`open_index`, then :func:`answer_question` (cited,
time-aware answers), :func:`topic_trends` (topics over time) and :func:`plan_chart` +
:func:`chart_data` + :func:`chart_spec` (a chart from a request, never code):

>>> import datetime as dt
>>> from reliant.analytics.api import resolve_time, decompose
>>> resolve_time("What did Ford report in Q3 2008?", dt.date(2010, 1, 1)).window.label()
'2008-07-01 to 2008-09-30'
>>> decompose("How did oil prices change between 2007 and 2008?")
['What happened to oil prices in 2007?', 'What happened to oil prices in 2008?']

With an index (embedding takes a while on a CPU)::

    from reliant.analytics.api import SHIPPED_CORPUS, answer_question, build_index, load_articles, open_index
    build_index(load_articles(SHIPPED_CORPUS), "news-index")
    answer = answer_question(open_index("news-index"), "What happened to IndyMac Bank last year?", as_of="2009-03-01")
    print(answer.text())          # every sentence ends with [article id, date]

:func:`run_index`, :func:`run_ask`, :func:`run_trends`, :func:`run_chart` and :func:`run_eval`
are the ``reliant analytics`` commands; :func:`create_app` is the web page of ``serve``.
"""

from __future__ import annotations

from reliant.analytics.answer import ANSWERERS, Answer, answer_question, make_answerer
from reliant.analytics.charts import ChartPlan, chart_data, chart_spec, plan_chart, render, validate_spec
from reliant.analytics.config import AskConfig, ChartConfig, EvalConfig, IndexConfig, RetrievalParams, ServeConfig, TrendsConfig
from reliant.analytics.decompose import decompose
from reliant.analytics.index import NewsIndex, build_index, open_index
from reliant.analytics.inputs import Article, load_articles
from reliant.analytics.planners import PLANNERS, LLMPlanner, make_planner
from reliant.analytics.retrieval import retrieve
from reliant.analytics.stores import STORES
from reliant.analytics.time_resolution import TimeIntent, resolve_time
from reliant.analytics.trends import topic_trends
from reliant.analytics.workflows import SHIPPED_CORPUS, run_ask, run_chart, run_eval, run_index, run_trends


def create_app(service):
    """The FastAPI app of ``reliant analytics serve`` (imported lazily: FastAPI is only for the server)."""
    from reliant.analytics.server import create_app as _create_app

    return _create_app(service)


__all__ = [
    "SHIPPED_CORPUS",
    "answer_question",
    "build_index",
    "chart_spec",
    "create_app",
    "decompose",
    "load_articles",
    "make_planner",
    "open_index",
    "plan_chart",
    "resolve_time",
    "retrieve",
    "topic_trends",
]

# Also importable from here (the types and commands behind the names above):
_COMPATIBLE = (
    ANSWERERS, PLANNERS, Answer, Article, LLMPlanner, AskConfig, ChartConfig, ChartPlan, EvalConfig, IndexConfig, NewsIndex,
    RetrievalParams, STORES, ServeConfig, TimeIntent, TrendsConfig, chart_data, make_answerer, render, run_ask,
    run_chart, run_eval, run_index, run_trends, validate_spec,
)
