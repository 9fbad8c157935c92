"""The ``reliant analytics`` commands: inputs checked, then one run folder each.

Every ``run_<command>(config, out, overwrite) -> (run_folder, summary_lines)`` checks its
files first (the corpus through :func:`~reliant.analytics.inputs.load_articles`, an index
folder through :func:`~reliant.analytics.index.check_index_folder`, a table through
:mod:`reliant.core.data`), so bad input is one line and exit 2 before the embedder, Qdrant or
pandas load, and no run folder is left behind.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from reliant.analytics.config import AskConfig, ChartConfig, EvalConfig, IndexConfig, TrendsConfig
from reliant.analytics.index import check_index_folder
from reliant.analytics.inputs import load_articles
from reliant.core.data import load_records
from reliant.core.errors import DataError
from reliant.core.rundir import run_directory

__all__ = ["SHIPPED_CORPUS", "run_ask", "run_chart", "run_eval", "run_index", "run_trends"]

SHIPPED_CORPUS = Path(__file__).resolve().parent / "data" / "wikinews_economy.jsonl.gz"
"""1,918 dated Wikinews "Economy and business" articles, 2004-2018 (CC BY 2.5; see data/NOTICE.md)."""


def _day(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def open_configured_index(config):
    """The index of ``config`` with its vector store; a Qdrant server (``--store-url``) is
    reached here, before any run folder exists, so an unreachable one is a one-line error."""
    import os

    from reliant.analytics.index import open_index

    params = config.retrieval
    index = open_index(config.index, store=params.store, store_url=params.store_url,
                       store_api_key=os.environ.get(params.store_api_key_env) or None)
    if params.store_url is not None:
        index.store  # noqa: B018 - connects and uploads the vectors the server lacks
    return index


# --------------------------------------------------------------------------- index


def run_index(config: IndexConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant analytics index``: embed new/changed articles into ``--index``; report what changed."""
    from reliant.core.seeding import set_seed

    articles = load_articles(config.data, limit=config.limit)
    check_index_folder(config.index, for_writing=True)
    from reliant.analytics.index import build_index
    from reliant.analytics.report import articles_per_year_figure

    set_seed(config.seed)
    with run_directory("analytics index", config, out, overwrite=overwrite, inputs=[config.data],
                       title="reliant analytics index: dated articles into a hybrid index") as run:
        started = time.perf_counter()
        update = build_index(articles, config.index, embedder=config.embedder, batch_size=config.batch_size,
                             device=config.device)
        seconds = time.perf_counter() - started
        rate = update.embedded / update.embed_seconds if update.embed_seconds > 0 else None
        for line in update.lines():
            run.log(line)
        run.add_headline("articles in the index", update.total)
        run.add_headline("embedded this run", update.embedded)
        if rate is not None:
            run.add_headline("articles embedded per second", rate, better="higher")
        from reliant.analytics.index import open_index

        run.add_figure("Articles per year", articles_per_year_figure([a.day for a in open_index(config.index).articles]),
                       caption="How the index covers time: questions about sparse years have few sources.")
        run.add_metrics({"total": update.total, "added": update.added, "changed": update.changed,
                         "unchanged": update.unchanged, "embedded": update.embedded,
                         "embed_seconds": update.embed_seconds, "seconds": seconds,
                         "articles_per_second": rate, "first_day": update.first_day.isoformat(),
                         "last_day": update.last_day.isoformat(), "index": str(Path(config.index).resolve())})
    return run.path, update.lines()


# --------------------------------------------------------------------------- ask


