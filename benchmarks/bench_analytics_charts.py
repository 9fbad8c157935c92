"""Chart requests on the Fortune 500 table: spec validity and plotted numbers vs pandas on the table.

Each request goes request -> plan -> data -> Vega-Lite (altair) -> schema check -> SVG (vl-convert);
the numbers inside the spec are compared with the same quantity computed directly from the CSV.

    .venv/bin/python benchmarks/bench_analytics_charts.py
"""

from __future__ import annotations

import json
from pathlib import Path

from reliant.analytics.charts import chart_data, chart_spec, plan_chart, render, validate_spec
from reliant.analytics.tables import load_table

FORTUNE = Path(__file__).resolve().parents[2] / "shared" / "data" / "falm_news" / "fortune500.csv"
OUT = Path(__file__).resolve().parent / "results" / "analytics" / "charts.json"


def main() -> None:
    t, values = load_table(FORTUNE)
    checks = {
        "line chart of revenue for Walmart, Exxon Mobil and General Motors from 1990 to 2021":
            lambda: {(r.Year, r.Name): r.Revenue for r in t[t.Name.isin(["Walmart", "Exxon Mobil", "General Motors"])
                                                           & t.Year.between(1990, 2021)].itertuples()},
        "total revenue by year": lambda: {(y,): v for y, v in t.groupby("Year").Revenue.sum().items()},
        "average revenue per year since 2000":
            lambda: {(y,): v for y, v in t[t.Year >= 2000].groupby("Year").Revenue.mean().items()},
        "top 10 companies by revenue in 2021":
            lambda: {(r.Name,): r.Revenue for r in t[t.Year == 2021].nlargest(10, "Revenue").itertuples()},
        "bar chart of the rank of Apple from 2000 to 2021":
            lambda: {(r.Year, r.Name): r.Rank for r in t[(t.Name == "Apple") & t.Year.between(2000, 2021)].itertuples()},
        "number of companies by year": lambda: {(y,): v for y, v in t.groupby("Year").size().items()},
        "maximum revenue by year before 1980":
            lambda: {(y,): v for y, v in t[t.Year <= 1979].groupby("Year").Revenue.max().items()},
    }
    rows = []
    for request, expected in checks.items():
        plan = plan_chart(request, list(t.columns), values)
        data = chart_data(plan, t)
        spec = chart_spec(plan, data)
        errors = validate_spec(spec)
        keys = [plan.x] + ([plan.color] if plan.color else [])
        plotted = {tuple(r[k] for k in keys): r[plan.y] for r in spec["datasets"][spec["data"]["name"]]}
        want = expected()
        want = {k if len(k) == len(keys) else k: v for k, v in want.items()}
        same = len(plotted) == len(want) and all(
            abs(plotted.get(k, float("nan")) - v) < 1e-6 * max(1, abs(v)) for k, v in want.items())
        svg = render(spec)
        rows.append({"request": request, "plan": f"{plan.mark}: {plan.aggregate} {plan.y} by {plan.x}"
                     + (f" per {plan.color}" if plan.color else ""), "points": len(plotted),
                     "spec_valid": not errors, "numbers_match_table": same, "svg_bytes": len(svg)})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
