"""``reliant hallucination`` end to end: run directory, determinism, the OpenAI-compatible path
against a local server, and bad inputs (exit 2, one line, nothing left behind)."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from reliant.cli import app
from tests.cli_runner import run_main

runner = CliRunner()

ROWS = [
    {"id": f"q{i}", "question": f"What is fact number {i}?",
     "answers": {"good": f"fact {i} is true", "bad": f"fact {i} is false"},
     "references": {"r1": f"fact {i} is true", "r2": f"fact {i} is false" if i % 3 == 0 else f"fact {i} is true",
                    "r3": f"fact {i} is false"},
     "wrong_answers": [f"fact {i} is false"], "corrected_answers": [f"fact {i} is true"],
     "hallucinated": {"good": 0, "bad": 1}}
    for i in range(8)
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_exact_end_to_end_and_deterministic(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", ROWS)
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = runner.invoke(app, ["hallucination", "score", "--data", str(data), "--embedder", "exact",
                                     "--neighbors", "3", "--select", "4", "--seed", "1", "--out", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(out)
    a, b = outs
    for name in ("config.yaml", "metrics.json", "report.html", "log.txt", "scores.jsonl", "weights.jsonl", "selected.jsonl"):
        assert (a / name).exists(), name
    assert (a / "scores.jsonl").read_text() == (b / "scores.jsonl").read_text()
    metrics = json.loads((a / "metrics.json").read_text())
    assert metrics["models"][0]["model"] == "good"
    assert metrics["evaluation"]["fewl"]["auroc"] == pytest.approx(1.0)
    # r3 always says the IW answer: it gets the least weight
    weights = metrics["reference_weights"]
    assert weights["r3"] < weights["r2"] < weights["r1"]
    assert metrics["selected"] == 4
    assert all(json.loads(line)["model"] == "good" for line in (a / "selected.jsonl").read_text().splitlines())
    html = (a / "report.html").read_text()
    assert html.count("<img") >= 3 and "Reference expertise weights" in html


def test_score_with_minilm_on_simulated_file(tmp_path):
    sim = tmp_path / "sim"
    result = runner.invoke(app, ["hallucination", "simulate", "--out", str(sim), "--limit", "12", "--n-models", "3",
                                 "--seed", "2"])
    assert result.exit_code == 0, result.output
    data = sim / "records.jsonl"
    for name in ("config.yaml", "metrics.json", "report.html", "log.txt", "records.jsonl"):
        assert (sim / name).exists(), name
    assert json.loads((sim / "metrics.json").read_text())["n_questions"] == 12
    out = tmp_path / "run"
    result = runner.invoke(app, ["hallucination", "score", "--data", str(data), "--neighbors", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == 36 and all({"fewl", "reference_average", "self_consistency", "gold_hallucinated"} <= set(r) for r in rows)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["evaluation"]) == {"fewl", "single_reference", "reference_average", "self_consistency",
                                         "selfcheck_ngram"}
    assert "ROC" in (out / "report.html").read_text()


def test_config_file_and_overwrite(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", ROWS)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {data}\nembedder: exact\nneighbors: 2\nweighting: uniform\n")
    out = tmp_path / "run"
    assert runner.invoke(app, ["hallucination", "score", "--config", str(cfg), "--out", str(out)]).exit_code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["reference_weights"]["r1"] == pytest.approx(1 / 3)
    assert run_main(["hallucination", "score", "--config", str(cfg), "--out", str(out)]) == 2
    assert run_main(["hallucination", "score", "--config", str(cfg), "--out", str(out), "--overwrite"]) == 0


class JSONHandler(BaseHTTPRequestHandler):
    """A local OpenAI-compatible endpoint: subclasses turn the request body into the reply."""

    def reply(self, body: dict) -> dict:
        raise NotImplementedError

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        data = json.dumps(self.reply(body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler]):
    """``handler`` on a free port of 127.0.0.1; yields the API root URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Handler(JSONHandler):
    def reply(self, body):
        prompt = body["messages"][-1]["content"]
        number = prompt.split("fact number ")[1].split("?")[0]
        text = f"fact {number} is false" if "intentionally wrong" in prompt else f"fact {number} is true"
        return {"choices": [{"index": i, "message": {"role": "assistant", "content": text}} for i in range(body.get("n", 1))]}


