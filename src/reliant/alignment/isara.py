"""The ISARA loop (Guo et al., arXiv 2401.06785, Sec. 3) as four functions, no human instructions:

1. **retrieve** (:func:`retrieve_related`): embed the seeds and a pool of (prompt, response)
   samples with the packaged MiniLM and take each seed's nearest pool samples (cosine k-NN);
   seeds and retrieved samples form the in-context bank;
2. **generate** (:func:`generation_prompts`, :func:`generate_candidates`): for each new sample,
   draw an anchor among the domain's samples (seeds and samples kept in earlier rounds),
   retrieve its nearest neighbours in the bank, and let the model continue the few-shot pattern
   ``### Question: ... ### Answer: ...`` with a new question and its answer. The prompt holds
   only examples, never an instruction: the model's self-generalisation writes the new sample;
3. **filter** (:func:`filter_candidates`): drop what does not parse, what is too short or too long,
   what the judge rejects (the model itself by default, any backend on request; see
   :mod:`reliant.alignment.judge`), optionally the lower-scored part by FEWL (reliant's addition:
   the hallucination score of :mod:`reliant.hallucination`, no gold answers;
   :class:`reliant.alignment.judge.FEWLFilter`) and near-duplicates: a prompt whose ROUGE-L F1
   with a seed or an already kept prompt is above 0.7, as Self-Instruct dedupes (the shared
   :func:`reliant.core.metrics.rouge_l_f1`);
4. **fine-tune** (:func:`reliant.alignment.sft.fine_tune`): LoRA SFT on TRL over the seeds and
   everything kept so far; the fine-tuned model generates the next round.

Each round's adapter is trained afresh from the base model on the accumulated data (rather than
stacked on the previous adapter), so "one round vs several" differs only in how much
self-generated data the model saw, and a resumed round retrains to the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reliant.alignment.inputs import Sample
from reliant.core.knn import knn
from reliant.core.metrics import rouge_l_f1

__all__ = [
    "ANSWER_MARK",
    "QUESTION_MARK",
    "Candidate",
    "embed_samples",
    "filter_candidates",
    "generate_candidates",
    "generation_prompts",
    "icl_prompt",
    "parse_generation",
    "retrieve_related",
]

QUESTION_MARK = "### Question:"
ANSWER_MARK = "### Answer:"


@dataclass
class Candidate:
    """One generated sample on its way through the filter."""

    raw: str
    shots: list[int]  # bank indices of the in-context examples
    prompt: str = ""
    response: str = ""
    judge_score: float | None = None
    fewl_score: float | None = None
    reason: str | None = None  # why it was rejected; None while kept
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, round_name: str, bank: Sequence[Sample]) -> dict[str, Any]:
        row = {"round": round_name, "prompt": self.prompt, "response": self.response, "raw": self.raw,
               "judge_score": self.judge_score, "shots": [bank[i].prompt for i in self.shots]}
        if self.fewl_score is not None:
            row["fewl_score"] = self.fewl_score
        if self.reason is not None:
            row["reason"] = self.reason
        return row


def sample_text(sample: Sample) -> str:
    """What is embedded for retrieval: the prompt and its response."""
    return f"{sample.prompt}\n{sample.response}"


def embed_samples(samples: Sequence[Sample], device: str = "auto") -> np.ndarray:
    """Unit-length MiniLM embeddings of the samples, one row each."""
    from reliant.core.embeddings import embed

    return embed([sample_text(s) for s in samples], device=device, show_progress=len(samples) > 256)


def retrieve_related(seed_vectors: np.ndarray, pool_vectors: np.ndarray, neighbors: int) -> list[int]:
    """Pool indices of each seed's ``neighbors`` nearest pool samples (cosine), each index once,
    in the order seeds and ranks reach them."""
    if neighbors <= 0 or len(pool_vectors) == 0 or len(seed_vectors) == 0:
        return []
    _, idx = knn(seed_vectors, pool_vectors, min(neighbors, len(pool_vectors)), normalized=True, backend="exact")
    return list(dict.fromkeys(int(i) for row in idx for i in row))


def icl_prompt(shots: Sequence[Sample]) -> str:
    """The few-shot text the generator continues: worked examples, then an open question."""
    blocks = [f"{QUESTION_MARK}\n{s.prompt.strip()}\n{ANSWER_MARK}\n{s.response.strip()}" for s in shots]
    return "\n\n".join(blocks) + f"\n\n{QUESTION_MARK}\n"


def parse_generation(text: str) -> tuple[str, str] | None:
    """``(prompt, response)`` from a continuation of :func:`icl_prompt`, or None when the answer
    marker is missing or either part is empty."""
    head, marker, tail = text.partition(ANSWER_MARK)
    if not marker:
        return None
    prompt = head.split(QUESTION_MARK)[0].strip()
    response = tail.split(QUESTION_MARK)[0].strip()
    return (prompt, response) if prompt and response else None


def generation_prompts(
    bank: Sequence[Sample], bank_vectors: np.ndarray, anchors: Sequence[int], shots: int
) -> list[tuple[str, list[int]]]:
    """For each anchor (a bank index): its ``shots - 1`` nearest other bank samples and itself,
    the anchor last (nearest the new sample), as ``(prompt text, shot indices)``."""
    others = min(shots - 1, len(bank) - 1)
    neighbours: list[list[int]] = [[] for _ in anchors]
    if others > 0:
        _, idx = knn(bank_vectors[list(anchors)], bank_vectors, others + 1, normalized=True, backend="exact")
        neighbours = [[int(j) for j in row if j != anchor][:others] for row, anchor in zip(idx, anchors)]
    prompts = []
    for anchor, near in zip(anchors, neighbours):
        chosen = [*reversed(near), anchor]  # farthest first, the anchor right before the open question
        prompts.append((icl_prompt([bank[i] for i in chosen]), chosen))
    return prompts


def generate_candidates(
    backend, prompts: Sequence[tuple[str, list[int]]], *, max_new_tokens: int, temperature: float, top_p: float,
    seed: int,
) -> list[Candidate]:
    """One continuation per prompt from ``backend`` (raw text completion), parsed into candidates."""
    texts = backend.generate([p for p, _ in prompts], max_new_tokens=max_new_tokens, temperature=temperature,
                             top_p=top_p, seed=seed, stop=[f"\n{QUESTION_MARK}"])
    candidates = []
    for (_, shot_ids), outs in zip(prompts, texts):
        candidate = Candidate(raw=outs[0], shots=shot_ids)
        parsed = parse_generation(outs[0])
        if parsed is None:
            candidate.reason = f"unparsable: no '{ANSWER_MARK}' or an empty question or answer"
        else:
            candidate.prompt, candidate.response = parsed
        candidates.append(candidate)
    return candidates


def _length_reason(candidate: Candidate, settings) -> str | None:
    for part, low, high in (("prompt", settings.min_prompt_words, settings.max_prompt_words),
                            ("response", settings.min_response_words, settings.max_response_words)):
        words = len(getattr(candidate, part).split())
        if words < low:
            return f"{part} too short ({words} words < {low})"
        if words > high:
            return f"{part} too long ({words} words > {high})"
    return None


def filter_candidates(
    candidates: Sequence[Candidate],
    existing_prompts: Sequence[str],
    settings,
    judge: Callable[[Sequence[tuple[str, str]]], list[float]] | None = None,
    fewl: Callable[[Sequence[tuple[str, str]]], list[float]] | None = None,
) -> tuple[list[Candidate], list[Candidate]]:
    """``(kept, rejected)``; each rejected candidate carries its ``reason``.

    In order: parsing (done by :func:`generate_candidates`), length, the judge (``judge`` maps
    pairs to scores; kept when above ``settings.judge_threshold``), FEWL (``fewl`` maps pairs to
    scores, higher = more truthful; the best ``settings.fewl_keep`` share is kept, ties broken by
    generation order), then the ROUGE-L dedupe against ``existing_prompts`` and the prompts kept
    before it in this batch.
    """
    alive = [c for c in candidates if c.reason is None]
    for candidate in alive:
        candidate.reason = _length_reason(candidate, settings)
    alive = [c for c in alive if c.reason is None]
    if judge is not None and alive:
        for candidate, score in zip(alive, judge([(c.prompt, c.response) for c in alive])):
            candidate.judge_score = score
            if not score > settings.judge_threshold:
                candidate.reason = f"judge: log P(Yes) - log P(No) = {score:.2f} <= {settings.judge_threshold:g}"
        alive = [c for c in alive if c.reason is None]
    if fewl is not None and alive:
        scores = fewl([(c.prompt, c.response) for c in alive])
        for candidate, score in zip(alive, scores):
            candidate.fewl_score = score
        keep = max(1, math.ceil(settings.fewl_keep * len(alive) - 1e-9))
        # Stable: earlier generations win ties; a NaN score (nothing to compare with) ranks last.
        order = sorted(range(len(alive)), key=lambda i: -scores[i] if math.isfinite(scores[i]) else math.inf)
        cut = scores[order[keep - 1]]
        for i in order[keep:]:
            alive[i].reason = (f"FEWL: score {scores[i]:.3f} below the best {settings.fewl_keep:.0%} "
                               f"(kept from {cut:.3f})")
        alive = [c for c in alive if c.reason is None]
    reference = list(existing_prompts)
    kept = []
    for candidate in alive:
        best, closest = 0.0, ""
        for other in reference:
            score = rouge_l_f1(candidate.prompt, other)
            if score > best:
                best, closest = score, other
        if best > settings.max_rouge_l:
            shown = closest if len(closest) <= 60 else closest[:57] + "..."
            candidate.reason = f"near-duplicate: ROUGE-L {best:.2f} > {settings.max_rouge_l:g} with {shown!r}"
            continue
        kept.append(candidate)
        reference.append(candidate.prompt)
    rejected = [c for c in candidates if c.reason is not None]
    return kept, rejected
