"""Chart planners: the LLM's JSON plan is validated, re-asked with its error, or refused; never run."""

from __future__ import annotations

import json

import pytest

from reliant.analytics.charts import plan_from_json
from reliant.analytics.planners import PLANNERS, LLMPlanner, parse_plan_reply
from reliant.core.errors import UserError
from reliant.core.llm import LLMBackend
from tests.analytics.conftest import FORTUNE
from tests.cli_runner import run_main

COLUMNS = ["Year", "Name", "Revenue", "Rank"]
VALUES = {"Name": {"Walmart", "Apple", "Exxon Mobil"}}
GOOD = {"source": "table", "mark": "line", "x": "Year", "y": "Revenue", "aggregate": "none", "color": "Name",
        "filters": [{"column": "Name", "op": "in", "value": ["Walmart", "Apple"]},
                    {"column": "Year", "op": "between", "value": [2000, 2021]}], "top": None, "keywords": [],
        "title": "Revenue"}


class ScriptedLLM(LLMBackend):
    """Replies from a script, in order; records every chat it was shown."""

    name = "scripted"

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.chats: list[list[dict]] = []

    def chat(self, messages_list, **kwargs):
        self.chats += [list(m) for m in messages_list]
        return [[self.replies.pop(0)] for _ in messages_list]

    def generate(self, prompts, **kwargs):
        raise AssertionError("the planner talks through chat()")

    def logprobs(self, prompts, continuations):
        raise AssertionError("not used")


def test_a_valid_reply_is_the_plan_even_with_chatter_around_it():
    backend = ScriptedLLM([f"Sure! Here is the plan:\n```json\n{json.dumps(GOOD)}\n```\nEnjoy."])
    planner = LLMPlanner(backend=backend)
    plan = planner.plan("revenue of Walmart and Apple since 2000", COLUMNS, VALUES)
    assert (plan.x, plan.y, plan.color, plan.filters[0].value) == ("Year", "Revenue", "Name", ["Walmart", "Apple"])
    assert [a["error"] for a in planner.attempts] == [None]
    shown = backend.chats[0][-1]["content"]
    assert "Name (text, e.g." in shown and "Revenue (number)" in shown and "Request: revenue of Walmart" in shown


def test_an_invalid_plan_is_sent_back_with_its_error_then_accepted():
    wrong = {**GOOD, "y": "Profit"}
    backend = ScriptedLLM([json.dumps(wrong), json.dumps(GOOD)])
    planner = LLMPlanner(backend=backend, retries=2)
    assert planner.plan("revenue by year", COLUMNS, VALUES).y == "Revenue"
    assert len(planner.attempts) == 2 and "unknown column 'Profit'" in planner.attempts[0]["error"]
    feedback = backend.chats[1][-1]["content"]
    assert "That plan is invalid" in feedback and "field 'y': unknown column 'Profit'" in feedback
    assert backend.chats[1][-2] == {"role": "assistant", "content": json.dumps(wrong)}


def test_a_planner_that_never_gets_it_right_is_refused_in_one_line():
    code = "import os; os.system('touch /tmp/pwned')"
    backend = ScriptedLLM([code, json.dumps({**GOOD, "mark": "pie"}), json.dumps({**GOOD, "filters": [
        {"column": "Name", "op": "in", "value": ["Foo Corp"]}]})])
    planner = LLMPlanner(backend=backend, retries=2)
    with pytest.raises(UserError) as caught:
        planner.plan("a pie of revenue", COLUMNS, VALUES)
    message = caught.value.one_line()
    assert "gave no valid chart plan in 3 tries" in message and "'Foo Corp' not found in column 'Name'" in message
    assert "\n" not in message
    assert [a["error"] for a in planner.attempts][:2] == ["the reply holds no JSON object",
                                                          "field 'mark': must be one of line, bar, area, point"]