@pytest.fixture()
def server():
    with serve(_Handler) as url:
        yield url


def test_openai_compatible_reference_and_wrong_llm(tmp_path, server):
    rows = [{k: v for k, v in r.items() if k not in ("references", "wrong_answers", "corrected_answers")} for r in ROWS]
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    out = tmp_path / "run"
    spec = f"openai:judge@{server}"
    code = run_main(["hallucination", "score", "--data", str(data), "--embedder", "exact", "--reference-llm", f"{spec},{spec}",
                     "--wrong-llm", spec, "--n-wrong", "2", "--neighbors", "2",
                     "--sample-llm", f"good={spec}", "--n-samples", "2", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_references"] == 2 and metrics["models"][0]["model"] == "good"
    # the server's samples repeat "fact i is true": good's answer, never bad's
    assert metrics["models"][0]["self_consistency"] == pytest.approx(1.0)
    assert "self_consistency" not in metrics["models"][1]
    assert metrics["evaluation"]["fewl"]["auroc"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("rows", "extra", "expected"),
    [
        ([{"answers": {"m": "x"}}], [], "qa.jsonl:1: field 'question': missing"),
        ([], [], "qa.jsonl: contains no records"),
        ([ROWS[0], {**ROWS[1], "references": {"r1": "x"}}], [], "qa.jsonl:2: field 'references'"),
        ([ROWS[0], {**ROWS[1], "hallucinated": {"good": 1.5, "bad": 0}}], [], "qa.jsonl:2: field 'hallucinated'"),
        ([ROWS[0], {**ROWS[1], "answers": {"good": "x"}}], [], "qa.jsonl:2: field 'answers'"),
        ([{k: v for k, v in ROWS[0].items() if k != "references"}], [], "field 'references': no reference answers"),
        ([{**ROWS[0], "question": 3}], [], "qa.jsonl:1: field 'question': expected text"),
        ([ROWS[0]], ["--divergence", "wasserstein"], "field 'fewl.divergence': unknown value 'wasserstein'"),
        ([ROWS[0]], ["--threshold", "high"], "field 'fewl.threshold'"),
        ([ROWS[0]], ["--baseline-reference", "7"], "field 'fewl.baseline_reference'"),
        ([ROWS[0]], ["--reference-llm", "nonsense"], "unknown LLM spec 'nonsense'"),
        ([ROWS[0]], ["--sample-llm", "tiny"], "field 'sample_llm': expected MODEL=SPEC"),
        ([ROWS[0]], ["--sample-llm", "ghost=tiny"], "field 'sample_llm': model 'ghost' has no answers"),
    ],
)
def test_bad_inputs_exit_2_one_line(tmp_path, capsys, rows, extra, expected):
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    code = run_main(["hallucination", "score", "--data", str(data), "--embedder", "exact", "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert expected in err and len(err.splitlines()) == 1, err
    assert not out.exists() and not list(tmp_path.glob(".run*"))


def test_missing_files_exit_2(tmp_path, capsys):
    data = write_jsonl(tmp_path / "qa.jsonl", ROWS)
    assert run_main(["hallucination", "score", "--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
    refs = write_jsonl(tmp_path / "refs.jsonl", [{"references": ["a"]}])
    assert run_main(["hallucination", "score", "--data", str(data), "--references", str(refs), "--out", str(tmp_path / "o")]) == 2
    assert "refs.jsonl: has 1 records" in capsys.readouterr().err
    assert run_main(["hallucination", "simulate", "--out", str(tmp_path / "s"), "--source", "chale"]) == 2
    assert "field 'data': --source chale needs --data" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()
