"""Chart requests on the Fortune 500 table: spec validity and plotted numbers vs pandas on the table.

Each request goes request -> plan -> data -> Vega-Lite (altair) -> schema check -> SVG (vl-convert);
the numbers inside the spec are compared with the same quantity computed directly from the CSV.
``--planner llm`` lets a model write each plan as JSON (validated, re-asked with its error, or
refused; never executed) instead of the request grammar.

    .venv/bin/python benchmarks/bench_analytics_charts.py
    .venv/bin/python benchmarks/bench_analytics_charts.py --planner llm --planner-llm smollm2 --limit 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from reliant.analytics.charts import chart_data, chart_spec, render, validate_spec
from reliant.analytics.config import PlannerParams
from reliant.analytics.planners import make_planner
from reliant.analytics.tables import load_table
from reliant.core.errors import UserError

FORTUNE = Path(__file__).resolve().parents[2] / "shared" / "data" / "falm_news" / "fortune500.csv"
OUT = Path(__file__).resolve().parent / "results" / "analytics"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planner", choices=("rules", "llm"), default="rules")
    parser.add_argument("--planner-llm", default="smollm2")
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N requests")
    args = parser.parse_args()
    planner = make_planner(PlannerParams(args.planner, args.planner_llm, args.retries))
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
    for request, expected in list(checks.items())[: args.limit]:
        started = time.perf_counter()
        try:
            plan = planner.plan(request, list(t.columns), values)
        except UserError as exc:
            rows.append({"request": request, "plan": None, "refused": exc.one_line(), "tries": len(planner.attempts),
                         "spec_valid": False, "numbers_match_table": False, "attempts": planner.attempts,
                         "seconds": time.perf_counter() - started})
            print(json.dumps(rows[-1]))
            continue
        try:
            data = chart_data(plan, t)
            spec = chart_spec(plan, data)
        except Exception as exc:  # a validated plan the data step still cannot draw: a finding, recorded
            rows.append({"request": request, "plan": plan.to_json(), "error": repr(exc)[:200], "spec_valid": False,
                         "numbers_match_table": False, "tries": len(planner.attempts)})
            print(json.dumps(rows[-1]))
            continue
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
                     "spec_valid": not errors, "numbers_match_table": same, "svg_bytes": len(svg),
                     "tries": len(planner.attempts), "seconds": time.perf_counter() - started}
                    | ({"attempts": planner.attempts} if args.planner == "llm" else {}))
        print(json.dumps(rows[-1]))
    planner.close()
    OUT.mkdir(parents=True, exist_ok=True)
    name = "charts.json" if args.planner == "rules" else f"charts_llm_{args.planner_llm.split(':')[0]}.json"
    (OUT / name).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