def run_ask(config: AskConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant analytics ask``: a cited, time-aware answer (and the time-unaware baseline)."""
    check_index_folder(config.index)
    from reliant.analytics.answer import answer_question, answerer_of
    from reliant.analytics.report import sources_timeline_figure
    from reliant.analytics.time_resolution import parse_as_of

    index = open_configured_index(config)
    as_of = parse_as_of(config.as_of)
    with run_directory("analytics ask", config, out, overwrite=overwrite, inputs=[config.index],
                       title="reliant analytics ask: time-aware answer with citations") as run:
        answerer = answerer_of(config.answering, config.seed)
        try:
            answer = answer_question(index, config.question, as_of=as_of, answerer=answerer,
                                     max_sentences=config.answering.max_sentences, params=config.retrieval)
            baseline = answer_question(index, config.question, as_of=as_of, answerer=answerer, time_aware=False,
                                       max_sentences=config.answering.max_sentences, params=config.retrieval,
                                       split=False) if config.baseline else None
        finally:
            answerer.close()
        result = answer.to_json(index)
        run.file("answer.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        run.add_text("Answer (time-aware)", answer.text(), preformatted=True)
        citations = answer.citations()
        supported = sum(c.supported for c in citations) / len(citations) if citations else None
        run.add_headline("sub-questions", len(answer.parts))
        run.add_headline("citations", len(citations))
        if supported is not None:
            run.add_headline("citations supported", supported, better="higher")
        series = {"time-aware": [index.articles[r].day for p in answer.parts for r in p.retrieved.rows()]}
        metrics = {"answer": result}
        if baseline is not None:
            run.file("baseline_answer.json").write_text(json.dumps(baseline.to_json(index), indent=2,
                                                                   ensure_ascii=False) + "\n", encoding="utf-8")
            run.add_text("Answer (baseline: same retriever, no time-awareness)", baseline.text(), preformatted=True)
            series["baseline"] = [index.articles[r].day for r in baseline.parts[0].retrieved.rows()]
            windows = [p.retrieved.window for p in answer.parts if p.retrieved.window is not None]
            if windows:
                def in_window(days):
                    return sum(any(w.contains(d) for w in windows) for d in days) / len(days) if days else 0.0

                share, base_share = in_window(series["time-aware"]), in_window(series["baseline"])
                run.add_headline("sources inside the asked period", share, baseline=base_share,
                                 baseline_label="without time-awareness", better="higher")
                metrics["in_window"] = {"time_aware": share, "baseline": base_share}
        first_window = next((p.retrieved.window for p in answer.parts if p.retrieved.window is not None), None)
        run.add_figure("Source timeline", sources_timeline_figure(
            series, None if first_window is None else (first_window.start, first_window.end), as_of),
            caption="Time-aware sources should sit inside the grey period and never right of the as-of line.")
        run.add_table("Sources", [
            {"part": i + 1, "rank": rank + 1, "id": index.articles[h.row].id,
             "date": index.articles[h.row].day.isoformat(), "title": index.articles[h.row].title[:90]}
            for i, part in enumerate(answer.parts) for rank, h in enumerate(part.retrieved.hits)])
        run.add_metrics(metrics)
    return run.path, answer.text().splitlines()


# --------------------------------------------------------------------------- trends


def run_trends(config: TrendsConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant analytics trends``: topics, their shares per period, emerging and declining ones."""
    check_index_folder(config.index)
    from reliant.analytics.charts import chart_spec, render, validate_spec, ChartPlan
    from reliant.analytics.index import open_index
    from reliant.analytics.report import topic_shares_figure
    from reliant.analytics.trends import topic_trends

    index = open_index(config.index)
    start, end = _day(config.start), _day(config.end)
    in_period = sum((start is None or a.day >= start) and (end is None or a.day <= end) for a in index.articles)
    if in_period < config.topics:
        raise DataError(f"has {in_period} articles in the period, fewer than --topics {config.topics}",
                        file=config.index)
    with run_directory("analytics trends", config, out, overwrite=overwrite, inputs=[config.index],
                       title="reliant analytics trends: topics over time") as run:
        trends = topic_trends(index, topics=config.topics, period=config.period, recent_periods=config.recent_periods,
                              start=start, end=end, seed=config.seed)
        rows = trends.rows()
        run.add_table("Topics", rows, caption="Labels are each cluster's top c-TF-IDF words; trend from the share "
                                              f"slope over the last {config.recent_periods} {config.period}s.")
        run.add_figure("Topic shares per period", topic_shares_figure(trends),
                       caption="Solid lines are emerging or declining topics; dotted ones are steady.")
        import pandas as pd

        data = pd.DataFrame(trends.long_rows())
        spec = chart_spec(ChartPlan("trends", "line", "period", "share", color="topic", title="Topics over time"), data)
        errors = validate_spec(spec)
        run.file("trends.vl.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        run.file("trends.svg").write_bytes(render(spec))
        (run.file("trends.jsonl")).write_text("".join(json.dumps(r) + "\n" for r in trends.long_rows()),
                                              encoding="utf-8")
        emerging = [r["label"] for r in rows if r["trend"] == "emerging"]
        declining = [r["label"] for r in rows if r["trend"] == "declining"]
        run.add_headline("topics", len(rows))
        run.add_headline("emerging", len(emerging))
        run.add_headline("declining", len(declining))
        run.add_metrics({"topics": rows, "periods": trends.periods, "emerging": emerging, "declining": declining,
                         "spec_valid": not errors, "spec_errors": errors})
    lines = [f"{r['topic']}: {r['label']} ({r['articles']} articles, {r['trend']})" for r in rows]
    return run.path, lines


# --------------------------------------------------------------------------- chart


def load_chart_inputs(config) -> tuple:
    """(table frame or None, text values, articles or None) for a chart; files checked first."""
    table = values = articles = None
    if config.table is not None:
        from reliant.analytics.tables import load_table

        table, values = load_table(config.table)
    if config.index is not None:
        check_index_folder(config.index)
        from reliant.analytics.index import open_index

        articles = open_index(config.index).articles
    return table, values, articles


def make_plan(config: ChartConfig, table, values, has_articles: bool):
    """(plan, the planner's tries) from ``--plan`` (a JSON file) or ``--request`` (the chosen planner)."""
    from reliant.analytics.charts import plan_from_json
    from reliant.analytics.planners import make_planner

    columns = None if table is None else list(table.columns)
    if config.plan is not None:
        try:
            data = json.loads(Path(config.plan).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"is not a JSON chart plan ({exc.__class__.__name__})", file=config.plan) from None
        return plan_from_json(data, columns, file=str(config.plan), values=values), []
    planner = make_planner(config.planning, config.seed)
    try:
        return planner.plan(config.request, columns, values, has_articles=has_articles), planner.attempts
    finally:
        planner.close()


def run_chart(config: ChartConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant analytics chart``: request -> plan -> data -> validated Vega-Lite -> SVG and PNG."""
    from reliant.analytics.charts import chart_data, chart_spec, render, validate_spec

    table, values, articles = load_chart_inputs(config)
    plan, attempts = make_plan(config, table, values, articles is not None)
    if plan.source == "articles" and articles is None:
        raise DataError("the request asks for article counts: give --index", field="index")
    if plan.source == "table" and table is None:
        raise DataError("the request plots a table: give --table", field="table")
    with run_directory("analytics chart", config, out, overwrite=overwrite,
                       inputs=[p for p in (config.table, config.index, config.plan) if p is not None],
                       title="reliant analytics chart: a chart from a request") as run:
        data = chart_data(plan, table, articles)
        spec = chart_spec(plan, data)
        errors = validate_spec(spec)
        run.file("plan.json").write_text(json.dumps(plan.to_json(), indent=2) + "\n", encoding="utf-8")
        llm_planned = config.plan is None and config.planning.planner == "llm"
        if llm_planned:
            run.file("planner_attempts.jsonl").write_text(
                "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in attempts), encoding="utf-8")
            run.add_table("LLM planner tries", [{"try": a["try"], "verdict": a["error"] or "valid plan",
                                                 "reply": a["reply"][:300]} for a in attempts],
                          caption="Each reply is parsed as JSON and validated; an invalid one is sent back with "
                                  "its error. Nothing the model wrote is executed.")
            run.add_headline("LLM planner tries", len(attempts), better="lower")
        run.file("chart.vl.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        run.file("data.csv").write_text(data.to_csv(index=False), encoding="utf-8")
        run.file("chart.svg").write_bytes(render(spec, "svg"))
        png = render(spec, "png")
        run.file("chart.png").write_bytes(png)
        run.add_text("Plan", json.dumps(plan.to_json(), indent=2), preformatted=True)
        run.add_table("Plotted data", data.head(50).to_dict("records"),
                      caption=f"{len(data)} rows" + (" (first 50 shown)" if len(data) > 50 else ""))
        run.add_headline("rows plotted", len(data))
        run.add_headline("spec valid (Vega-Lite schema)", "yes" if not errors else "no")
        run.add_metrics({"plan": plan.to_json(), "rows": len(data), "spec_valid": not errors, "spec_errors": errors,
                         "planner": None if config.plan is not None else config.planning.planner,
                         "planner_tries": len(attempts) if llm_planned else None})
        # vl-convert already drew a PNG; it goes into report.html as is (no matplotlib re-drawing).
        run.add_image(plan.title or "Chart", png,
                      caption="Drawn from chart.vl.json by vl-convert on this machine (no browser, no CDN).")
    return run.path, [f"plan: {plan.mark} of {plan.aggregate} {plan.y} by {plan.x}"
                      + (f" per {plan.color}" if plan.color else ""), f"{len(data)} rows; spec valid: {not errors}"]


# --------------------------------------------------------------------------- eval

EVAL_SCHEMA_FIELDS = ("question", "as_of", "gold_ids", "gold_start", "gold_end")


def load_eval_questions(path: Path, limit: int | None = None) -> list[dict]:
    from reliant.analytics.inputs import parse_article_date
    from reliant.core.data import Field, Schema

    schema = Schema([Field("question"), Field("as_of", "any"), Field("gold_ids", "list[str]"),
                     Field("gold_start", "any"), Field("gold_end", "any"),
                     Field("kind", "str", required=False, default="", non_empty=False)])
    records = load_records(path, schema=schema, limit=limit)
    out = []
    for record in records:
        parsed = {}
        for name in ("as_of", "gold_start", "gold_end"):
            try:
                parsed[name] = parse_article_date(record[name])
            except ValueError as exc:
                raise record.error(str(exc), field=name) from None
        if parsed["gold_start"] > parsed["gold_end"]:
            raise record.error("gold_start is after gold_end", field="gold_start")
        out.append({"question": record["question"], "gold": set(record["gold_ids"]), "kind": record["kind"], **parsed})
    return out


def run_eval(config: EvalConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant analytics eval``: recall@k, date accuracy and citations, time-aware vs not."""
    check_index_folder(config.index)
    questions = load_eval_questions(config.questions, config.limit)
    from reliant.analytics.evaluation import evaluate

    index = open_configured_index(config)
    unknown = sorted({g for q in questions for g in q["gold"]} - set(index.row_of))
    if unknown:
        raise DataError(f"{len(unknown)} gold ids are not in the index (first: {unknown[0]})",
                        file=config.questions, field="gold_ids")
    with run_directory("analytics eval", config, out, overwrite=overwrite, inputs=[config.index, config.questions],
                       title="reliant analytics eval: time-aware vs time-unaware retrieval and answers") as run:
        from reliant.analytics.answer import answerer_of

        answerer = answerer_of(config.answering, config.seed) if config.answers else None
        try:
            result = evaluate(index, questions, ks=sorted(set(config.ks)), params=config.retrieval,
                              answerer=answerer, max_sentences=config.answering.max_sentences)
        finally:
            if answerer is not None:
                answerer.close()
        for row in result["table"]:
            run.log(json.dumps(row))
        run.add_table("Time-aware vs time-unaware (same retriever)", result["table"])
        if result.get("by_kind"):
            run.add_table("Recall@k by question kind", result["by_kind"])
        aware, base = result["summary"]["time_aware"], result["summary"]["baseline"]
        k = max(config.ks)
        run.add_headline(f"recall@{k}", aware[f"recall@{k}"], baseline=base[f"recall@{k}"],
                         baseline_label="no time-awareness", better="higher")
        run.add_headline(f"date accuracy@{k}", aware[f"date_accuracy@{k}"], baseline=base[f"date_accuracy@{k}"],
                         baseline_label="no time-awareness", better="higher")
        if aware.get("citation_precision") is not None:
            run.add_headline("citation precision", aware["citation_precision"],
                             baseline=base.get("citation_precision"), baseline_label="no time-awareness",
                             better="higher")
        if aware.get("faithful_sentences") is not None:
            run.add_headline("sentences whose citations are all supported", aware["faithful_sentences"],
                             baseline=base.get("faithful_sentences"), baseline_label="no time-awareness",
                             better="higher")
        run.file("per_question.jsonl").write_text("".join(json.dumps(r) + "\n" for r in result["per_question"]),
                                                  encoding="utf-8")
        run.add_metrics({"summary": result["summary"], "questions": len(questions)})
    return run.path, [json.dumps(row) for row in result["table"]]
