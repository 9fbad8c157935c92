"""The HTTP backend: any server speaking the OpenAI chat/completions API (vLLM, llama.cpp,
Ollama, OpenAI itself), with bounded concurrency, retries that say so on stderr, and an API
key that is never shown."""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from reliant.core.errors import ConfigError, UserError
from reliant.core.llm.base import (
    LLMBackend,
    Message,
    check_generation_args,
    check_messages,
    check_pairs,
    cut_at_stop,
)
from reliant.core.progress import note, progress_bar

if TYPE_CHECKING:
    import httpx

# Keeps the logger name the module had before core.llm became a package.
logger = logging.getLogger("reliant.core.llm")

T = TypeVar("T")

__all__ = ["OpenAICompatibleBackend"]


class _Secret:
    """Holds an API key so that printing, logging or repr-ing it shows nothing."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return "_Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would write the key to disk; refuse rather than leak.
        raise TypeError("an API key is not picklable")


class _Malformed(Exception):
    """A 2xx reply whose body does not have the expected shape (retried)."""


class _NoLogprobs(Exception):
    """A well-formed reply that lacks log-probabilities: the server cannot score text."""


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _server_message(response: httpx.Response) -> str:
    """The error text a server put in its reply, collapsed to one short line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error
        elif error:
            message = error
        else:
            message = body.get("detail") or body.get("message")
    if message is None:
        message = response.text
    if not isinstance(message, str):
        message = json.dumps(message)
    message = " ".join(message.split())
    if len(message) > 300:
        message = message[:297] + "..."
    return message or response.reason_phrase or "(empty reply)"


