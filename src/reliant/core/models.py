"""Causal language models: loading (Hugging Face id, local directory or the built-in tiny
LM), optional LoRA wrapping, and the batched scoring and generation helpers every
capability shares (unlearning, memorization audits, evaluation).

Conventions, kept in one place so training and every probe agree:

* **Prompt/answer boundary.** A prompt and its answer are joined exactly like
  :func:`reliant.core.prompts.qa_text`: ``prompt + " " + answer.strip()`` (no separator
  when the prompt is empty or already ends in whitespace). The prompt and the joined text
  are tokenized the same way (with the tokenizer's own special tokens, e.g. a leading
  BOS), and the answer tokens are those after the longest common prefix of the two token
  lists. A token that straddles the boundary therefore belongs to the answer, as in the
  lm-evaluation-harness and :class:`reliant.core.llm.TransformersBackend`.
* **Empty prompt.** With an empty prompt the whole answer is scored (Min-K%-style text
  scoring). When the tokenizer adds no BOS of its own (GPT-2), its BOS (or EOS) id is put
  in front so that the first text token also has a context to be scored under.
* **EOS.** Training batches (:func:`build_qa_batch`) end every answer with EOS, which is
  scored, so a fine-tuned model learns to stop (TOFU does the same). Scoring helpers leave
  EOS out by default so a "text" is only its own tokens; pass ``add_eos=True`` to include it.
* **Padding.** The helpers pad by hand and never read or change
  ``tokenizer.padding_side``: scoring and training batches are right-padded (position ids
  then match the unpadded sequence, so batched and one-at-a-time results agree), and
  generation batches are left-padded (every prompt ends where generation starts).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reliant.core.errors import ConfigError, UserError

__all__ = [
    "IGNORE_INDEX",
    "LoraSettings",
    "answer_token_logprobs",
    "apply_lora",
    "build_qa_batch",
    "encode_prompt_answer",
    "greedy_generate",
    "join_prompt_answer",
    "load_causal_lm",
    "mean_answer_nll",
    "model_device",
    "pad_encoded",
    "resolve_device",
    "resolve_dtype",
]

IGNORE_INDEX = -100

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
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    import httpx

    try:
        httpx.head(constants.ENDPOINT, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def _hub_cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

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
        from reliant.core.tiny_lm import resolve_tiny_name

        return str(resolve_tiny_name(name)), True
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
            use, then cached) or ``"tiny:<name>"`` for a tiny LM built with
            :func:`reliant.core.tiny_lm.build_tiny_lm` under that name.
        dtype: ``"auto"`` (bfloat16 on capable CUDA, else float32), a name such as
            ``"bf16"``/``"float32"``, or a ``torch.dtype``.
        device: ``"auto"`` (CUDA if available, else CPU) or any torch device string.
        lora: wrap the model in fresh LoRA adapters (only they are trainable).
        trust_remote_code: passed to ``from_pretrained``; leave off unless you trust the repo.

    The tokenizer always has a pad token (its EOS when it had none). Its
    ``padding_side`` is left as loaded: the helpers in this module pad by hand.

    Raises:
        UserError: the model cannot be found locally and cannot be downloaded.
    """
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


