"""The in-process backend: a causal LM from ``transformers``, built on the batching, padding,
start-token and stop-string helpers of :mod:`reliant.core.models`, so it encodes, pads and
scores exactly as training and every probe do."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import torch

from reliant.core import models
from reliant.core.errors import ConfigError
from reliant.core.llm.base import (
    LLMBackend,
    Message,
    check_choices,
    check_generation_args,
    check_messages,
    check_pairs,
    cut_at_stop,
    render_chat_plain,
)
from reliant.core.progress import batch_progress
from reliant.core.prompts import chat_prompt, pad_token_id, start_token_id

__all__ = ["TransformersBackend"]


def _pick_device(device: str) -> str:
    """``"auto"``: CUDA, else Apple's MPS, else the CPU."""
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


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
        mode: how :meth:`generate` treats its prompts. ``"auto"`` (the default): as one
            user message each through the chat template when the model has one (an
            instruct model, e.g. ``smollm2``), as raw text otherwise (the tiny LMs, base
            models), which is what ``mode=chat`` of an OpenAI-compatible server does with
            the same prompts; ``"chat"``: always as a user message (plain ``User:`` /
            ``Assistant:`` lines without a template); ``"completions"``: always raw text.
            :meth:`logprobs` always scores the raw text, as ``/completions`` does.
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
        mode: str = "auto",
        show_progress: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if mode not in ("auto", "chat", "completions"):
            raise ConfigError(f"mode must be 'auto', 'chat' or 'completions', got {mode!r}", field="mode")
        if isinstance(model_or_path, tuple):
            model_or_path, loaded_tokenizer = model_or_path
            tokenizer = tokenizer if tokenizer is not None else loaded_tokenizer
        if isinstance(model_or_path, (str, os.PathLike)):
            source = os.fspath(model_or_path)
            model, loaded_tokenizer = models.load_causal_lm(source)
            tokenizer = tokenizer if tokenizer is not None else loaded_tokenizer
            self.name = source if source in ("tiny", "smollm2") else f"hf:{source}"
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
        self.mode = mode
        self.show_progress = show_progress
        self.device = models.model_device(model)
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
        if self.tokenizer.pad_token_id is None and self.tokenizer.eos_token_id is None:
            return min(self._eos_ids) if self._eos_ids else 0
        return pad_token_id(self.tokenizer)

    def _encode(self, texts: Sequence[str], add_special_tokens: bool) -> list[list[int]]:
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]
        return [list(ids) for ids in encoded]

    def _description(self, what: str) -> str | None:
        return f"{self.name}: {what}" if self.show_progress else None

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
        return cut_at_stop(text, stop)

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
        results: list[list[str]] = [[] for _ in encoded]
        if not encoded:
            return results
        if max_new_tokens == 0:
            return [[""] * n for _ in encoded]
        encoded = [ids if ids else [start_token_id(self.tokenizer)] for ids in encoded]
        config = self._generation_config(max_new_tokens, temperature, top_p, n)
        # Longest first, so similar lengths share a batch and padding stays small.
        batches = list(models.length_batches([len(ids) for ids in encoded], self.batch_size))
        per_prompt = n if temperature > 0 else 1
        fork_devices = [self.device.index or 0] if self.device.type == "cuda" else []
        rng = torch.random.fork_rng(devices=fork_devices, enabled=seed is not None)
        progress = batch_progress(self._description("generating"), len(batches))
        with rng, torch.inference_mode(), progress as advance:
            if seed is not None:
                torch.manual_seed(seed)
            for batch in batches:
                input_ids, attention_mask = models.left_pad([encoded[i] for i in batch], self._pad_id)
                input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
                extra: dict[str, Any] = {}
                if stop:
                    extra["stopping_criteria"] = models.stop_criteria(self.tokenizer, input_ids.shape[1], stop)
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
                advance()
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
        """Batched generation with left padding; see :class:`LLMBackend` for the contract.

        With ``mode="auto"`` on a model with a chat template (or ``mode="chat"``), each
        prompt is sent as one user message (see the class docstring)."""
        stops = check_generation_args(prompts, max_new_tokens, temperature, top_p, n, stop)
        if self.mode == "chat" or (self.mode == "auto" and self.has_chat_template):
            return self.chat(
                [[{"role": "user", "content": p}] for p in prompts], max_new_tokens=max_new_tokens,
                temperature=temperature, top_p=top_p, n=n, seed=seed, stop=stops,
            )
        return self._generate_ids(
            self._encode(prompts, add_special_tokens=True),
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=n,
            seed=seed, stop=stops,
        )

    @property
    def has_chat_template(self) -> bool:
        """Whether chats go through a chat template (given, or the tokenizer's own)."""
        return bool(self.chat_template or getattr(self.tokenizer, "chat_template", None))

    def render_chat(self, messages: Sequence[Message]) -> str:
        """Apply the chat template (given or the tokenizer's); plain rendering without one."""
        check_messages(messages)
        if not self.has_chat_template:
            return render_chat_plain(messages)
        return chat_prompt(self.tokenizer, messages, chat_template=self.chat_template)

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
        templated = self.has_chat_template
        prompts = [self.render_chat(messages) for messages in messages_list]
        stops = check_generation_args(prompts, max_new_tokens, temperature, top_p, n, stop)
        return self._generate_ids(
            self._encode(prompts, add_special_tokens=not templated),
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=n,
            seed=seed, stop=stops,
        )

    # -- scoring

    def _split(self, prompt_ids: list[int], full_ids: list[int]) -> tuple[list[int], int]:
        """``prompt + continuation`` as ``(ids, start)``: the continuation starts where the
        full encoding stops agreeing with the prompt's, so a token merged across the
        boundary is scored as part of the continuation; an empty context becomes the start
        token."""
        k = 0
        limit = min(len(prompt_ids), len(full_ids))
        while k < limit and prompt_ids[k] == full_ids[k]:
            k += 1
        context, continuation = full_ids[:k], full_ids[k:]
        if not context and continuation:
            context = [start_token_id(self.tokenizer)]
        return context + continuation, len(context)

    def logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        """Exact per-token log-probs from one forward pass per batch, by
        :func:`reliant.core.models.score_tokens` (right-padded batches)."""
        check_pairs(prompts, continuations)
        prompt_ids = self._encode(prompts, add_special_tokens=True)
        full_ids = self._encode([p + c for p, c in zip(prompts, continuations)], add_special_tokens=True)
        pairs = [self._split(p, f) for p, f in zip(prompt_ids, full_ids)]
        results: list[list[float]] = [[] for _ in pairs]
        todo = [i for i, (ids, start) in enumerate(pairs) if start < len(ids)]
        scores = models.score_tokens(
            self.model, [pairs[i] for i in todo], self._pad_id, self.batch_size, description=self._description("scoring")
        )
        for i, score in zip(todo, scores):
            results[i] = score.logprobs.tolist()
        return results

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        """:meth:`LLMBackend.choice_logprobs` from one forward pass per prompt
        (:func:`reliant.core.models.choice_logprobs`; a prefix every prompt shares runs once).
        Prompts are encoded as :meth:`logprobs` encodes them and each choice on its own, so
        end the prompts where a token boundary is certain (after a space, a colon)."""
        check_choices(prompts, choices)
        prompt_ids = [ids or [start_token_id(self.tokenizer)] for ids in self._encode(prompts, add_special_tokens=True)]
        choice_ids = self._encode(choices, add_special_tokens=False)
        scores = models.choice_logprobs(self.model, prompt_ids, choice_ids, self._pad_id, self.batch_size,
                                        description=self._description("scoring choices"))
        return scores.tolist()
