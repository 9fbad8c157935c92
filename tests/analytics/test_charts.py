"""Chart requests -> plans -> data -> valid Vega-Lite, with the plotted numbers checked against the table."""

from __future__ import annotations

import pytest

from reliant.analytics.charts import chart_data, chart_spec, plan_chart, plan_from_json, render, validate_spec
from reliant.core.errors import UserError
from tests.analytics.conftest import FORTUNE

pytestmark = pytest.mark.skipif(not FORTUNE.exists(), reason="../shared/data/falm_news/fortune500.csv is absent")


@pytest.fixture(scope="module")
def fortune():
    from reliant.analytics.tables import load_table

    return load_table(FORTUNE)


def _draw(request, fortune):
    table, values = fortune
    plan = plan_chart(request, list(table.columns), values)
    data = chart_data(plan, table)
    spec = chart_spec(plan, data)
    assert validate_spec(spec) == []
    return plan, data, spec


def test_series_of_named_companies_match_the_table(fortune):
    table, _ = fortune
    plan, data, spec = _draw("line chart of revenue for Walmart and Apple from 2010 to 2021", fortune)
    assert (plan.mark, plan.x, plan.y, plan.color) == ("line", "Year", "Revenue", "Name")
    expected = table[table.Name.isin(["Walmart", "Apple"]) & table.Year.between(2010, 2021)]
    plotted = {(r["Year"], r["Name"]): r["Revenue"] for r in spec["datasets"][spec["data"]["name"]]}
    assert plotted == {(r.Year, r.Name): r.Revenue for r in expected.itertuples()}
    assert render(spec).startswith(b"<svg")


def test_totals_and_top_n(fortune):
    table, _ = fortune
    _, data, _ = _draw("total revenue by year", fortune)
    assert data.set_index("Year").Revenue[1990] == pytest.approx(table[table.Year == 1990].Revenue.sum())
    plan, data, _ = _draw("top 5 companies by revenue in 2021", fortune)
    assert plan.mark == "bar" and list(data.Name) == ["Walmart", "Amazon", "Apple", "CVS", "UnitedHealth Group"]


@pytest.mark.parametrize("request_text, expected", [
    ("bar chart of profit by year", "unknown column 'profit'"),
    ("revenue by sector", "unknown column 'sector'"),
    ("revenue for Walmart and Foo Corp", "'foo corp' not found in column 'Name'"),
])
def test_bad_requests_are_one_line_errors(fortune, request_text, expected):
    table, values = fortune
    with pytest.raises(UserError, match=expected):
        plan_chart(request_text, list(table.columns), values)


def test_json_plans_are_checked_field_by_field(fortune):
    table, _ = fortune
    columns = list(table.columns)
    good = {"source": "table", "mark": "bar", "x": "Year", "y": "Revenue", "aggregate": "sum"}
    assert plan_from_json(good, columns).aggregate == "sum"
    for bad, field in [({**good, "y": "Profit"}, "y"), ({**good, "mark": "pie"}, "mark"),
                       ({**good, "code": "import os"}, "code"),
                       ({**good, "filters": [{"column": "Sector", "op": "==", "value": 1}]}, "filters[0].column")]:
        with pytest.raises(UserError) as info:
            plan_from_json(bad, columns)
        assert info.value.field == field


def test_article_counts():
    import datetime as dt

    from reliant.analytics.inputs import Article

    articles = [Article(str(i), dt.date(2008, m, 1), "Oil prices rise", "Crude oil.") for i, m in enumerate([1, 1, 5])]
    articles.append(Article("x", dt.date(2008, 5, 2), "Bank fails", "No."))
    plan = plan_chart("articles about oil per month")
    data = chart_data(plan, articles=articles)
    assert dict(zip(data.month, data.articles)) == {"2008-01": 2, "2008-05": 1}
