"""LLM backends: a scripted local OpenAI-compatible server and tiny random transformers."""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import torch

from reliant.core.errors import ConfigError, UserError
from reliant.core.llm import (
    LLMBackend,
    OpenAICompatibleBackend,
    TransformersBackend,
    make_backend,
    parse_spec,
    render_chat_plain,
)

SECRET = "sk-test-SECRET-9f8e7d6c5b4a"

# --------------------------------------------------------------------------- scripted server


class ScriptedServer:
    """An OpenAI-compatible server whose behaviour is chosen by the request's model name.

    Attempts are counted per (model, prompt), so "fail once then succeed" applies to
    each prompt of a batch independently.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                try:
                    server.handle(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up, as the slow scenarios intend

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with self.lock:
            self.attempts: Counter = Counter()
            self.requests: list[dict[str, Any]] = []
            self.inflight = 0
            self.max_inflight = 0

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- replies

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _ok_body(path: str, body: dict, text: str, n: int) -> dict:
        if path.endswith("/chat/completions"):
            choices = [
                {"index": i, "message": {"role": "assistant", "content": text + (f"#{i}" if n > 1 else "")},
                 "finish_reason": "stop"}
                for i in range(n)
            ]
        else:
            choices = [
                {"index": i, "text": text + (f"#{i}" if n > 1 else ""), "finish_reason": "stop"}
                for i in range(n)
            ]
        # Reversed on purpose: clients must order choices by "index", not by position.
        return {"id": "cmpl-1", "object": "x", "model": body.get("model"), "choices": choices[::-1]}

    @staticmethod
    def _echo_logprobs(body: dict) -> dict:
        text = body["prompt"]
        tokens = list(re.finditer(r"\s*\S+", text))
        return {
            "choices": [{
                "index": 0,
                "text": text,
                "logprobs": {
                    "tokens": [m.group() for m in tokens],
                    "text_offset": [m.start() for m in tokens],
                    "token_logprobs": [None] + [-(i / 10) for i in range(1, len(tokens))],
                    "top_logprobs": None,
                },
            }]
        }

    def handle(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        path = handler.path
        model = body.get("model", "")
        prompt = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
        with self.lock:
            self.attempts[(model, prompt)] += 1
            attempt = self.attempts[(model, prompt)]
            self.requests.append(
                {"path": path, "headers": dict(handler.headers.items()), "body": body}
            )
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            self._reply(handler, path, body, model, prompt, attempt)
        finally:
            with self.lock:
                self.inflight -= 1

    def _reply(self, h: BaseHTTPRequestHandler, path: str, body: dict, model: str, prompt: str, attempt: int) -> None:
        n = body.get("n", 1)
        ok = self._ok_body(path, body, f"re:{prompt}", n)
        if model == "echo":
            self._send(h, 200, ok)
        elif model == "r429":
            if attempt == 1:
                self._send(h, 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
            else:
                self._send(h, 200, ok)
        elif model == "r429-wait":
            if attempt == 1:
                self._send(h, 429, {"error": {"message": "slow down"}}, {"Retry-After": "0.4"})
            else:
                self._send(h, 200, ok)
        elif model == "r500":
            if attempt == 1:
                self._send(h, 500, b"Internal Server Error")
            else:
                self._send(h, 200, ok)
        elif model == "always503":
            self._send(h, 503, {"error": {"message": "overloaded"}})
        elif model == "badjson-once":
            self._send(h, 200, b"<html>not json" if attempt == 1 else json.dumps(ok).encode())
        elif model == "badjson":
            self._send(h, 200, b"{truncated")
        elif model == "nochoices":
            self._send(h, 200, {"id": "x", "object": "chat.completion"})
        elif model == "fewchoices":
            self._send(h, 200, self._ok_body(path, body, "only", 1))
        elif model == "slow":
            time.sleep(0.6)
            self._send(h, 200, ok)
        elif model == "slow-once":
            if attempt == 1:
                time.sleep(0.6)
            self._send(h, 200, ok)
        elif model == "auth401":
            # Real servers sometimes quote the key they rejected; the client must scrub it.
            given = h.headers.get("Authorization", "").removeprefix("Bearer ")
            self._send(h, 401, {"error": {"message": f"Incorrect API key provided: {given}"}})
        elif model == "bad400":
            self._send(h, 400, {"error": {"message": "unknown field 'foo'\nsee the docs"}})
        elif model == "concurrent":
            time.sleep(random.uniform(0.02, 0.08))
            self._send(h, 200, ok)
        elif model == "ignores-stop":
            self._send(h, 200, self._ok_body(path, body, "keep this STOP drop this", n))
        elif model == "logprob":
            self._send(h, 200, self._echo_logprobs(body))
        elif model == "no-echo":
            self._send(h, 400, {"error": {"message": "echo is not supported"}})
        elif model == "no-logprobs-field":
            self._send(h, 200, {"choices": [{"index": 0, "text": body["prompt"]}]})
        else:
            self._send(h, 404, {"error": {"message": f"model {model} not found"}})


@pytest.fixture(scope="module")
def _server_instance() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def server(_server_instance: ScriptedServer) -> ScriptedServer:
    _server_instance.reset()
    return _server_instance


def backend(server: ScriptedServer, model: str, **kwargs: Any) -> OpenAICompatibleBackend:
    options: dict[str, Any] = dict(
        api_key=SECRET, timeout=2.0, max_retries=3, backoff_base=0.01, backoff_max=0.05,
        show_progress=False,
    )
    options.update(kwargs)
    return OpenAICompatibleBackend(server.url, model, **options)


def attempts_for(server: ScriptedServer, model: str) -> int:
    return sum(count for (m, _), count in server.attempts.items() if m == model)


# --------------------------------------------------------------------------- HTTP: happy paths


def test_chat_mode_generate_sends_user_message_and_orders_choices(server: ScriptedServer) -> None:
    with backend(server, "echo") as llm:
        out = llm.generate(["hi", "there"], max_new_tokens=7, temperature=0.7, top_p=0.9, n=2, seed=11)
    assert out == [["re:hi#0", "re:hi#1"], ["re:there#0", "re:there#1"]]
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["messages"] in ([{"role": "user", "content": "hi"}], [{"role": "user", "content": "there"}])
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["n"], body["seed"]) == (7, 0.7, 0.9, 2, 11)
    assert "stop" not in body


def test_completions_mode_and_stop_passthrough(server: ScriptedServer) -> None:
    with backend(server, "echo", mode="completions") as llm:
        assert llm.generate(["abc"], stop=["\n"]) == [["re:abc"]]
    body = server.requests[0]["body"]
    assert server.requests[0]["path"] == "/v1/completions"
    assert body["prompt"] == "abc" and body["stop"] == ["\n"] and "seed" not in body


def test_stop_is_applied_even_when_the_server_ignores_it(server: ScriptedServer) -> None:
    with backend(server, "ignores-stop") as llm:
        assert llm.generate(["x"], stop=["STOP"]) == [["keep this "]]


def test_chat_sends_messages_as_given(server: ScriptedServer) -> None:
    chat = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]
    with backend(server, "echo") as llm:
        assert llm.chat([chat]) == [["re:2+2?"]]
    assert server.requests[0]["body"]["messages"] == chat


def test_chat_in_completions_mode_renders_text(server: ScriptedServer) -> None:
    chat = [{"role": "user", "content": "2+2?"}]
    with backend(server, "echo", mode="completions") as llm:
        llm.chat([chat])
    assert server.requests[0]["body"]["prompt"] == render_chat_plain(chat) == "User: 2+2?\nAssistant:"


def test_concurrency_limit_and_input_order(server: ScriptedServer) -> None:
    prompts = [f"p{i}" for i in range(12)]
    with backend(server, "concurrent", concurrency=3) as llm:
        out = llm.generate(prompts)
    assert out == [[f"re:{p}"] for p in prompts]
    assert 2 <= server.max_inflight <= 3


# --------------------------------------------------------------------------- HTTP: retries


def test_429_is_retried_and_retry_after_replaces_backoff(server: ScriptedServer) -> None:
    # A 10 s computed backoff would blow the test's time budget: Retry-After: 0 must win.
    start = time.monotonic()
    with backend(server, "r429", backoff_base=10.0, backoff_max=10.0) as llm:
        assert llm.generate(["a", "b"]) == [["re:a"], ["re:b"]]
    assert time.monotonic() - start < 2.0
    assert attempts_for(server, "r429") == 4


def test_retry_after_is_honoured(server: ScriptedServer) -> None:
    start = time.monotonic()
    with backend(server, "r429-wait", backoff_base=0.0, backoff_max=0.0) as llm:
        assert llm.generate(["a"]) == [["re:a"]]
    assert time.monotonic() - start >= 0.35


def test_500_is_retried(server: ScriptedServer) -> None:
    with backend(server, "r500") as llm:
        assert llm.generate(["a"]) == [["re:a"]]
    assert attempts_for(server, "r500") == 2


def test_persistent_5xx_gives_up_after_max_retries(server: ScriptedServer) -> None:
    with backend(server, "always503", max_retries=2) as llm, pytest.raises(UserError) as info:
        llm.generate(["a"])
    assert attempts_for(server, "always503") == 3
    message = str(info.value)
    assert "3 attempt(s)" in message and "HTTP 503" in message and "overloaded" in message
    assert "\n" not in message


def test_malformed_json_is_retried_then_succeeds(server: ScriptedServer) -> None:
    with backend(server, "badjson-once") as llm:
        assert llm.generate(["a"]) == [["re:a"]]
    assert attempts_for(server, "badjson-once") == 2


@pytest.mark.parametrize(
    ("model", "n", "expected"),
    [("badjson", 1, "not JSON"), ("nochoices", 1, "no 'choices'"), ("fewchoices", 2, "expected 2 choice(s), got 1")],
)
def test_malformed_replies_end_in_a_clear_error(server: ScriptedServer, model: str, n: int, expected: str) -> None:
    with backend(server, model, max_retries=2) as llm, pytest.raises(UserError) as info:
        llm.generate(["a"], n=n)
    assert expected in str(info.value) and "malformed reply" in str(info.value)
    assert attempts_for(server, model) == 3


def test_timeout_is_retried_then_succeeds(server: ScriptedServer) -> None:
    with backend(server, "slow-once", timeout=0.2) as llm:
        assert llm.generate(["a"]) == [["re:a"]]
    assert attempts_for(server, "slow-once") == 2


def test_timeout_gives_up(server: ScriptedServer) -> None:
    start = time.monotonic()
    with backend(server, "slow", timeout=0.2, max_retries=1) as llm, pytest.raises(UserError) as info:
        llm.generate(["a"])
    assert "no reply within 0.2 s" in str(info.value)
    assert attempts_for(server, "slow") == 2
    assert time.monotonic() - start < 1.5


def test_connection_errors_are_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAICompatibleBackend(
        f"http://127.0.0.1:{port}/v1", "m", api_key=SECRET, max_retries=2,
        backoff_base=0.01, backoff_max=0.02, show_progress=False,
    )
    with llm, pytest.raises(UserError) as info:
        llm.generate(["a"])
    assert "connection failed" in str(info.value) and "3 attempt(s)" in str(info.value)


def test_other_4xx_is_not_retried_and_reports_status_and_message(server: ScriptedServer) -> None:
    with backend(server, "bad400") as llm, pytest.raises(UserError) as info:
        llm.generate(["a"])
    assert attempts_for(server, "bad400") == 1
    message = str(info.value)
    assert "HTTP 400" in message and "unknown field 'foo' see the docs" in message
    assert "\n" not in message


def test_a_fatal_error_stops_the_rest_of_the_batch(server: ScriptedServer) -> None:
    with backend(server, "auth401", concurrency=2) as llm, pytest.raises(UserError):
        llm.generate([f"p{i}" for i in range(30)])
    assert attempts_for(server, "auth401") <= 4


# --------------------------------------------------------------------------- HTTP: the API key


def test_key_is_sent_but_never_logged_or_shown(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELIANT_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "reliant"):
        caplog.set_level(logging.DEBUG, logger=name)
    llm = OpenAICompatibleBackend(
        server.url, "echo", api_key_env="RELIANT_TEST_KEY", max_retries=2,
        backoff_base=0.01, backoff_max=0.02, show_progress=False,
    )
    texts = [repr(llm), str(llm), repr(vars(llm))]
    llm.generate(["a"])
    llm.model = "r500"
    llm.generate(["b"])  # retried, so the retry is logged
    errors = []
    for model in ("auth401", "always503", "no-echo"):
        llm.model = model
        with pytest.raises(UserError) as info:
            if model == "no-echo":
                llm.logprobs(["a"], [" b"])
            else:
                llm.generate(["c"])
        errors.append(info.value)
    llm.close()

    assert all(r["headers"].get("Authorization") == f"Bearer {SECRET}" for r in server.requests)
    assert any("HTTP Request" in record.getMessage() for record in caplog.records), "httpx logs were not captured"
    assert any("send_request_headers" in record.getMessage() for record in caplog.records), "no httpcore DEBUG logs"
    assert any("retrying" in record.getMessage() for record in caplog.records)
    assert "Incorrect API key provided: ***" in str(errors[0])
    texts += [caplog.text] + [str(e) for e in errors] + [repr(e) for e in errors]
    texts += ["".join(traceback.format_exception(type(e), e, e.__traceback__)) for e in errors]
    for text in texts:
        assert SECRET not in text
        assert SECRET[8:] not in text


def test_no_key_means_no_authorization_header(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with OpenAICompatibleBackend(server.url, "echo", show_progress=False) as llm:
        llm.generate(["a"])
        assert "api_key=unset" in repr(llm)
    assert "Authorization" not in server.requests[0]["headers"]


# --------------------------------------------------------------------------- HTTP: logprobs


def test_logprobs_via_completions_echo(server: ScriptedServer) -> None:
    with backend(server, "logprob", mode="chat") as llm:
        out = llm.logprobs(["the cat", "the ca", "x"], [" sat on", "t sat", ""])
    # Tokens: "the"(None) " cat"(-0.1) " sat"(-0.2) " on"(-0.3); the straddling " cat"
    # belongs to the continuation "t sat".
    assert out == [[-0.2, -0.3], [-0.1, -0.2], []]
    assert len(server.requests) == 2  # the empty continuation needs no request
    request = server.requests[0]
    assert request["path"] == "/v1/completions"
    body = request["body"]
    assert (body["echo"], body["logprobs"], body["max_tokens"]) == (True, 1, 0)


@pytest.mark.parametrize("model", ["no-echo", "no-logprobs-field"])
def test_servers_without_logprobs_say_so(server: ScriptedServer, model: str) -> None:
    with backend(server, model) as llm, pytest.raises(UserError) as info:
        llm.logprobs(["a"], [" b"])
    assert f"backend openai:{model}@{server.url} does not provide log-probabilities" in str(info.value)
    assert attempts_for(server, model) == 1


def test_argument_checks(server: ScriptedServer) -> None:
    with backend(server, "echo") as llm:
        with pytest.raises(ConfigError):
            llm.generate("a single string")  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            llm.generate(["a"], temperature=-1)
        with pytest.raises(ConfigError):
            llm.generate(["a"], n=0)
        with pytest.raises(ConfigError):
            llm.logprobs(["a"], ["b", "c"])
        with pytest.raises(UserError):
            llm.chat([[{"role": "user"}]])  # type: ignore[list-item]
        assert llm.generate([]) == []
    with pytest.raises(ConfigError):
        OpenAICompatibleBackend("127.0.0.1:8000", "m")
    with pytest.raises(ConfigError):
        OpenAICompatibleBackend(server.url, "m", mode="edits")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- transformers


def _word_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [
        "the cat sat on the mat", "a dog ran in the park", "question answer yes no maybe",
        "hello world this is a test", "User : Assistant :",
    ]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[BOS]", "[EOS]"]))
    tok.post_processor = processors.TemplateProcessing(single="[BOS] $A", special_tokens=[("[BOS]", 2)])
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]"
    )


def _bpe_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["the cat sat on the mat", "a dog ran in the park", "hello world"] * 5, trainer)
    # No pad token and no BOS, like GPT-2: the backend must cope without mutating it.
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def llama() -> tuple[Any, Any]:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _word_tokenizer()
    torch.manual_seed(0)
    # A large init spreads the logits so greedy choices are not near-ties.
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        initializer_range=0.5, bos_token_id=2, eos_token_id=3, pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval(), tokenizer


@pytest.fixture(scope="module")
def gpt2() -> tuple[Any, Any]:
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = _bpe_tokenizer()
    torch.manual_seed(1)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=128,
        initializer_range=0.5, bos_token_id=0, eos_token_id=0,
    )
    return GPT2LMHeadModel(config).eval(), tokenizer


PROMPTS = ["the cat", "a dog ran in the", "hello", "question answer", ""]


@pytest.mark.parametrize("pair", ["llama", "gpt2"])
def test_greedy_is_deterministic_and_batching_does_not_change_it(pair: str, request: pytest.FixtureRequest) -> None:
    model, tokenizer = request.getfixturevalue(pair)
    batched = TransformersBackend(model, tokenizer, batch_size=3, show_progress=False)
    single = TransformersBackend((model, tokenizer), batch_size=1, show_progress=False)
    first = batched.generate(PROMPTS, max_new_tokens=8)
    assert first == batched.generate(PROMPTS, max_new_tokens=8)
    assert first == single.generate(PROMPTS, max_new_tokens=8)
    assert [len(c) for c in first] == [1] * len(PROMPTS)
    assert any(c[0] for c in first)
    # Only the continuation comes back, never the prompt.
    assert not first[1][0].startswith("a dog")
    assert batched.generate(PROMPTS[:2], max_new_tokens=8, n=2) == [[c[0]] * 2 for c in first[:2]]
    assert tokenizer.pad_token_id == (0 if pair == "llama" else None)  # tokenizer left untouched


def test_sampling_is_reproducible_under_seed(llama: tuple[Any, Any]) -> None:
    llm = TransformersBackend(*llama, batch_size=2, show_progress=False)
    rng_before = torch.get_rng_state()
    a = llm.generate(PROMPTS, max_new_tokens=8, temperature=1.0, n=3, seed=123)
    assert torch.equal(rng_before, torch.get_rng_state()), "a seeded call must not move the global RNG"
    b = llm.generate(PROMPTS, max_new_tokens=8, temperature=1.0, n=3, seed=123)
    c = llm.generate(PROMPTS, max_new_tokens=8, temperature=1.0, n=3, seed=124)
    assert a == b
    assert a != c
    assert all(len(x) == 3 for x in a)
    assert any(len(set(x)) > 1 for x in a), "n samples should not all be identical"


def test_checkpoint_sampling_defaults_do_not_leak_into_greedy(
    llama: tuple[Any, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers import GenerationConfig

    model, tokenizer = llama
    llm = TransformersBackend(model, tokenizer, show_progress=False)
    expected = llm.generate(PROMPTS, max_new_tokens=6)
    original = model.generation_config
    model.generation_config = GenerationConfig(
        do_sample=True, temperature=0.6, top_p=0.9, top_k=20, bos_token_id=2, eos_token_id=[3]
    )
    try:
        capfd.readouterr()
        assert llm.generate(PROMPTS, max_new_tokens=6) == expected
        sampled = llm.generate(PROMPTS, max_new_tokens=6, temperature=1.0, seed=5)
        assert "not valid" not in capfd.readouterr().err
        assert sampled == llm.generate(PROMPTS, max_new_tokens=6, temperature=1.0, seed=5)
    finally:
        model.generation_config = original


def test_progress_bars_do_not_change_results(
    llama: tuple[Any, Any], server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELIANT_PROGRESS", "1")
    quiet = TransformersBackend(*llama, batch_size=2, show_progress=False)
    loud = TransformersBackend(*llama, batch_size=2, show_progress=True)
    assert loud.generate(PROMPTS, max_new_tokens=4) == quiet.generate(PROMPTS, max_new_tokens=4)
    assert loud.logprobs(PROMPTS, [" cat"] * 5) == quiet.logprobs(PROMPTS, [" cat"] * 5)
    with backend(server, "echo", show_progress=True) as llm:
        assert llm.generate(["a", "b", "c"]) == [["re:a"], ["re:b"], ["re:c"]]


def test_stop_strings_cut_the_continuation(llama: tuple[Any, Any]) -> None:
    llm = TransformersBackend(*llama, show_progress=False)
    full = llm.generate(["the cat"], max_new_tokens=8)[0][0]
    words = full.split()
    assert len(words) >= 2
    stop = " " + words[1]
    cut = llm.generate(["the cat"], max_new_tokens=8, stop=[stop])[0][0]
    assert cut == full[: full.index(stop)]
    assert llm.generate(["the cat"], max_new_tokens=0) == [[""]]


def _manual_logprobs(model: Any, context: list[int], continuation: list[int]) -> list[float]:
    ids = torch.tensor([context + continuation])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    return [logp[len(context) - 1 + i, t].item() for i, t in enumerate(continuation)]


@pytest.mark.parametrize("pair", ["llama", "gpt2"])
def test_logprobs_match_a_manual_forward_pass(pair: str, request: pytest.FixtureRequest) -> None:
    model, tokenizer = request.getfixturevalue(pair)
    llm = TransformersBackend(model, tokenizer, batch_size=3, show_progress=False)
    prompts = ["the cat", "a dog ran in the", "hello", "the", "", "the mat"]
    conts = [" sat on the mat", " park", " world", " cat", "the cat", ""]
    got = llm.logprobs(prompts, conts)
    assert got[-1] == []
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    for prompt, cont, values in zip(prompts[:-1], conts[:-1], got[:-1]):
        context = tokenizer(prompt)["input_ids"] or [start]
        continuation = tokenizer(prompt + cont)["input_ids"][len(tokenizer(prompt)["input_ids"]):]
        expected = _manual_logprobs(model, context, continuation)
        assert len(values) == len(continuation) > 0
        assert values == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("pair", ["llama", "gpt2"])
@pytest.mark.parametrize("min_shared_prefix", [1, 10**9])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_choice_logprobs_equal_scoring_every_pair(pair: str, min_shared_prefix: int, batch_size: int,
                                                  request: pytest.FixtureRequest) -> None:
    from reliant.core import models

    model, tokenizer = request.getfixturevalue(pair)
    shared = "the cat sat on the mat " * 3  # a prefix every prompt has: its cache is reused
    prompts = [tokenizer(shared + tail)["input_ids"] for tail in ("a dog", "hello world", "the", "ran in the park")]
    # One-token and branching multi-token choices: paths (), ("the",), ("the", "cat") are all needed.
    choices = [tokenizer(c, add_special_tokens=False)["input_ids"]
               for c in ("cat", "the", "the cat", "the cat sat", "the mat", "dog ran")]
    assert len({len(c) for c in choices}) > 1
    got = models.choice_logprobs(model, prompts, choices, pad_id=0, batch_size=batch_size,
                                 min_shared_prefix=min_shared_prefix)
    assert got.shape == (len(prompts), len(choices))
    for i, prompt in enumerate(prompts):
        for c, choice in enumerate(choices):
            assert got[i, c].item() == pytest.approx(sum(_manual_logprobs(model, prompt, choice)), abs=1e-4)


def test_choice_logprobs_of_the_backend_equal_the_default_through_logprobs(llama: tuple[Any, Any]) -> None:
    llm = TransformersBackend(*llama, batch_size=2, show_progress=False)
    # Prompts end at a token boundary (a space), as the method asks, so both tokenizations agree.
    prompts = ["the cat sat on the mat " * 4 + tail for tail in ("a dog ran in ", "hello ", "the ")]
    choices = ["the", "park", "the mat", "world"]
    fast = llm.choice_logprobs(prompts, choices)
    slow = LLMBackend.choice_logprobs(llm, prompts, choices)  # one scored pair each, by logprobs
    assert len(fast) == 3 and all(len(row) == 4 for row in fast)
    assert fast == [pytest.approx(row, abs=1e-4) for row in slow]
    with pytest.raises(ConfigError, match="non-empty"):
        llm.choice_logprobs(prompts, ["the", ""])
    with pytest.raises(TypeError):
        llm.choice_logprobs("the cat", choices)


def test_logprobs_score_a_token_merged_across_the_boundary(gpt2: tuple[Any, Any]) -> None:
    model, tokenizer = gpt2
    llm = TransformersBackend(model, tokenizer, show_progress=False)
    full = tokenizer("the cat")["input_ids"]
    assert tokenizer("the ca")["input_ids"] != full[: len(tokenizer("the ca")["input_ids"])]
    (values,) = llm.logprobs(["the ca"], ["t"])
    common = 0
    prompt_ids = tokenizer("the ca")["input_ids"]
    while prompt_ids[common] == full[common]:
        common += 1
    assert values == pytest.approx(_manual_logprobs(model, full[:common], full[common:]), abs=1e-4)


def test_chat_uses_the_template_without_a_second_bos(llama: tuple[Any, Any]) -> None:
    model, tokenizer = llama
    template = "[BOS]{% for m in messages %}{{ m['content'] }} {% endfor %}{% if add_generation_prompt %}answer{% endif %}"
    llm = TransformersBackend(model, tokenizer, chat_template=template, show_progress=False)
    chat = [{"role": "user", "content": "question"}]
    assert llm.render_chat(chat) == "[BOS]question answer"
    expected = TransformersBackend(model, tokenizer, show_progress=False).generate(["question answer"], max_new_tokens=5)
    assert llm.chat([chat], max_new_tokens=5) == expected

    plain = TransformersBackend(model, tokenizer, show_progress=False)
    assert plain.render_chat(chat) == "User: question\nAssistant:"
    assert plain.chat([chat], max_new_tokens=5) == plain.generate(["User: question\nAssistant:"], max_new_tokens=5)


# --------------------------------------------------------------------------- make_backend


@pytest.fixture
def fake_loader(monkeypatch: pytest.MonkeyPatch, llama: tuple[Any, Any]) -> list[str]:
    """Stand in for reliant.core.models.load_causal_lm so spec parsing is tested on its own."""
    import reliant.core.models

    calls: list[str] = []

    def load_causal_lm(name_or_path: str) -> tuple[Any, Any]:
        calls.append(name_or_path)
        return llama

    monkeypatch.setattr(reliant.core.models, "load_causal_lm", load_causal_lm)
    return calls


def test_make_backend_transformers_specs(fake_loader: list[str], tmp_path: Any) -> None:
    tiny = make_backend("tiny", batch_size=2)
    assert isinstance(tiny, TransformersBackend) and tiny.name == "tiny" and tiny.batch_size == 2
    hub = make_backend("hf:org/some-model", device="cpu")
    assert isinstance(hub, TransformersBackend) and hub.name == "hf:org/some-model"
    local = make_backend(str(tmp_path))
    assert isinstance(local, TransformersBackend) and local.name == f"hf:{tmp_path}"
    assert fake_loader == ["tiny", "org/some-model", str(tmp_path)]


def test_make_backend_openai_specs() -> None:
    llm = make_backend("openai:llama3@http://127.0.0.1:8000/v1/", concurrency=2, show_progress=False)
    assert isinstance(llm, OpenAICompatibleBackend) and isinstance(llm, LLMBackend)
    assert (llm.model, llm.base_url, llm.concurrency) == ("llama3", "http://127.0.0.1:8000/v1", 2)
    assert llm.name == "openai:llama3@http://127.0.0.1:8000/v1"
    odd = make_backend("openai:team@corp/model:7b@https://api.example.com/v1")
    assert (odd.model, odd.base_url) == ("team@corp/model:7b", "https://api.example.com/v1")


@pytest.mark.parametrize(
    "spec", ["", "openai:llama3", "openai:@http://x", "hf:", "vllm:foo", "/no/such/model/dir", "gpt2"]
)
def test_make_backend_rejects_unknown_specs(spec: str) -> None:
    with pytest.raises(UserError) as info:
        make_backend(spec)
    assert "openai:<model>@<base_url>" in str(info.value)


def test_tiny_spec_with_the_real_loader() -> None:
    llm = make_backend("tiny", show_progress=False)
    (out,) = llm.generate(["Question: What is 2+2?\nAnswer:"], max_new_tokens=4)
    assert len(out) == 1 and isinstance(out[0], str)
    (values,) = llm.logprobs(["Question: hi\nAnswer:"], [" yes"])
    assert values and all(v <= 0 for v in values)


# --------------------------------------------------------------------------- spec options


def test_spec_options_reach_the_backend(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", SECRET)
    spec = f"openai:echo@{server.url}?timeout=30&retries=3&concurrency=4&mode=completions&key_env=MY_KEY"
    with make_backend(spec, show_progress=False) as llm:
        assert isinstance(llm, OpenAICompatibleBackend)
        assert (llm.timeout, llm.max_retries, llm.concurrency, llm.mode, llm.api_key_env) == (
            30.0, 3, 4, "completions", "MY_KEY"
        )
        assert llm.name == f"openai:echo@{server.url}"  # options are not part of the name
        assert llm.generate(["a"]) == [["re:a"]]
    assert server.requests[0]["path"].endswith("/completions")
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_spec_options_override_keyword_defaults() -> None:
    llm = make_backend("openai:m@http://127.0.0.1:9/v1?concurrency=3&retries=0", concurrency=8, show_progress=False)
    assert (llm.concurrency, llm.max_retries) == (3, 0)


def test_spec_options_for_local_models() -> None:
    assert parse_spec("tiny?batch_size=4&device=cpu").options == {"batch_size": 4, "device": "cpu"}
    parsed = parse_spec("hf:org/model?batch_size=2")
    assert (parsed.kind, parsed.target, parsed.options) == ("transformers", "org/model", {"batch_size": 2})


@pytest.mark.parametrize(
    "options, expected",
    [
        ("timeout=abc", "option 'timeout' must be a finite number > 0, got 'abc'"),
        ("timeout=0", "option 'timeout' must be a finite number > 0"),
        ("timeout=-3", "option 'timeout' must be a finite number > 0"),
        ("timeout=nan", "option 'timeout' must be a finite number > 0, got 'nan'"),
        ("timeout=inf", "option 'timeout'"),
        ("retries=-1", "option 'retries' must be an integer >= 0"),
        ("retries=2.5", "option 'retries' must be an integer >= 0"),
        ("concurrency=0", "option 'concurrency' must be an integer >= 1"),
        ("concurrency=many", "option 'concurrency'"),
        ("mode=stream", "option 'mode' must be one of chat, completions"),
        ("key_env=MY-KEY", "option 'key_env' must be an environment variable name"),
        ("temperature=1", "unknown option 'temperature'"),
        ("timeout", "option 'timeout' is not key=value"),
        ("timeout=1&timeout=2", "option 'timeout' is given twice"),
    ],
)
def test_spec_options_are_validated(options: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_backend(f"openai:m@http://127.0.0.1:9/v1?{options}")
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_local_spec_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="option 'batch_size' must be an integer >= 1"):
        parse_spec("tiny?batch_size=0")
    with pytest.raises(ConfigError, match="unknown option 'timeout'"):
        parse_spec("hf:gpt2?timeout=3")


def test_each_retry_is_one_line_on_stderr(server: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    with backend(server, "r500", show_progress=False) as llm:
        assert llm.generate(["a"]) == [["re:a"]]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"openai:r500@{server.url}: attempt 1/4 failed (HTTP 500); retrying in ")
    assert lines[0].endswith(" s")

    with backend(server, "always503", max_retries=2, show_progress=False) as llm:
        with pytest.raises(UserError):
            llm.generate(["a"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert [line.split(": ", 1)[1].split(";")[0] for line in lines] == [
        "attempt 1/3 failed (HTTP 503)", "attempt 2/3 failed (HTTP 503)"
    ]
    for line in lines:
        assert SECRET not in line and "Bearer" not in line and "Authorization" not in line


def test_retry_lines_name_the_error_class(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = OpenAICompatibleBackend(
        f"http://127.0.0.1:{port}/v1", "m", api_key=SECRET, max_retries=1, backoff_base=0.01, backoff_max=0.01,
        show_progress=False,
    )
    with pytest.raises(UserError):
        llm.generate(["a"])
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert "attempt 1/2 failed (ConnectError); retrying in 0.0 s" in line
    assert SECRET not in line
