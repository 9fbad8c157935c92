"""The commands end to end on a small index: run folders with what they promise."""

from __future__ import annotations

import json

import pytest

from tests.analytics.conftest import FORTUNE
from tests.cli_runner import run_main


def test_index_then_update(corpus_file, tmp_path, capsys):
    small = tmp_path / "few.jsonl"
    small.write_text("".join(corpus_file.read_text().splitlines(keepends=True)[:3]))
    assert run_main(["analytics", "index", "--data", small, "--index", tmp_path / "idx", "--out", tmp_path / "r1"]) == 0
    metrics = json.loads((tmp_path / "r1" / "metrics.json").read_text())
    assert (metrics["total"], metrics["embedded"]) == (3, 3)
    assert run_main(["analytics", "index", "--data", small, "--index", tmp_path / "idx", "--out", tmp_path / "r2"]) == 0
    assert json.loads((tmp_path / "r2" / "metrics.json").read_text())["embedded"] == 0
    assert (tmp_path / "r2" / "report.html").is_file()


def test_ask_writes_a_cited_answer_and_the_baseline(index_dir, tmp_path, capsys):
    out = tmp_path / "ask"
    code = run_main(["analytics", "ask", "--index", index_dir, "--question", "What happened with the iPhone 3G in July 2008?",
                     "--as-of", "2008-12-31", "--k", "3", "--max-sentences", "1", "--out", out])
    assert code == 0, capsys.readouterr().err
    answer = json.loads((out / "answer.json").read_text())
    assert answer["parts"][0]["sentences"][0]["citations"][0]["date"].startswith("2008-07")
    assert (out / "baseline_answer.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["in_window"]["time_aware"] == 1.0
    assert "[ID" in capsys.readouterr().out


def test_trends_and_chart(index_dir, tmp_path, capsys):
    assert run_main(["analytics", "trends", "--index", index_dir, "--topics", "3", "--period", "month",
                     "--recent-periods", "2", "--out", tmp_path / "t"]) == 0
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert len(metrics["topics"]) == 3 and metrics["spec_valid"]
    assert sum(t["articles"] for t in metrics["topics"]) == 48
    assert (tmp_path / "t" / "trends.svg").read_bytes().startswith(b"<svg")
    assert run_main(["analytics", "chart", "--index", index_dir, "--request", "articles about oil per month",
                     "--out", tmp_path / "c"]) == 0
    assert json.loads((tmp_path / "c" / "metrics.json").read_text())["spec_valid"]
    assert (tmp_path / "c" / "chart.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not FORTUNE.exists(), reason="fortune500.csv is absent")
def test_chart_from_the_fortune_table(tmp_path, capsys):
    assert run_main(["analytics", "chart", "--table", FORTUNE, "--request", "total revenue by year since 2000",
                     "--out", tmp_path / "c"]) == 0
    lines = (tmp_path / "c" / "data.csv").read_text().splitlines()
    assert lines[0] == "Year,Revenue" and len(lines) == 23


def test_registries_match_the_config_choices():
    from reliant.analytics.answer import ANSWERERS
    from reliant.analytics.config import ANSWERER_NAMES, STORE_NAMES
    from reliant.analytics.stores import STORES

    assert set(ANSWERERS) == set(ANSWERER_NAMES) and set(STORES) == set(STORE_NAMES)