def _choices(data: Any, n: int) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        raise _Malformed(f"expected a JSON object, got {type(data).__name__}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _Malformed("no 'choices' in reply")
    if len(choices) != n:
        raise _Malformed(f"expected {n} choice(s), got {len(choices)}")
    if not all(isinstance(c, dict) for c in choices):
        raise _Malformed("a choice is not a JSON object")
    if all(isinstance(c.get("index"), int) for c in choices):
        choices = sorted(choices, key=lambda c: c["index"])
    return choices


class OpenAICompatibleBackend(LLMBackend):
    """Any server speaking the OpenAI chat/completions API (vLLM, llama.cpp, Ollama, OpenAI).

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name the server expects.
        api_key_env: environment variable holding the key (read once, here).
        api_key: the key itself, overriding ``api_key_env``. Without a key no
            Authorization header is sent (local servers rarely want one). The key is
            never logged, shown in ``repr`` or put into an exception message.
        timeout: seconds allowed for each HTTP request.
        max_retries: extra attempts after a 429, a 5xx, a timeout, a connection error
            or a malformed reply; other 4xx replies fail at once.
        backoff_base, backoff_max: the wait before retry ``k`` is
            ``min(backoff_max, backoff_base * 2**k)`` with jitter (half fixed, half
            random); a ``Retry-After`` header from the server replaces it.
        concurrency: requests in flight at once; results keep the input order.
        mode: ``"chat"`` sends prompts as one user message to ``/chat/completions``;
            ``"completions"`` sends raw text to ``/completions`` (for base models).
        show_progress: draw a progress bar over requests.

    :meth:`logprobs` always uses ``/completions`` with ``echo=True, logprobs=1,
    max_tokens=0``: the server echoes ``prompt + continuation`` with the log-prob of
    every prompt token, and the tokens ending after the prompt's last character are
    returned. vLLM supports this; servers that reject it (OpenAI's hosted chat models,
    Ollama) make :meth:`logprobs` raise ``"backend ... does not provide log-probabilities"``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        concurrency: int = 8,
        mode: Literal["chat", "completions"] = "chat",
        show_progress: bool = True,
    ) -> None:
        import httpx  # deliberately lazy: only HTTP runs need it (start-up time)

        if not re.match(r"^https?://", base_url or ""):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not model:
            raise ConfigError("model name must not be empty")
        if mode not in ("chat", "completions"):
            raise ConfigError(f"mode must be 'chat' or 'completions', got {mode!r}")
        if timeout <= 0:
            raise ConfigError(f"timeout must be > 0, got {timeout}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        if backoff_base < 0 or backoff_max < 0:
            raise ConfigError("backoff_base and backoff_max must be >= 0")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.mode = mode
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.concurrency = int(concurrency)
        self.show_progress = show_progress
        self.api_key_env = api_key_env
        self.name = f"openai:{model}@{self.base_url}"
        key = api_key if api_key else os.environ.get(api_key_env, "")
        self._key = _Secret(key)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        # Only the pool size is raised; the per-request cap is the thread pool below.
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(self.timeout), limits=limits, follow_redirects=False
        )
        self._rng = random.Random()

    def __repr__(self) -> str:
        key = "set" if self._key.reveal() else "unset"
        return (
            f"OpenAICompatibleBackend(base_url={self.base_url!r}, model={self.model!r}, "
            f"mode={self.mode!r}, api_key={key})"
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    # -- transport

    def _backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1-based): exponential, half of it jittered."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def _post(
        self,
        path: str,
        payload: dict[str, Any],
        parse: Callable[[Any], T],
        abort: threading.Event,
        *,
        what: str = "request",
    ) -> T:
        """POST with retries; return ``parse(json)`` or raise a one-line :class:`UserError`."""
        import httpx  # deliberately lazy: only HTTP runs need it (start-up time)

        url = f"{self.base_url}{path}"
        attempts = self.max_retries + 1
        problem = ""
        reason = ""
        retry_after: float | None = None
        for attempt in range(attempts):
            if attempt:
                delay = retry_after if retry_after is not None else self._backoff(attempt)
                logger.info(
                    "%s: %s; retrying in %.2f s (attempt %d of %d)",
                    self.name, problem, delay, attempt + 1, attempts,
                )
                # One line per retry on stderr: what failed and how long until the next try;
                # ``reason`` is a status or an exception class, never a header or the key.
                note(f"{self.name}: attempt {attempt}/{attempts} failed ({reason}); retrying in {delay:.1f} s")
                # Wakes early when another request failed for good, so a batch stops fast.
                if abort.wait(delay):
                    break
            if abort.is_set():
                break
            retry_after = None
            try:
                response = self._client.post(url, json=payload)
            except httpx.TimeoutException as exc:
                problem = f"no reply within {self.timeout:g} s"
                reason = f"{type(exc).__name__} after {self.timeout:g} s"
                continue
            except httpx.TransportError as exc:
                problem = self._key.scrub(f"connection failed ({type(exc).__name__}: {exc})")
                reason = type(exc).__name__
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                problem = self._key.scrub(f"HTTP {status}: {_server_message(response)}")
                reason = f"HTTP {status}"
                retry_after = _parse_retry_after(response.headers.get("retry-after"))
                continue
            if not response.is_success:
                message = self._key.scrub(_server_message(response))
                if what == "logprobs":
                    raise UserError(
                        f"backend {self.name} does not provide log-probabilities "
                        f"(HTTP {status} from {url}: {message})"
                    )
                raise UserError(f"{self.name}: HTTP {status} from {url}: {message}")
            try:
                data = response.json()
            except ValueError:
                problem = "malformed reply: body is not JSON"
                reason = "malformed reply"
                continue
            try:
                return parse(data)
            except _Malformed as exc:
                problem = self._key.scrub(f"malformed reply: {exc}")
                reason = "malformed reply"
                continue
            except _NoLogprobs as exc:
                raise UserError(
                    f"backend {self.name} does not provide log-probabilities ({exc})"
                ) from None
        if abort.is_set() and not problem:
            problem = "cancelled after another request failed"
        raise UserError(f"{self.name}: {what} to {url} failed after {attempts} attempt(s): {problem}")

    def _run_all(self, jobs: Sequence[Callable[[threading.Event], T]], description: str) -> list[T]:
        """Run jobs on at most ``concurrency`` threads; results in job order.

        The first failure stops the rest (queued jobs never start, retrying ones give up)
        and is re-raised, so a bad key costs one request, not one per prompt.
        """
        if not jobs:
            return []
        abort = threading.Event()
        results: list[Any] = [None] * len(jobs)
        workers = min(self.concurrency, len(jobs))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reliant-llm") as pool:
            futures: dict[Future, int] = {pool.submit(job, abort): i for i, job in enumerate(jobs)}
            pending = set(futures)
            with ExitStack() as stack:
                bar = None
                if self.show_progress and len(jobs) > 1:
                    bar = stack.enter_context(progress_bar(description, total=len(jobs)))
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        error = future.exception()
                        if error is not None:
                            abort.set()
                            for other in pending:
                                other.cancel()
                            raise error
                        results[futures[future]] = future.result()
                    if bar is not None:
                        bar.advance(len(done))
        return results

    # -- generation

    def _sampling_payload(
        self, max_new_tokens: int, temperature: float, top_p: float, n: int,
        seed: int | None, stop: list[str] | None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "n": n,
        }
        if seed is not None:
            payload["seed"] = seed
        if stop:
            payload["stop"] = stop
        return payload

    def _chat_job(
        self, messages: Sequence[Message], base: dict[str, Any], n: int, stop: list[str] | None
    ) -> Callable[[threading.Event], list[str]]:
        payload = {**base, "messages": [{"role": m["role"], "content": m["content"]} for m in messages]}

        def parse(data: Any) -> list[str]:
            texts = []
            for choice in _choices(data, n):
                message = choice.get("message")
                if not isinstance(message, dict):
                    raise _Malformed("a choice has no 'message' object")
                content = message.get("content")
                # A null content (e.g. a refusal or tool call) is an empty answer, not an error.
                if content is None:
                    content = ""
                if not isinstance(content, str):
                    raise _Malformed("a message's 'content' is not a string")
                texts.append(cut_at_stop(content, stop))
            return texts

        return lambda abort: self._post("/chat/completions", payload, parse, abort)

    def _completion_job(
        self, prompt: str, base: dict[str, Any], n: int, stop: list[str] | None
    ) -> Callable[[threading.Event], list[str]]:
        payload = {**base, "prompt": prompt}

        def parse(data: Any) -> list[str]:
            texts = []
            for choice in _choices(data, n):
                text = choice.get("text")
                if not isinstance(text, str):
                    raise _Malformed("a choice has no 'text' string")
                texts.append(cut_at_stop(text, stop))
            return texts

        return lambda abort: self._post("/completions", payload, parse, abort)

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        top_p: float = 1.0,
        n: int = 1,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
    ) -> list[list[str]]:
        """One request per prompt (``n`` choices each), ``concurrency`` at a time."""
        stops = check_generation_args(prompts, max_new_tokens, temperature, top_p, n, stop)
        if max_new_tokens == 0:
            return [[""] * n for _ in prompts]
        base = self._sampling_payload(max_new_tokens, temperature, top_p, n, seed, stops)
        if self.mode == "chat":
            jobs = [self._chat_job([{"role": "user", "content": p}], base, n, stops) for p in prompts]
        else:
            jobs = [self._completion_job(p, base, n, stops) for p in prompts]
        return self._run_all(jobs, f"{self.name}: generating")

    def chat(
        self,
        messages_list: Sequence[Sequence[Message]],
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        top_p: float = 1.0,
        n: int = 1,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
    ) -> list[list[str]]:
        """Send chats as-is in chat mode; render them as text in completions mode."""
        if self.mode == "completions":
            return super().chat(
                messages_list, max_new_tokens=max_new_tokens, temperature=temperature,
                top_p=top_p, n=n, seed=seed, stop=stop,
            )
        for messages in messages_list:
            check_messages(messages)
        stops = check_generation_args([], max_new_tokens, temperature, top_p, n, stop)
        if max_new_tokens == 0:
            return [[""] * n for _ in messages_list]
        base = self._sampling_payload(max_new_tokens, temperature, top_p, n, seed, stops)
        jobs = [self._chat_job(messages, base, n, stops) for messages in messages_list]
        return self._run_all(jobs, f"{self.name}: chatting")

    # -- scoring

    def _logprob_job(self, prompt: str, continuation: str) -> Callable[[threading.Event], list[float]]:
        text = prompt + continuation
        boundary = len(prompt)
        payload = {
            "model": self.model,
            "prompt": text,
            "echo": True,
            "logprobs": 1,
            "max_tokens": 0,
            "temperature": 0.0,
        }

        def parse(data: Any) -> list[float]:
            choice = _choices(data, 1)[0]
            info = choice.get("logprobs")
            if not isinstance(info, dict):
                raise _NoLogprobs("the reply has no 'logprobs' object")
            token_logprobs = info.get("token_logprobs")
            offsets = info.get("text_offset")
            if not isinstance(token_logprobs, list) or not isinstance(offsets, list):
                raise _NoLogprobs("the reply lacks 'token_logprobs' or 'text_offset'")
            if len(token_logprobs) != len(offsets):
                raise _Malformed("'token_logprobs' and 'text_offset' differ in length")
            # A token belongs to the continuation when it ends after the prompt's last
            # character; it ends where the next one starts. Tokens a server generated
            # past the echoed text (despite max_tokens=0) start at or after its end.
            picked: list[float] = []
            for i, start in enumerate(offsets):
                if not isinstance(start, int):
                    raise _Malformed("'text_offset' holds a non-integer")
                if start >= len(text):
                    break
                end = offsets[i + 1] if i + 1 < len(offsets) and isinstance(offsets[i + 1], int) else len(text)
                end = min(end, len(text))
                if end <= boundary:
                    continue
                value = token_logprobs[i]
                if value is None:
                    raise UserError(
                        f"backend {self.name} returned no log-probability for the first "
                        "continuation token; give a non-empty prompt"
                    )
                if not isinstance(value, (int, float)):
                    raise _Malformed("'token_logprobs' holds a non-number")
                picked.append(float(value))
            return picked

        return lambda abort: self._post("/completions", payload, parse, abort, what="logprobs")

    def logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        """Score continuations via the completions endpoint's echo (see the class docstring)."""
        check_pairs(prompts, continuations)
        results: list[list[float]] = [[] for _ in prompts]
        todo = [i for i, c in enumerate(continuations) if c]
        jobs = [self._logprob_job(prompts[i], continuations[i]) for i in todo]
        for i, values in zip(todo, self._run_all(jobs, f"{self.name}: scoring")):
            results[i] = values
        return results
