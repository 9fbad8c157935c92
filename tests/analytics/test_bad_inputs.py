"""Bad inputs of every analytics command: exit 2, one stderr line naming file/line/field, no run folder."""

from __future__ import annotations

import json

import pytest

from tests.analytics.conftest import FORTUNE
from tests.cli_runner import assert_exit_2_one_line

GOOD = {"id": "a", "date": "2008-01-01", "title": "Oil", "text": "Oil rose."}


def _corpus(folder, name, rows=None, text=None):
    path = folder / name
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


INDEX_CASES = {
    "no date": ([GOOD, {"id": "b", "title": "t", "text": "x"}], "field 'date': missing"),
    "null date": ([GOOD, {"id": "b", "date": None, "title": "t"}], "field 'date': missing"),
    "unparsable date": ([GOOD, {"id": "b", "date": "last Tuesday", "title": "t"}], "not ISO 8601"),
    "impossible date": ([GOOD, {"id": "b", "date": "2008-13-01", "title": "t"}], "date"),
    "no id": ([{"date": "2008-01-01", "title": "t"}], "field 'id': missing"),
    "duplicate id": ([GOOD, GOOD], "used twice"),
    "empty article": ([{"id": "b", "date": "2008-01-01", "title": "", "text": ""}], "neither a title nor a text"),
    "empty corpus": (None, "contains no records"),
    "bad json": ("bad", "a.jsonl:1"),
    "binary": (b"\x00\x01\x02" * 50, "binary"),
}


@pytest.mark.parametrize("case", list(INDEX_CASES), ids=list(INDEX_CASES))
def test_index_bad_corpus(case, tmp_path, capsys):
    rows, expected = INDEX_CASES[case]
    if case == "empty corpus":
        path = _corpus(tmp_path, "a.jsonl", text="")
    elif case == "bad json":
        path = _corpus(tmp_path, "a.jsonl", text="{not json\n")
    elif case == "binary":
        path = _corpus(tmp_path, "a.jsonl", text=rows)
    else:
        path = _corpus(tmp_path, "a.jsonl", rows)
    assert_exit_2_one_line(["analytics", "index", "--data", path, "--index", tmp_path / "idx",
                            "--out", tmp_path / "out"], capsys, expected, tmp_path)
    assert not (tmp_path / "idx").exists()


def test_index_into_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    path = _corpus(tmp_path, "a.jsonl", [GOOD])
    assert_exit_2_one_line(["analytics", "index", "--data", path, "--index", tmp_path / "mine", "--out",
                            tmp_path / "out"], capsys, "not an analytics index", tmp_path)


def _old_index(index_dir, folder):
    other = folder / "old-index"
    other.mkdir()
    for name in ("articles.jsonl", "vectors.npy"):
        (other / name).write_bytes((index_dir / name).read_bytes())
    meta = json.loads((index_dir / "index.json").read_text())
    (other / "index.json").write_text(json.dumps({**meta, "version": 99}))
    return other


def _index_cases(index_dir, folder):
    (folder / "empty").mkdir()
    return {
        "missing index": (folder / "nope", "no such file or folder"),
        "not an index": (folder / "empty", "not an analytics index"),
        "other version": (_old_index(index_dir, folder), "field 'version': index format version 99"),
        "file as index": (_corpus(folder, "f.jsonl", [GOOD]), "is a file, expected a folder"),
    }


@pytest.mark.parametrize("command", ["ask", "trends", "eval", "serve"])
def test_bad_index_folders(command, index_dir, tmp_path, capsys):
    extra = {"ask": ["--question", "oil?"], "trends": [], "serve": [],
             "eval": ["--questions", _corpus(tmp_path, "q.jsonl", [{"question": "q"}])]}[command]
    out = [] if command == "serve" else ["--out", tmp_path / "out"]
    for case, (folder, expected) in _index_cases(index_dir, tmp_path).items():
        assert_exit_2_one_line(["analytics", command, "--index", folder, *extra, *out], capsys, expected, tmp_path)


