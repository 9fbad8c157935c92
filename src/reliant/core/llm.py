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
"""

from __future__ import annotations

import copy
import email.utils
import inspect
import json
import logging
import math
import os
import random
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from reliant.core.errors import ConfigError, UserError
from reliant.core.progress import progress_bar

if TYPE_CHECKING:
    import httpx
    import torch

logger = logging.getLogger(__name__)

T = TypeVar("T")

Message = Mapping[str, str]

__all__ = [
    "LLMBackend",
    "OpenAICompatibleBackend",
    "TransformersBackend",
    "make_backend",
    "render_chat_plain",
]


def render_chat_plain(messages: Sequence[Message]) -> str:
    """Render chat messages as ``Role: content`` lines ending in ``Assistant:``.

    Used for models without a chat template, so base models still get a prompt whose
    natural continuation is the assistant's reply.
    """
    _check_messages(messages)
    lines = [f"{m['role'].strip().capitalize()}: {m['content']}" for m in messages]
    lines.append("Assistant:")
    return "\n".join(lines)


def _check_messages(messages: Sequence[Message]) -> None:
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


def _check_generation_args(
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


def _cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut ``text`` before the earliest occurrence of any stop string."""
    if not stop:
        return text
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


def _check_pairs(prompts: Sequence[str], continuations: Sequence[str]) -> None:
    if isinstance(prompts, str) or isinstance(continuations, str):
        raise ConfigError("prompts and continuations must be lists of strings")
    if len(prompts) != len(continuations):
        raise ConfigError(
            f"got {len(prompts)} prompts but {len(continuations)} continuations; "
            "logprobs needs one continuation per prompt"
        )
    if not all(isinstance(s, str) for s in [*prompts, *continuations]):
        raise ConfigError("every prompt and continuation must be a string")


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


# --------------------------------------------------------------------------- transformers


def _pick_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _stopping_criteria_class() -> type:
    """Build the stop-string criterion lazily so importing this module never imports transformers."""
    from transformers import StoppingCriteria

    class StopOnStrings(StoppingCriteria):
        """Finish a sequence once its new text contains a stop string.

        The text is cut afterwards anyway; this only saves the tokens after the stop.
        """

        def __init__(self, tokenizer: Any, prompt_len: int, stops: Sequence[str]) -> None:
            self.tokenizer = tokenizer
            self.prompt_len = prompt_len
            self.stops = list(stops)

        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            import torch

            texts = self.tokenizer.batch_decode(
                input_ids[:, self.prompt_len :], skip_special_tokens=True
            )
            done = [any(s in t for s in self.stops) for t in texts]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnStrings


