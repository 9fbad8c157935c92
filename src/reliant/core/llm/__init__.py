"""One interface for every "an LLM answers a prompt" role: judges, generators, graders.

Capabilities talk to an :class:`LLMBackend` and never care whether the model runs
in-process (:class:`TransformersBackend`) or behind an OpenAI-compatible HTTP server
such as vLLM, llama.cpp, Ollama or OpenAI itself (:class:`OpenAICompatibleBackend`).
:func:`make_backend` turns a command-line spec string into a backend.

Conventions shared by all backends:

* ``generate`` returns, for every prompt, a list of ``n`` completions containing only
  the newly generated text (never the prompt). A completion is cut *before* the first
  occurrence of any ``stop`` string, as OpenAI servers do.
* ``temperature=0`` means greedy decoding; asking for ``n > 1`` then yields ``n``
  copies of the greedy answer.
* ``logprobs(prompts, continuations)`` scores the tokens of ``prompt + continuation``
  that come after the prompt's tokens (the lm-evaluation-harness convention), so a
  token that straddles the prompt/continuation boundary belongs to the continuation.

The package holds one concept per module: :mod:`~reliant.core.llm.base` (the interface),
:mod:`~reliant.core.llm.transformers` (in process), :mod:`~reliant.core.llm.http`
(OpenAI-compatible servers) and :mod:`~reliant.core.llm.spec` (spec strings and their
options). Importing this package does not import torch: :class:`TransformersBackend` is
loaded on first use.
"""

from __future__ import annotations

from typing import Any

from reliant.core.llm.base import LLMBackend, Message, render_chat_plain
from reliant.core.llm.http import OpenAICompatibleBackend
from reliant.core.llm.spec import BackendSpec, make_backend, parse_spec

__all__ = [
    "BackendSpec",
    "LLMBackend",
    "Message",
    "OpenAICompatibleBackend",
    "TransformersBackend",
    "make_backend",
    "parse_spec",
    "render_chat_plain",
]


def __getattr__(name: str) -> Any:
    if name == "TransformersBackend":
        # Deliberately lazy: the in-process backend imports torch (start-up time).
        from reliant.core.llm.transformers import TransformersBackend

        return TransformersBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