ASK_CASES = {
    "bad as-of": (["--question", "oil?", "--as-of", "May 2008"], "field 'as_of': expected an ISO day"),
    "empty question": (["--question", "  "], "question is empty"),
    "no question": ([], "--question is required"),
    "unknown answerer": (["--question", "q", "--answerer", "gpt"], "unknown value 'gpt'"),
    "k zero": (["--question", "q", "--k", "0"], "field 'retrieval.k'"),
    "unknown store": (["--question", "q", "--store", "pinecone"], "unknown value 'pinecone'"),
    "negative recency": (["--question", "q", "--recency-weight", "-1"], "recency_weight"),
    "store url without qdrant": (["--question", "q", "--store-url", "http://localhost:6333"],
                                 "field 'store_url': --store-url is for --store qdrant"),
    "store url not http": (["--question", "q", "--store", "qdrant", "--store-url", "localhost:6333"],
                           "expected http(s)://host[:port]"),
    "api key in the url": (["--question", "q", "--store", "qdrant", "--store-url", "http://me:key@localhost:6333"],
                           "not in the URL"),
    # port 9 (discard) is closed on any test machine: nothing listens, the connection is refused
    "unreachable store url": (["--question", "q", "--store", "qdrant", "--store-url", "http://127.0.0.1:9"],
                              "field 'store_url': cannot use the Qdrant server at http://127.0.0.1:9"),
}


@pytest.mark.parametrize("case", list(ASK_CASES), ids=list(ASK_CASES))
def test_ask_bad_options(case, index_dir, tmp_path, capsys):
    args, expected = ASK_CASES[case]
    assert_exit_2_one_line(["analytics", "ask", "--index", index_dir, *args, "--out", tmp_path / "out"], capsys,
                           expected, tmp_path)


def test_trends_bad_options(index_dir, tmp_path, capsys):
    for args, expected in [(["--start", "2009-13-01"], "field 'start'"),
                           (["--start", "2009-01-01", "--end", "2008-01-01"], "is after --end"),
                           (["--topics", "1"], "field 'topics'"),
                           (["--start", "2010-01-01"], "fewer than --topics")]:
        assert_exit_2_one_line(["analytics", "trends", "--index", index_dir, *args, "--out", tmp_path / "out"], capsys,
                               expected, tmp_path)


@pytest.mark.skipif(not FORTUNE.exists(), reason="fortune500.csv is absent")
def test_chart_bad_requests(index_dir, tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"source": "table", "mark": "line", "x": "Year", "y": "Profit"}))
    not_json = tmp_path / "p.json"
    not_json.write_text("{oops")
    table = ["--table", FORTUNE]
    for args, expected in [
        (table + ["--request", "line chart of profit by year"], "unknown column 'profit'"),
        (table + ["--request", "revenue by sector"], "unknown column 'sector'"),
        (table + ["--plan", plan], "field 'y': unknown column 'Profit'"),
        (table + ["--plan", not_json], "is not a JSON chart plan"),
        (table + ["--request", "revenue for Walmart and Foo Corp"], "'foo corp' not found"),
        (["--request", "total revenue by year"], "give --table"),
        (table + ["--request", "articles about oil per year"], "give --index"),
        (table, "give --request or --plan"),
        (table + ["--request", "x", "--plan", plan], "give --request or --plan"),
        (table + ["--plan", plan, "--planner", "llm"], "field 'planner': --planner llm turns --request into a plan"),
        (table + ["--request", "x", "--planner", "gpt"], "unknown value 'gpt'"),
        (table + ["--request", "x", "--planner-retries", "-1"], "planner_retries"),
        (["--table", tmp_path / "none.csv", "--request", "x"], "no such file"),
    ]:
        assert_exit_2_one_line(["analytics", "chart", *args, "--out", tmp_path / "out"], capsys, expected, tmp_path)


def test_eval_bad_questions(index_dir, tmp_path, capsys):
    good = {"question": "oil?", "as_of": "2008-12-31", "gold_ids": ["ID109612"], "gold_start": "2008-07-01",
            "gold_end": "2008-07-31"}
    for row, expected in [({**good, "as_of": "soon"}, "field 'as_of'"), ({**good, "gold_ids": []}, "gold_ids"),
                          ({**good, "gold_ids": ["nope"]}, "not in the index"),
                          ({**good, "gold_start": "2009-01-01"}, "gold_start is after gold_end")]:
        path = _corpus(tmp_path, "q.jsonl", [good, row])
        assert_exit_2_one_line(["analytics", "eval", "--index", index_dir, "--questions", path, "--out",
                                tmp_path / "out"], capsys, expected, tmp_path)