class TransformersBackend(LLMBackend):
    """A causal LM from ``transformers`` running in this process.

    Args:
        model_or_path: a Hugging Face id or local path (loaded with
            :func:`reliant.core.models.load_causal_lm`, ``"tiny"`` for the built-in tiny
            LM), a model object, or a ``(model, tokenizer)`` pair.
        tokenizer: the tokenizer, required with a model object; overrides the loaded one
            otherwise.
        batch_size: prompts per forward/generate call.
        device: ``"auto"`` keeps a given model where it is and puts a loaded one on the
            best available accelerator; anything else moves the model there.
        chat_template: a Jinja chat template used by :meth:`chat` instead of the
            tokenizer's own; without either, chats are rendered by
            :func:`render_chat_plain`.
        show_progress: draw a progress bar over batches (switch off when the caller
            draws its own).

    Sampling with a ``seed`` is reproducible for the same prompts, arguments and
    ``batch_size``; the seed is applied to a forked RNG so the global torch RNG is
    left untouched.
    """

    def __init__(
        self,
        model_or_path: Any,
        tokenizer: Any = None,
        *,
        batch_size: int = 8,
        device: str = "auto",
        chat_template: str | None = None,
        show_progress: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(model_or_path, tuple):
            model_or_path, loaded_tokenizer = model_or_path
            tokenizer = tokenizer if tokenizer is not None else loaded_tokenizer
        if isinstance(model_or_path, (str, os.PathLike)):
            # Imported here: models.py pulls in heavy loaders a server-only run never needs.
            from reliant.core.models import load_causal_lm

            source = os.fspath(model_or_path)
            model, loaded_tokenizer = load_causal_lm(source)
            tokenizer = tokenizer if tokenizer is not None else loaded_tokenizer
            self.name = source if source == "tiny" else f"hf:{source}"
            device = _pick_device(device)
        else:
            model = model_or_path
            if tokenizer is None:
                raise TypeError("TransformersBackend needs a tokenizer when given a model object")
            source = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
            self.name = f"hf:{source}"
        # A model dispatched across devices by accelerate (hf_device_map) must stay put.
        if device != "auto" and not getattr(model, "hf_device_map", None):
            model = model.to(device)
        model.eval()
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.chat_template = chat_template
        self.show_progress = show_progress
        self.device = next(model.parameters()).device
        self._forward_params = set(inspect.signature(model.forward).parameters)
        self._eos_ids = self._collect_eos_ids()
        self._pad_id = self._choose_pad_id()

    # -- token bookkeeping

    def _collect_eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), getattr(self.model, "config", None)):
            value = getattr(source, "eos_token_id", None)
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return ids

    def _choose_pad_id(self) -> int:
        # Padding is masked out, so any id works; reusing EOS avoids mutating the tokenizer.
        if self.tokenizer.pad_token_id is not None:
            return int(self.tokenizer.pad_token_id)
        if self._eos_ids:
            return min(self._eos_ids)
        return 0

    def _start_id(self) -> int:
        """A token to condition on when a prompt tokenizes to nothing."""
        for candidate in (self.tokenizer.bos_token_id, self.tokenizer.eos_token_id):
            if candidate is not None:
                return int(candidate)
        raise UserError(
            f"{self.name}: an empty prompt needs a BOS or EOS token to condition on, "
            "and this tokenizer has neither"
        )

    def _encode(self, texts: Sequence[str], add_special_tokens: bool) -> list[list[int]]:
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]
        return [list(ids) for ids in encoded]

    def _left_pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            if row:
                ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
                mask[i, width - len(row) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _batches(self, order: list[int]) -> list[list[int]]:
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def _iterate(self, batches: list[list[int]], description: str) -> Iterator[list[int]]:
        """Yield batches, with a bar when there is more than one and bars are wanted."""
        if not self.show_progress or len(batches) <= 1:
            yield from batches
            return
        with progress_bar(description, total=len(batches)) as bar:
            for batch in batches:
                yield batch
                bar.advance()

    # -- generation

    def _generation_config(
        self, max_new_tokens: int, temperature: float, top_p: float, n: int
    ) -> Any:
        from transformers import GenerationConfig

        base = getattr(self.model, "generation_config", None)
        config = copy.deepcopy(base) if base is not None else GenerationConfig()
        config.max_new_tokens = max_new_tokens
        config.max_length = None
        config.min_new_tokens = None
        config.min_length = 0
        config.num_beams = 1
        config.pad_token_id = self._pad_id
        if self._eos_ids:
            config.eos_token_id = sorted(self._eos_ids)
        # Checkpoints often ship sampling defaults (temperature 0.6, top_k 20, ...). Fields
        # left None are refilled from them inside generate(), so neutral values are set
        # explicitly: sampling then means only temperature/top_p, as on OpenAI servers,
        # and greedy decoding raises no "flag ignored" warnings.
        config.typical_p = 1.0
        config.epsilon_cutoff = 0.0
        config.eta_cutoff = 0.0
        if temperature > 0:
            config.do_sample = True
            config.temperature = temperature
            config.top_p = top_p
            config.top_k = 0  # 0 disables top-k filtering
            config.num_return_sequences = n
        else:
            config.do_sample = False
            config.temperature = 1.0
            config.top_p = 1.0
            config.top_k = 50  # the library default, which greedy validation accepts silently
            config.num_return_sequences = 1
        return config

    def _decode_new(self, new_ids: torch.Tensor, stop: list[str] | None) -> str:
        tokens = new_ids.tolist()
        for i, token in enumerate(tokens):
            if token in self._eos_ids:
                tokens = tokens[:i]
                break
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return _cut_at_stop(text, stop)

    def _generate_ids(
        self,
        encoded: list[list[int]],
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        n: int,
        seed: int | None,
        stop: list[str] | None,
    ) -> list[list[str]]:
        import torch

        results: list[list[str]] = [[] for _ in encoded]
        if not encoded:
            return results
        if max_new_tokens == 0:
            return [[""] * n for _ in encoded]
        encoded = [ids if ids else [self._start_id()] for ids in encoded]
        config = self._generation_config(max_new_tokens, temperature, top_p, n)
        # Longest first, so similar lengths share a batch and padding stays small.
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        batches = self._batches(order)
        stop_cls = _stopping_criteria_class() if stop else None
        per_prompt = n if temperature > 0 else 1
        fork_devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices, enabled=seed is not None), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            for batch in self._iterate(batches, f"{self.name}: generating"):
                input_ids, attention_mask = self._left_pad([encoded[i] for i in batch])
                extra: dict[str, Any] = {}
                if stop_cls is not None:
                    from transformers import StoppingCriteriaList

                    extra["stopping_criteria"] = StoppingCriteriaList(
                        [stop_cls(self.tokenizer, input_ids.shape[1], stop)]
                    )
                output = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    generation_config=config,
                    **extra,
                )
                new = output[:, input_ids.shape[1] :]
                for row, index in enumerate(batch):
                    texts = [
                        self._decode_new(new[row * per_prompt + k], stop) for k in range(per_prompt)
                    ]
                    results[index] = texts if per_prompt == n else texts * n
        return results

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
        """Batched generation with left padding; see :class:`LLMBackend` for the contract."""
        stops = _check_generation_args(prompts, max_new_tokens, temperature, top_p, n, stop)
        return self._generate_ids(
            self._encode(prompts, add_special_tokens=True),
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=n,
            seed=seed, stop=stops,
        )

    def render_chat(self, messages: Sequence[Message]) -> str:
        """Apply the chat template (given or the tokenizer's); plain rendering without one."""
        _check_messages(messages)
        template = self.chat_template or getattr(self.tokenizer, "chat_template", None)
        if not template:
            return render_chat_plain(messages)
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in messages],
            chat_template=template,
            tokenize=False,
            add_generation_prompt=True,
        )

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
        """Answer chats; templated prompts already carry BOS, so none is added again."""
        templated = bool(self.chat_template or getattr(self.tokenizer, "chat_template", None))
        prompts = [self.render_chat(messages) for messages in messages_list]
        stops = _check_generation_args(prompts, max_new_tokens, temperature, top_p, n, stop)
        return self._generate_ids(
            self._encode(prompts, add_special_tokens=not templated),
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=n,
            seed=seed, stop=stops,
        )

    # -- scoring

    def _split(self, prompt_ids: list[int], full_ids: list[int]) -> tuple[list[int], list[int]]:
        """Context and continuation tokens of ``prompt + continuation``.

        The continuation starts where the full encoding stops agreeing with the prompt's,
        so a token merged across the boundary is scored as part of the continuation.
        """
        k = 0
        limit = min(len(prompt_ids), len(full_ids))
        while k < limit and prompt_ids[k] == full_ids[k]:
            k += 1
        context, continuation = full_ids[:k], full_ids[k:]
        if not context and continuation:
            context = [self._start_id()]
        return context, continuation

    def logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        """Exact per-token log-probs from one forward pass per batch.

        Rows are left-padded so every continuation ends at the last position and only
        the logits over the continuation are kept (``logits_to_keep``), which bounds
        memory by the continuation length rather than the whole sequence.
        """
        import torch

        _check_pairs(prompts, continuations)
        prompt_ids = self._encode(prompts, add_special_tokens=True)
        full_ids = self._encode([p + c for p, c in zip(prompts, continuations)], add_special_tokens=True)
        pairs = [self._split(p, f) for p, f in zip(prompt_ids, full_ids)]
        results: list[list[float]] = [[] for _ in pairs]
        todo = [i for i, (_, cont) in enumerate(pairs) if cont]
        order = sorted(todo, key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
        batches = self._batches(order)
        with torch.inference_mode():
            for batch in self._iterate(batches, f"{self.name}: scoring"):
                rows = [pairs[i][0] + pairs[i][1] for i in batch]
                input_ids, attention_mask = self._left_pad(rows)
                keep = max(len(pairs[i][1]) for i in batch) + 1
                kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
                if "position_ids" in self._forward_params:
                    # Left padding shifts absolute positions; restart them at each row's first token.
                    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
                    kwargs["position_ids"] = positions
                if "logits_to_keep" in self._forward_params:
                    kwargs["logits_to_keep"] = keep
                if "use_cache" in self._forward_params:
                    kwargs["use_cache"] = False
                logits = self.model(**kwargs).logits[:, -keep:, :]
                # Logits at position t predict token t+1, so drop the last one.
                log_probs = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)
                for row, index in enumerate(batch):
                    continuation = pairs[index][1]
                    c = len(continuation)
                    targets = torch.tensor(continuation, device=log_probs.device)
                    picked = log_probs[row, keep - 1 - c :, :].gather(-1, targets[:, None])[:, 0]
                    results[index] = picked.tolist()
        return results


