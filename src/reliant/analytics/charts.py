"""Charts from natural language: request -> declarative plan -> Vega-Lite -> SVG/PNG.

FALM turns chart requests into steps (arXiv 2406.06559, Sec. 3). Here the steps are data, never
code: :func:`plan_chart` reads a request into a :class:`ChartPlan` (data source, filters,
aggregation, grouping, chart type), :func:`chart_data` computes the rows with pandas,
:func:`chart_spec` builds the Vega-Lite spec with altair, :func:`validate_spec` checks it
against the Vega-Lite JSON schema altair ships, and :func:`render` draws it on the server with
vl-convert (no browser, no CDN). A plan may also be given as JSON (``--plan``), e.g. written by
hand or by an LLM; it is validated field by field and only ever interpreted, never executed.

Data sources: ``table`` - a CSV such as the Fortune 500 list (Year, Name, Revenue, Rank), whose
columns are found in the request by name or by synonym ("sales" -> Revenue, "company" -> Name);
``articles`` - counts of the index's articles per period, optionally those that mention words.

Request grammar (case-insensitive, any order):

* chart type: "line", "bar", "area", "scatter"/"points" (default: line over time, else bar);
* measure: "<aggregate> <column>" after "of"/"chart"/"plot"/"show", aggregates total/sum,
  average/mean, max/highest, min/lowest, count/number; "articles about X" counts articles;
* grouping: "by <column>" / "per <column>" (for articles: per year, quarter or month);
* filters: "for A, B and C" (values of a text column, e.g. companies), "in 2021",
  "from 2000 to 2010" / "between 2000 and 2010" (the year column), "top N".

A request naming a column the table lacks ("profit by year") is a one-line
:class:`~reliant.core.errors.UserError` that lists the columns.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from reliant.core.errors import UserError

__all__ = ["ChartPlan", "chart_data", "chart_spec", "plan_chart", "plan_from_json", "render", "validate_spec"]

MARKS = ("line", "bar", "area", "point")
AGGREGATES = ("sum", "mean", "max", "min", "count", "none")
_AGGREGATE_WORDS = {"total": "sum", "sum": "sum", "combined": "sum", "average": "mean", "mean": "mean",
                    "avg": "mean", "median": "median", "max": "max", "maximum": "max", "highest": "max",
                    "min": "min", "minimum": "min", "lowest": "min", "count": "count", "number": "count"}
_SYNONYMS = {"sales": "revenue", "revenues": "revenue", "turnover": "revenue", "income": "revenue",
             "company": "name", "companies": "name", "firm": "name", "firms": "name", "ranking": "rank",
             "position": "rank", "years": "year", "time": "year"}
_FILLER = {"the", "a", "an", "of", "in", "for", "chart", "plot", "show", "me", "graph", "draw", "line", "bar", "area",
           "scatter", "points", "fortune", "500", "us", "over", "each", "all", "and", "to", "how", "what", "was",
           "were", "is", "did", "change", "changed", "trend", "evolution", "as", "please", "with", "their", "its"}


@dataclass
class Filter:
    column: str
    op: str  # "==", "in", ">=", "<=", "between"
    value: Any


@dataclass
class ChartPlan:
    """What to draw, declaratively."""

    source: str  # "table" or "articles"
    mark: str
    x: str
    y: str
    aggregate: str = "none"
    color: str | None = None
    filters: list[Filter] = field(default_factory=list)
    top: int | None = None
    keywords: list[str] = field(default_factory=list)  # articles: only those mentioning all of these
    title: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def _column_of(word: str, columns: list[str]) -> str | None:
    word = word.lower().strip(" ,.?")
    word = _SYNONYMS.get(word, word)
    for column in columns:
        if column.lower() == word or column.lower().rstrip("s") == word.rstrip("s"):
            return column
    return None


def _year_column(columns: list[str]) -> str | None:
    return next((c for c in columns if c.lower() in ("year", "years", "period")), None)


def plan_chart(request: str, columns: list[str] | None = None, values: dict[str, set[str]] | None = None) -> ChartPlan:
    """Read a chart request (see the module docstring). ``columns`` are the table's columns
    (None: only the article counts are available); ``values`` the distinct values of its text
    columns, used to recognise "for Walmart and Apple"."""
    text = " ".join(request.split())
    low = text.lower()
    if not low:
        raise UserError("the chart request is empty", field="request")
    mark = next((m for word, m in (("line", "line"), ("bar", "bar"), ("area", "area"), ("scatter", "point"),
                                   ("points", "point")) if re.search(rf"\b{word}\b", low)), None)
    top = int(m[1]) if (m := re.search(r"\btop\s+(\d+)\b", low)) else None
    wants_articles = bool(re.search(r"\b(articles?|news|stories|coverage|mentions?|reports?)\b", low)) or not columns
    if wants_articles:
        by = re.search(r"\b(?:by|per|each)\s+(year|quarter|month)\b", low)
        about = re.search(r"\b(?:about|on|mentioning|that mention|with)\s+(.+?)(?=\s+(?:by|per|each|from|between|"
                          r"since|in\s+\d{4})\b|[?.!]|$)", low)
        keywords = [w for w in re.findall(r"[a-z0-9&'-]+", about[1]) if w not in ("and", "the", "a")] if about else []
        plan = ChartPlan("articles", mark or "line", by[1] if by else "year", "articles", "count",
                         keywords=keywords, title=text)
        plan.filters = _year_filters(low, "year")
        return plan
    columns = list(columns)
    year = _year_column(columns)
    named = _named_values(low, values or {})
    if named:  # the values named ("for Walmart and Apple") are not column words
        for value in sorted(named[1], key=len, reverse=True):
            low = low.replace(value.lower(), " ")
    low = re.sub(r"\btop\s+\d+\b", " ", low)
    numeric_words = [m for m in re.finditer(r"[a-z]+", low)]
    aggregate = "none"
    measure = None
    group = None
    unknown = None
    by_match = re.search(r"\b(?:by|per|across)\s+([a-z]+)", low)
    if by_match and by_match[1] not in ("the", "a"):
        group = _column_of(by_match[1], columns)
        if group is None and by_match[1] not in _AGGREGATE_WORDS:
            unknown = by_match[1]
    head = low[: by_match.start()] if by_match else low
    head = re.split(r"\b(?:for|from|between|since|in|during|top)\b", head)[0]
    for m in numeric_words:
        if m.start() >= len(head):
            break
        word = m[0]
        if word in _AGGREGATE_WORDS and measure is None:
            aggregate = _AGGREGATE_WORDS[word]
            continue
        column = _column_of(word, columns)
        if column is not None and column != group and measure is None:
            measure = column
        elif column is None and word not in _FILLER and word not in _AGGREGATE_WORDS and unknown is None:
            unknown = word
    text_columns = set(values or {})
    if measure in text_columns and group is not None and group not in text_columns and aggregate != "count":
        measure, group = group, measure  # "top 10 companies by revenue": rank the companies by the number
    if unknown is not None:
        raise UserError(f"unknown column {unknown!r} in the chart request (columns: {', '.join(columns)})",
                        field="request")
    if measure is None:
        raise UserError(f"the chart request names no column to plot (columns: {', '.join(columns)})",
                        field="request")
    filters = _year_filters(low, year) if year else []
    if named:
        column, chosen = named
        filters.append(Filter(column, "in", chosen))
    if group is None:
        single_year = any(f.column == year and f.op == "==" for f in filters)
        group = year if year and not single_year else next(
            (c for c in columns if c not in (measure, year) and c in text_columns), year)
    color = None
    if named and group == year:
        color = named[0]
    if aggregate == "none" and color is None and group == year and not named:
        aggregate = "sum"  # many rows per year and no series: the total is what a trend of a measure means
    if mark is None:
        mark = "line" if group == year else "bar"
    return ChartPlan("table", mark, group, measure, aggregate, color, filters, top, [], text)


def _named_values(low: str, values: dict[str, set[str]]) -> tuple[str, list[str]] | None:
    """"for Walmart, Apple and Ford" / "of Apple" -> ("Name", [...]) using the table's own values."""
    partial = None
    for match in re.finditer(r"\b(?:for|of)\s+(.+?)(?=\s+(?:for|of|from|between|since|in|during|by|per|top)\b|[?.!]|$)",
                             low):
        wanted = [w.strip() for w in re.split(r",|\band\b|\bvs\.?\b|\bversus\b", match[1]) if w.strip()]
        wanted = [re.sub(r"^the\s+", "", w) for w in wanted]
        for column, options in values.items():
            lookup = {str(v).lower(): str(v) for v in options}
            found = [lookup[w] for w in wanted if w in lookup]
            if found and len(found) == len(wanted):
                return column, found
            if found and partial is None:
                partial = (column, [w for w in wanted if w not in lookup])
    if partial is not None:
        column, missing = partial
        raise UserError(f"{', '.join(repr(m) for m in missing)} not found in column '{column}'", field="request")
    return None