@pytest.mark.parametrize("change, expected", [
    ({"y": "Name", "aggregate": "sum"}, "is text: only the aggregate count"),
    ({"filters": [{"column": "Year", "op": ">=", "value": "2000"}]}, "is numeric: filter values must be numbers"),
    ({"filters": [{"column": "Name", "op": ">=", "value": "Apple"}]}, "filter it with == or in"),
    ({"filters": [{"column": "Year", "op": "between", "value": [2000]}]}, "'between' a list [low, high]"),
    ({"keywords": "oil"}, "field 'keywords'"),
    ({"color": ["Name"]}, "field 'color'"),
    ({"code": "print(1)"}, "unknown plan field(s) code"),
])
def test_plans_are_checked_against_the_table(change, expected):
    with pytest.raises(UserError, match=None) as caught:
        plan_from_json({**GOOD, **change}, COLUMNS, values=VALUES)
    assert expected in caught.value.one_line()


def test_json_is_found_in_replies():
    assert parse_plan_reply('x {"a": {"b": 1}} y {"c": 2}') == {"a": {"b": 1}}
    assert parse_plan_reply('{broken {"a": 1}') == {"a": 1}
    with pytest.raises(UserError):
        parse_plan_reply("no braces here")


def test_the_registry_matches_the_config_choices():
    from reliant.analytics.config import PLANNER_NAMES

    assert set(PLANNERS) == set(PLANNER_NAMES)


@pytest.mark.skipif(not FORTUNE.exists(), reason="fortune500.csv is absent")
def test_chart_command_with_the_llm_planner(tmp_path, monkeypatch, capsys):
    import reliant.core.llm as llm

    plan = {**GOOD, "filters": [{"column": "Name", "op": "in", "value": ["Walmart", "Apple"]},
                                {"column": "Year", "op": "between", "value": [2015, 2021]}]}
    backend = ScriptedLLM(['{"source": "table", "mark": "line", "x": "Year", "y": "Profits"}', json.dumps(plan)])
    seen = []
    monkeypatch.setattr(llm, "make_backend", lambda spec: seen.append(spec) or backend)
    code = run_main(["analytics", "chart", "--table", FORTUNE, "--request", "revenue of Walmart and Apple since 2015",
                     "--planner", "llm", "--planner-llm", "openai:some-model@http://127.0.0.1:1/v1",
                     "--out", tmp_path / "c"])
    assert code == 0, capsys.readouterr().err
    assert seen == ["openai:some-model@http://127.0.0.1:1/v1"]
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert metrics["planner_tries"] == 2 and metrics["spec_valid"] and metrics["rows"] == 14
    tries = [json.loads(line) for line in (tmp_path / "c" / "planner_attempts.jsonl").read_text().splitlines()]
    assert "unknown column 'Profits'" in tries[0]["error"] and tries[1]["error"] is None


@pytest.mark.skipif(not FORTUNE.exists(), reason="fortune500.csv is absent")
def test_a_refused_llm_plan_exits_2_and_leaves_no_run_folder(tmp_path, monkeypatch, capsys):
    import reliant.core.llm as llm
    from tests.cli_runner import assert_exit_2_one_line

    monkeypatch.setattr(llm, "make_backend", lambda spec: ScriptedLLM(["no plan, sorry"] * 2))
    assert_exit_2_one_line(["analytics", "chart", "--table", FORTUNE, "--request", "revenue by year", "--planner",
                            "llm", "--planner-retries", "1", "--out", tmp_path / "out"], capsys,
                           "gave no valid chart plan in 2 tries; last: the reply holds no JSON object", tmp_path)


@pytest.mark.skipif(not FORTUNE.exists(), reason="fortune500.csv is absent")
def test_the_web_page_plans_charts_with_the_configured_planner(news_index):
    from reliant.analytics.service import AnalyticsService
    from reliant.analytics.tables import load_table

    table, values = load_table(FORTUNE)
    articles_plan = {"source": "articles", "mark": "bar", "x": "month", "y": "articles", "aggregate": "count",
                     "keywords": ["Oil"]}
    service = AnalyticsService(news_index, table, values, planner=LLMPlanner(backend=ScriptedLLM(
        [json.dumps({**articles_plan, "x": "week"}), json.dumps(articles_plan)])))
    result = service.chart("articles about oil per month")
    assert (result["planner"], result["planner_tries"], result["spec_valid"]) == ("llm", 2, True)
    assert result["plan"]["keywords"] == ["oil"] and result["svg"].startswith("<svg")