# --------------------------------------------------------------------------- OpenAI-compatible


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
        import httpx

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
        import httpx

        url = f"{self.base_url}{path}"
        attempts = self.max_retries + 1
        problem = ""
        retry_after: float | None = None
        for attempt in range(attempts):
            if attempt:
                delay = retry_after if retry_after is not None else self._backoff(attempt)
                logger.info(
                    "%s: %s; retrying in %.2f s (attempt %d of %d)",
                    self.name, problem, delay, attempt + 1, attempts,
                )
                # Wakes early when another request failed for good, so a batch stops fast.
                if abort.wait(delay):
                    break
            if abort.is_set():
                break
            retry_after = None
            try:
                response = self._client.post(url, json=payload)
            except httpx.TimeoutException:
                problem = f"no reply within {self.timeout:g} s"
                continue
            except httpx.TransportError as exc:
                problem = self._key.scrub(f"connection failed ({type(exc).__name__}: {exc})")
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                problem = self._key.scrub(f"HTTP {status}: {_server_message(response)}")
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
                continue
            try:
                return parse(data)
            except _Malformed as exc:
                problem = self._key.scrub(f"malformed reply: {exc}")
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
                texts.append(_cut_at_stop(content, stop))
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
                texts.append(_cut_at_stop(text, stop))
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
        stops = _check_generation_args(prompts, max_new_tokens, temperature, top_p, n, stop)
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
            _check_messages(messages)
        stops = _check_generation_args([], max_new_tokens, temperature, top_p, n, stop)
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
        _check_pairs(prompts, continuations)
        results: list[list[float]] = [[] for _ in prompts]
        todo = [i for i, c in enumerate(continuations) if c]
        jobs = [self._logprob_job(prompts[i], continuations[i]) for i in todo]
        for i, values in zip(todo, self._run_all(jobs, f"{self.name}: scoring")):
            results[i] = values
        return results


