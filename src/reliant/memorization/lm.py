"""Membership scores and extraction probes for causal language models.

Examples are either whole texts (every token scored, Min-K% style) or question/answer
pairs in the shared QA format (only the answer is scored, given the question prompt) --
the same convention :mod:`reliant.core.models` uses everywhere, so a tiny LM trained on QA
pairs is probed exactly as it was trained.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reliant.core.errors import ConfigError, DataError
from reliant.core.models import greedy_generate, model_device, score_tokens
from reliant.core.tiny_lm import small_model_threads  # noqa: F401 (re-exported)
from reliant.core.prompts import encode_prompt_answer, pad_token_id
from reliant.memorization import metrics as M
from reliant.memorization.inputs import Example, examples_from_records, load_examples  # noqa: F401 (re-exported)

from reliant.memorization.attacks import ATTACK_REGISTRY  # noqa: E402 (after the re-exports above)

# The attacks computable from token statistics alone (what membership_scores runs; the
# unlearning capability's MIA suite uses these). The full registry is ATTACK_REGISTRY.
ATTACKS = ("loss", "zlib", "reference", "min_k", "min_k_pp")
ATTACK_LABELS = {name: attack.label for name, attack in ATTACK_REGISTRY.items()}


@dataclass
class TokenStats:
    """Per-token statistics of one example's target tokens under a model: log-probabilities,
    the moments of the next-token distribution (None from an API) and the token ids (None
    from an API)."""

    logprobs: np.ndarray
    means: np.ndarray | None = None
    stds: np.ndarray | None = None
    ids: np.ndarray | None = None


def token_statistics(
    model: Any, tokenizer: Any, examples: Sequence[Example], *, batch_size: int = 16, max_length: int | None = None
) -> list[TokenStats]:
    """For every target token: its log-probability, and the mean and standard deviation of
    the log-probability under the model's next-token distribution at that position (the
    moments Min-K%++ needs), from :func:`reliant.core.models.score_tokens`. Prompt/answer
    boundaries follow :mod:`reliant.core.prompts`."""
    encoded = [encode_prompt_answer(tokenizer, e.prompt_for(tokenizer), e.target) for e in examples]
    if max_length:
        encoded = [(ids[:max_length], start) for ids, start in encoded]
    scores = score_tokens(model, encoded, pad_token_id(tokenizer), batch_size, distribution=True,
                          description="scoring tokens")
    stats = []
    for (ids, start), s in zip(encoded, scores):
        if start >= len(ids):
            stats.append(TokenStats(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)))
        else:
            stats.append(TokenStats(s.logprobs.numpy(), s.mean.numpy(), s.var.sqrt().numpy(),
                                    np.asarray(ids[start:], dtype=np.int64)))
    return stats


def api_token_statistics(backend: Any, examples: Sequence[Example]) -> list[TokenStats]:
    """Token log-probabilities of every example from an LLM backend's ``logprobs`` (an
    OpenAI-compatible ``/completions`` endpoint with ``echo`` and ``logprobs``): only the
    log-probabilities, so attacks that need the distribution, token ids or gradients cannot
    run. QA examples are scored after their plain QA prompt; a plain text after its first
    word (a server gives the first token of a text no log-probability)."""
    prompts, targets = [], []
    for example in examples:
        if example.prompt:
            prompts.append(example.prompt)
            targets.append(example.target)
        else:
            first, sep, rest = example.target.partition(" ")
            prompts.append(first + sep if rest else "")
            targets.append(rest if rest else example.target)
    values = backend.logprobs(prompts, targets)
    return [TokenStats(np.asarray(v, dtype=float)) for v in values]


def gradient_norms(model: Any, tokenizer: Any, examples: Sequence[Example], *, max_length: int | None = None) -> np.ndarray:
    """GradNorm's statistic per example: the mean over parameter tensors of ``‖∇_θ L‖₂`` of the
    mean NLL of the target tokens (as mimir computes it), one example at a time. Gradients
    are cleared afterwards; the weights do not change."""
    from reliant.core.progress import track

    device = model_device(model)
    parameters = [p for p in model.parameters()]
    was_training = model.training
    model.eval()
    flags = [p.requires_grad for p in parameters]
    for p in parameters:
        p.requires_grad_(True)
    out = []
    try:
        for example in track(list(examples), f"gradients of {len(examples)} texts"):
            ids, start = encode_prompt_answer(tokenizer, example.prompt_for(tokenizer), example.target)
            if max_length:
                ids = ids[:max_length]
            if start >= len(ids):
                raise DataError("has no tokens to score", file=example.source or None, line=example.line, field="text")
            input_ids = torch.tensor([ids], device=device)
            model.zero_grad(set_to_none=True)
            logits = model(input_ids=input_ids).logits[0, start - 1 : len(ids) - 1].float()
            loss = torch.nn.functional.cross_entropy(logits, input_ids[0, start:])
            loss.backward()
            norms = [p.grad.detach().norm(2).item() for p in parameters if p.grad is not None]
            out.append(float(np.mean(norms)) if norms else 0.0)
    finally:
        model.zero_grad(set_to_none=True)
        for p, flag in zip(parameters, flags):
            p.requires_grad_(flag)
        model.train(was_training)
    return np.array(out)


def membership_scores(
    target_stats: Sequence[TokenStats],
    examples: Sequence[Example],
    *,
    reference_stats: Sequence[TokenStats] | None = None,
    k: float = 0.2,
    attacks: Sequence[str] = ATTACKS,
) -> dict[str, np.ndarray]:
    """Every requested attack's score per example (higher = more likely a member).
    ``reference`` needs ``reference_stats``; it is skipped when they are absent."""
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ConfigError(f"unknown attack(s) {unknown} (choose from {', '.join(ATTACKS)})", field="attacks")
    for stats, example in zip(target_stats, examples):
        if len(stats.logprobs) == 0:
            raise DataError("has no tokens to score", file=example.source or None, line=example.line, field="text")
    out: dict[str, np.ndarray] = {}
    for attack in attacks:
        if attack == "loss":
            out[attack] = np.array([M.loss_score(s.logprobs) for s in target_stats])
        elif attack == "zlib":
            out[attack] = np.array([M.zlib_score(s.logprobs, e.target) for s, e in zip(target_stats, examples)])
        elif attack == "min_k":
            out[attack] = np.array([M.min_k_score(s.logprobs, k) for s in target_stats])
        elif attack == "min_k_pp":
            out[attack] = np.array([M.min_k_plus_plus_score(s.logprobs, s.means, s.stds, k) for s in target_stats])
        elif attack == "reference" and reference_stats is not None:
            out[attack] = np.array(
                [M.reference_score(s.logprobs, r.logprobs) for s, r in zip(target_stats, reference_stats)]
            )
    return out


@dataclass
class ExtractionResult:
    prefixes: list[str]
    suffixes: list[str]
    generations: list[str]
    exact: np.ndarray
    edit_distance: np.ndarray  # normalised by the suffix length in tokens
    rouge_l: np.ndarray


def extraction(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    *,
    prefix_tokens: int = 32,
    suffix_tokens: int = 32,
    batch_size: int = 16,
) -> ExtractionResult:
    """Discoverable memorization (Carlini et al., 2023): give the model a prefix of a
    training example and decode greedily; the example is extracted when the continuation
    reproduces the true suffix exactly (token for token over the suffix length), and
    approximately memorised when its normalised token edit distance is small or its
    ROUGE-L F1 high. QA examples use the question prompt as prefix and the answer as
    suffix; texts are split after ``prefix_tokens`` tokens, the next ``suffix_tokens``
    being the suffix (texts too short for both are split in the middle)."""
    if prefix_tokens < 1 or suffix_tokens < 1:
        raise ConfigError("prefix and suffix lengths must be at least 1 token", field="prefix_tokens")
    prefixes, suffixes, suffix_ids = [], [], []
    for e in examples:
        if e.prompt:
            prefixes.append(e.prompt_for(tokenizer))
            suffixes.append(e.target)
            suffix_ids.append(tokenizer(e.target, add_special_tokens=False)["input_ids"])
            continue
        ids = tokenizer(e.target, add_special_tokens=False)["input_ids"]
        cut = prefix_tokens if len(ids) > prefix_tokens + 1 else max(1, len(ids) // 2)
        prefixes.append(tokenizer.decode(ids[:cut]))
        suffix = ids[cut : cut + suffix_tokens]
        suffix_ids.append(suffix)
        suffixes.append(tokenizer.decode(suffix))
    longest = max((len(s) for s in suffix_ids), default=1)
    generations = greedy_generate(model, tokenizer, prefixes, max_new_tokens=max(1, longest + 2), batch_size=batch_size)
    exact, edits, rouge = [], [], []
    for generated, ref_text in zip(generations, suffixes):
        # Both sides tokenised from stripped text, so a leading space never counts as an edit.
        ref = ref_text.strip()
        ref_ids = tokenizer(ref, add_special_tokens=False)["input_ids"]
        gen_ids = tokenizer(generated.strip(), add_special_tokens=False)["input_ids"][: len(ref_ids)]
        exact.append(" ".join(generated.split()).startswith(" ".join(ref.split())))
        edits.append(M.token_edit_distance(gen_ids, ref_ids) / max(1, len(ref_ids)))
        rouge.append(M.rouge_l_f1(tokenizer.decode(gen_ids), ref))
    return ExtractionResult(prefixes, suffixes, generations, np.array(exact, dtype=bool), np.array(edits), np.array(rouge))