def _year_filters(low: str, column: str) -> list[Filter]:
    if m := re.search(r"\b(?:from|between)\s+(\d{4})\s+(?:to|and|until|through)\s+(\d{4})\b", low):
        return [Filter(column, "between", [int(m[1]), int(m[2])])]
    if m := re.search(r"\bsince\s+(\d{4})\b", low):
        return [Filter(column, ">=", int(m[1]))]
    if m := re.search(r"\bbefore\s+(\d{4})\b", low):
        return [Filter(column, "<=", int(m[1]) - 1)]
    if m := re.search(r"\b(?:in|during)\s+(\d{4})\b", low):
        return [Filter(column, "==", int(m[1]))]
    return []


def plan_from_json(data: Any, columns: list[str] | None, *, file: str | None = None,
                   values: dict[str, set[str]] | None = None) -> ChartPlan:
    """A plan given as JSON (a file or an LLM's output), checked field by field. With
    ``values`` (the text columns' values, :func:`~reliant.analytics.tables.load_table`) the
    filter values are checked too: a text column's must exist, a numeric column's be numbers."""
    def bad(message: str, field_name: str | None = None) -> UserError:
        return UserError(message, file=file, field=field_name)

    if not isinstance(data, dict):
        raise bad("a chart plan must be a JSON object")
    known = {f for f in ChartPlan.__dataclass_fields__}
    extra = sorted(set(data) - known)
    if extra:
        raise bad(f"unknown plan field(s) {', '.join(extra)} (known: {', '.join(sorted(known))})", extra[0])
    for name in ("source", "mark", "x", "y"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise bad("missing or not a string", name)
    if data["source"] not in ("table", "articles"):
        raise bad("must be 'table' or 'articles'", "source")
    if data["mark"] not in MARKS:
        raise bad(f"must be one of {', '.join(MARKS)}", "mark")
    if data.get("aggregate", "none") not in AGGREGATES:
        raise bad(f"must be one of {', '.join(AGGREGATES)}", "aggregate")
    filters = []
    for i, raw in enumerate(data.get("filters") or []):
        if not isinstance(raw, dict) or set(raw) != {"column", "op", "value"}:
            raise bad("each filter is an object with column, op and value", f"filters[{i}]")
        if raw["op"] not in ("==", "in", ">=", "<=", "between"):
            raise bad("op must be ==, in, >=, <= or between", f"filters[{i}].op")
        filters.append(Filter(raw["column"], raw["op"], raw["value"]))
    if data.get("color") is not None and not isinstance(data["color"], str):
        raise bad("must be a column name or null", "color")
    keywords = data.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise bad("must be a list of words", "keywords")
    if not isinstance(data.get("title", ""), str):
        raise bad("must be a string", "title")
    top = data.get("top")
    if top is not None and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
        raise bad("must be a positive integer", "top")
    plan = ChartPlan(data["source"], data["mark"], data["x"], data["y"], data.get("aggregate", "none"),
                     data.get("color"), filters, top, [k.lower() for k in keywords], data.get("title", ""))
    if plan.source == "table":
        if columns is None:
            raise bad("a table plan needs --table", "source")
        for name, value in (("x", plan.x), ("y", plan.y), ("color", plan.color),
                            *((f"filters[{i}].column", f.column) for i, f in enumerate(plan.filters))):
            if value is not None and value not in columns:
                raise bad(f"unknown column {value!r} (columns: {', '.join(columns)})", name)
        if values is not None:
            _check_against_values(plan, values, bad)
    elif plan.x not in ("year", "quarter", "month"):
        raise bad("an articles plan groups by year, quarter or month", "x")
    return plan


def _check_against_values(plan: ChartPlan, values: dict[str, set[str]], bad) -> None:
    """What only the table's contents can refute: text measured, unknown names, words for numbers."""
    if plan.y in values and plan.aggregate != "count":
        raise bad(f"column {plan.y!r} is text: only the aggregate count can plot it", "y")
    for i, f in enumerate(plan.filters):
        where = f"filters[{i}].value"
        items = f.value if f.op in ("in", "between") else [f.value]
        if not isinstance(items, list) or not items or (f.op == "between" and len(items) != 2):
            raise bad("'in' takes a list, 'between' a list [low, high], the other ops one value", where)
        if f.column in values:
            if f.op in (">=", "<=", "between"):
                raise bad(f"column {f.column!r} is text: filter it with == or in", f"filters[{i}].op")
            missing = [str(v) for v in items if str(v) not in values[f.column]]
            if missing:
                raise bad(f"{', '.join(repr(m) for m in missing[:3])} not found in column {f.column!r}", where)
        elif not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            raise bad(f"column {f.column!r} is numeric: filter values must be numbers", where)


def chart_data(plan: ChartPlan, table: Any = None, articles: list | None = None):
    """The rows the chart plots (a pandas DataFrame), computed from the table or the articles."""
    import pandas as pd  # deliberate: only when a chart is drawn

    from reliant.analytics.trends import period_of

    if plan.source == "articles":
        from reliant.analytics.support import content_words

        rows = []
        for a in articles or []:
            if plan.keywords and not set(plan.keywords) <= content_words(a.body):
                continue
            rows.append({"year": a.day.year, plan.x: period_of(a.day, plan.x)})
        frame = pd.DataFrame(rows, columns=["year", plan.x] if plan.x != "year" else ["year"])
        frame = _apply_filters(frame, plan.filters)
        data = frame.groupby(plan.x).size().reset_index(name="articles")
        data[plan.x] = data[plan.x].astype(str)
        return data
    frame = _apply_filters(table, plan.filters)
    keys = [plan.x] + ([plan.color] if plan.color and plan.color != plan.x else [])
    if plan.aggregate == "none":
        data = frame[keys + [plan.y]].copy()
    elif plan.aggregate == "count":
        data = frame.groupby(keys).size().reset_index(name=plan.y)
    else:
        data = frame.groupby(keys)[plan.y].agg(plan.aggregate).reset_index()
    if plan.top is not None:
        # Rank 1 is the best rank; for every other measure the largest values are the top.
        data = data.sort_values([plan.y] + keys, ascending=[plan.y.lower() == "rank"] + [True] * len(keys))
        data = data.head(plan.top)
    else:
        data = data.sort_values(keys)
    return data.reset_index(drop=True)


def _apply_filters(frame, filters: list[Filter]):
    for f in filters:
        column = frame[f.column]
        if f.op == "==":
            frame = frame[column == f.value]
        elif f.op == "in":
            frame = frame[column.isin(f.value)]
        elif f.op == ">=":
            frame = frame[column >= f.value]
        elif f.op == "<=":
            frame = frame[column <= f.value]
        else:
            frame = frame[(column >= f.value[0]) & (column <= f.value[1])]
    return frame


def chart_spec(plan: ChartPlan, data) -> dict:
    """The Vega-Lite spec (a dict) of ``plan`` drawn over ``data``, built with altair."""
    import altair as alt  # deliberate: only when a chart is drawn

    alt.data_transformers.disable_max_rows()
    x_is_time = plan.x.lower() in ("year", "quarter", "month", "period")
    import pandas as pd

    x_type = "ordinal" if x_is_time or not pd.api.types.is_numeric_dtype(data[plan.x]) else "quantitative"
    mark = {"line": alt.Chart(data).mark_line(point=True), "bar": alt.Chart(data).mark_bar(),
            "area": alt.Chart(data).mark_area(), "point": alt.Chart(data).mark_point()}[plan.mark]
    y_title = plan.y if plan.aggregate in ("none", "count") else f"{plan.aggregate} of {plan.y}"
    encoding: dict[str, Any] = {
        "x": alt.X(plan.x, type=x_type, sort="ascending" if x_is_time else "-y" if plan.mark == "bar" else None),
        "y": alt.Y(plan.y, type="quantitative", title=y_title),
        "tooltip": [c for c in data.columns],
    }
    if plan.color:
        encoding["color"] = alt.Color(plan.color, type="nominal")
    chart = mark.encode(**encoding).properties(title=plan.title or y_title, width=520, height=260)
    return chart.to_dict()


def validate_spec(spec: dict) -> list[str]:
    """Schema errors of ``spec`` against altair's Vega-Lite JSON schema (empty when valid)."""
    import jsonschema
    from altair.vegalite.v6.schema import load_schema

    validator = jsonschema.Draft7Validator(load_schema())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(spec)]


def render(spec: dict, fmt: str = "svg") -> bytes:
    """Draw ``spec`` on the server with vl-convert (bundled Vega; no network)."""
    import vl_convert as vlc

    if fmt == "png":
        return vlc.vegalite_to_png(spec, vl_version="6.4", scale=1.5)
    return vlc.vegalite_to_svg(spec, vl_version="6.4").encode("utf-8")