# --------------------------------------------------------------------------- specs


# The model name ends at the first "@http(s)://", so names containing "@" still parse.
_OPENAI_SPEC = re.compile(r"^openai:(?P<model>.+?)@(?P<url>https?://.+)$")

_SPEC_HELP = (
    "expected 'hf:<id-or-path>', 'tiny', 'openai:<model>@<base_url>' "
    "(e.g. openai:llama3@http://127.0.0.1:8000/v1) or an existing local model directory"
)


def make_backend(spec: str, **kwargs: Any) -> LLMBackend:
    """Build a backend from a spec string; ``kwargs`` go to the backend's constructor.

    >>> make_backend("openai:llama3@http://127.0.0.1:8000/v1").name
    'openai:llama3@http://127.0.0.1:8000/v1'
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"empty LLM spec: {_SPEC_HELP}")
    spec = spec.strip()
    if spec == "tiny":
        return TransformersBackend("tiny", **kwargs)
    if spec.startswith("hf:"):
        target = spec[3:]
        if not target:
            raise ConfigError(f"LLM spec {spec!r} names no model: {_SPEC_HELP}")
        return TransformersBackend(target, **kwargs)
    if spec.startswith("openai:"):
        match = _OPENAI_SPEC.match(spec)
        if match is None:
            raise ConfigError(f"LLM spec {spec!r} is not 'openai:<model>@<base_url>': {_SPEC_HELP}")
        return OpenAICompatibleBackend(match["url"], match["model"], **kwargs)
    if os.path.isdir(spec) or os.path.isfile(spec):
        return TransformersBackend(spec, **kwargs)
    raise ConfigError(f"unknown LLM spec {spec!r}: {_SPEC_HELP}")