def quiet_transformers() -> None:
    """Silence transformers' own per-file progress bars and advisory warnings: reliant
    draws one progress bar per long task, and logs go to the run directory."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


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
    from peft import LoraConfig, get_peft_model

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


def join_prompt_answer(prompt: str, answer: str) -> str:
    """The text a prompt and its answer form; equals ``qa_text`` for a ``qa_prompt``."""
    answer = answer.strip()
    if not prompt or prompt[-1].isspace():
        return prompt + answer
    return f"{prompt} {answer}"


def _start_token_id(tokenizer: Any) -> int:
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise UserError("the tokenizer has no BOS or EOS token to start an empty prompt with")


def encode_prompt_answer(tokenizer: Any, prompt: str, answer: str, *, add_eos: bool = False) -> tuple[list[int], int]:
    """Token ids of prompt + answer, and the index where the answer tokens start.

    See the module docstring for how the boundary is found. With ``add_eos`` the EOS id
    follows the answer (and counts as an answer token).
    """
    prompt_ids = list(tokenizer(prompt)["input_ids"])
    full_ids = list(tokenizer(join_prompt_answer(prompt, answer))["input_ids"])
    # Some tokenizers (e.g. with a post-processor that appends EOS) end every encoding with
    # a special token; the common prefix below stops before it for the prompt, but the
    # joined text must not carry it into the answer either.
    eos = tokenizer.eos_token_id
    if eos is not None and full_ids and full_ids[-1] == eos and prompt_ids and prompt_ids[-1] == eos:
        full_ids = full_ids[:-1]
        prompt_ids = prompt_ids[:-1]
    boundary = 0
    for a, b in zip(prompt_ids, full_ids):
        if a != b:
            break
        boundary += 1
    if boundary == 0:
        # No special start token: give the first answer token a context to be scored under.
        full_ids = [_start_token_id(tokenizer)] + full_ids
        boundary = 1
    if add_eos:
        full_ids.append(int(tokenizer.eos_token_id))
    return full_ids, boundary


def pad_encoded(
    encoded: Sequence[tuple[list[int], int]], pad_id: int, *, max_length: int | None = None
) -> dict[str, torch.Tensor]:
    """Right-pad ``(ids, answer_start)`` pairs into input_ids, attention_mask and labels
    (IGNORE_INDEX on prompt and pad); sequences over ``max_length`` lose their end."""
    rows = [(ids[:max_length] if max_length else ids, start) for ids, start in encoded]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, (ids, start) in enumerate(rows):
        n = len(ids)
        input_ids[i, :n] = torch.tensor(ids, dtype=torch.long)
        attention_mask[i, :n] = 1
        if start < n:
            labels[i, start:n] = input_ids[i, start:n]
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise UserError("the tokenizer has neither a pad token nor an EOS token to pad with")
    return int(pad)


def build_qa_batch(
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    max_length: int,
    *,
    add_eos: bool = True,
) -> dict[str, torch.Tensor]:
    """A right-padded training batch: ``input_ids``, ``attention_mask`` and ``labels``
    equal to the input ids on answer tokens (and the closing EOS) and IGNORE_INDEX on
    prompt and padding. Sequences longer than ``max_length`` are cut at the end."""
    _check_pairs(prompts, answers)
    if max_length < 2:
        raise ConfigError(f"max_length must be at least 2, got {max_length}", field="max_length")
    encoded = [encode_prompt_answer(tokenizer, p, a, add_eos=add_eos) for p, a in zip(prompts, answers)]
    return pad_encoded(encoded, _pad_id(tokenizer), max_length=max_length)


def _check_pairs(prompts: Sequence[str], answers: Sequence[str]) -> None:
    if isinstance(prompts, str) or isinstance(answers, str):
        raise TypeError("prompts and answers must be sequences of strings, not a single string")
    if len(prompts) != len(answers):
        raise UserError(f"{len(prompts)} prompts but {len(answers)} answers")


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


def _length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices in batches of similar length (longest first), so little compute goes to padding."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}", field="batch_size")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


@torch.inference_mode()
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

    Prompt tokens are never scored; see the module docstring for the boundary rule. Use an
    empty prompt to score a whole text.
    """
    _check_pairs(prompts, answers)
    encoded = [encode_prompt_answer(tokenizer, p, a, add_eos=add_eos) for p, a in zip(prompts, answers)]
    results: list[torch.Tensor | None] = [None] * len(encoded)
    device = model_device(model)
    pad_id = _pad_id(tokenizer)
    with _EvalMode(model):
        for indices in _length_batches([len(ids) for ids, _ in encoded], batch_size):
            batch = pad_encoded([encoded[i] for i in indices], pad_id)
            logits = model(
                input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
            ).logits
            for row, i in enumerate(indices):
                ids, start = encoded[i]
                # Position t predicts token t + 1; only answer positions are normalised.
                row_logits = logits[row, start - 1 : len(ids) - 1].float()
                targets = batch["input_ids"][row, start : len(ids)].to(row_logits.device)
                logps = torch.log_softmax(row_logits, dim=-1).gather(-1, targets[:, None]).squeeze(-1)
                results[i] = logps.cpu()
    return [r if r is not None else torch.empty(0) for r in results]


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


def _newline_stopper(tokenizer: Any, prompt_width: int) -> Any:
    from transformers import StoppingCriteria

    class StopAtNewline(StoppingCriteria):
        """Marks a row done once its continuation contains a newline (generate then pads it)."""

        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            texts = tokenizer.batch_decode(input_ids[:, prompt_width:], skip_special_tokens=True)
            return torch.tensor(["\n" in t for t in texts], dtype=torch.bool, device=input_ids.device)

    return StopAtNewline()


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
    from transformers import GenerationConfig, StoppingCriteriaList

    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of strings, not a single string")
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be at least 1, got {max_new_tokens}", field="max_new_tokens")
    encoded = []
    for prompt in prompts:
        ids = list(tokenizer(prompt)["input_ids"])
        encoded.append(ids if ids else [_start_token_id(tokenizer)])
    pad_id = _pad_id(tokenizer)
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
        for indices in _length_batches([len(ids) for ids in encoded], batch_size):
            width = max(len(encoded[i]) for i in indices)
            input_ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(indices), width), dtype=torch.long)
            for row, i in enumerate(indices):
                ids = encoded[i]
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention_mask[row, width - len(ids) :] = 1
            stopping = StoppingCriteriaList([_newline_stopper(tokenizer, width)]) if stop_at_newline else None
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
