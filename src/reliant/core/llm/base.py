"""The :class:`LLMBackend` interface every backend implements, and the argument checks and
text conventions they share (see :mod:`reliant.core.llm` for the contract)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from reliant.core.errors import ConfigError, UserError

Message = Mapping[str, str]

__all__ = ["LLMBackend", "Message", "render_chat_plain"]


def render_chat_plain(messages: Sequence[Message]) -> str:
    """Render chat messages as ``Role: content`` lines ending in ``Assistant:``.

    Used for models without a chat template, so base models still get a prompt whose
    natural continuation is the assistant's reply.
    """
    check_messages(messages)
    lines = [f"{m['role'].strip().capitalize()}: {m['content']}" for m in messages]
    lines.append("Assistant:")
    return "\n".join(lines)


def check_messages(messages: Sequence[Message]) -> None:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise UserError("a chat must be a list of {'role': ..., 'content': ...} messages")
    if not messages:
        raise UserError("a chat must contain at least one message")
    for i, message in enumerate(messages):
        if (
            not isinstance(message, Mapping)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise UserError(
                f"chat message {i} must be a mapping with string 'role' and 'content', "
                f"got {message!r:.80}"
            )


def check_generation_args(
    prompts: Sequence[str], max_new_tokens: int, temperature: float, top_p: float, n: int,
    stop: Sequence[str] | None,
) -> list[str] | None:
    """Validate the shared ``generate`` arguments; return ``stop`` as a clean list."""
    if isinstance(prompts, str):
        # A bare string would otherwise be iterated character by character.
        raise ConfigError("prompts must be a list of strings, not a single string")
    if not all(isinstance(p, str) for p in prompts):
        raise ConfigError("every prompt must be a string")
    if max_new_tokens < 0:
        raise ConfigError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise ConfigError(f"temperature must be >= 0, got {temperature}")
    if not (0 < top_p <= 1):
        raise ConfigError(f"top_p must be in (0, 1], got {top_p}")
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    if stop is None:
        return None
    if isinstance(stop, str):
        stop = [stop]
    stops = [s for s in stop if s]
    if not all(isinstance(s, str) for s in stops):
        raise ConfigError("stop must be a list of strings")
    return stops or None


def cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut ``text`` before the earliest occurrence of any stop string."""
    if not stop:
        return text
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


def check_pairs(prompts: Sequence[str], continuations: Sequence[str]) -> None:
    if isinstance(prompts, str) or isinstance(continuations, str):
        raise ConfigError("prompts and continuations must be lists of strings")
    if len(prompts) != len(continuations):
        raise ConfigError(
            f"got {len(prompts)} prompts but {len(continuations)} continuations; "
            "logprobs needs one continuation per prompt"
        )
    if not all(isinstance(s, str) for s in [*prompts, *continuations]):
        raise ConfigError("every prompt and continuation must be a string")


def check_choices(prompts: Sequence[str], choices: Sequence[str]) -> None:
    """Validate :meth:`LLMBackend.choice_logprobs` arguments."""
    if isinstance(prompts, str) or isinstance(choices, str):
        raise TypeError("prompts and choices must be sequences of strings, not single strings")
    if not all(isinstance(p, str) for p in prompts):
        raise ConfigError("every prompt must be a string")
    if not choices or not all(isinstance(c, str) and c for c in choices):
        raise ConfigError("choices must be a non-empty list of non-empty strings", field="choices")


class LLMBackend(ABC):
    """Something that completes prompts and, where it can, scores continuations.

    Backends are context managers; ``close()`` releases connections or memory.
    """

    #: Human-readable identity used in messages and run metadata, e.g. ``"hf:gpt2"``.
    name: str

    @abstractmethod
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
        """Return ``n`` completions (continuation text only) for each prompt, in input order."""

    @abstractmethod
    def logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        """Per-token natural-log probabilities of each continuation given its prompt.

        Raises :class:`UserError` ``"backend X does not provide log-probabilities"`` for
        servers that cannot score text.
        """

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        """Log-probability of each choice as the whole continuation of each prompt:
        ``result[i][c]`` is the sum of :meth:`logprobs` of ``(prompts[i], choices[c])``.

        This default scores every pair (one request per pair on a server); in-process
        backends override it with one forward pass per prompt.
        """
        check_choices(prompts, choices)
        pairs = [(p, c) for p in prompts for c in choices]
        scores = self.logprobs([p for p, _ in pairs], [c for _, c in pairs]) if pairs else []
        flat = [float(sum(s)) for s in scores]
        return [flat[i * len(choices):(i + 1) * len(choices)] for i in range(len(prompts))]

    def render_chat(self, messages: Sequence[Message]) -> str:
        """The prompt text a chat becomes for :meth:`generate`-only backends."""
        return render_chat_plain(messages)

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
        """Answer each chat (a list of ``{"role", "content"}`` messages) as the assistant.

        Same arguments and return shape as :meth:`generate`.
        """
        prompts = [self.render_chat(messages) for messages in messages_list]
        return self.generate(
            prompts, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
            n=n, seed=seed, stop=stop,
        )

    def close(self) -> None:
        """Release resources held by the backend; the default holds none."""

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
