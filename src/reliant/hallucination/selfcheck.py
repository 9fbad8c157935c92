"""SelfCheckGPT (Manakul et al. 2023, arXiv:2303.08896): a candidate's answer is checked
against the candidate's *own* sampled answers, sentence by sentence — a model that knows the
fact says it again when resampled; one that hallucinates drifts. Baselines beside FEWL.

Each variant gives every sentence ``s`` of the answer a hallucination score (higher = more
likely hallucinated), written from the paper's Sec. 5:

* n-gram (Sec. 5.4, n = 1): a unigram model is fitted on the answer and its N samples
  (maximum likelihood, lower-cased word tokens); the sentence score is the average negative
  log-probability of its tokens, ``−1/J Σ_j log p̃(w_j)``; the answer-level score is the
  average over all its tokens (the paper's passage-level "Avg(−log p)").
* NLI (Sec. 5.5): ``1/N Σ_n P(contradict | sample_n, s) / (P(entail) + P(contradict))`` with
  an NLI cross-encoder (premise = the sample, hypothesis = the sentence); a one-output
  consistency model gives ``1 − P(consistent)``.
* Prompt (Sec. 5.6): an LLM is asked whether the sentence is supported by each sample;
  the paper maps Yes → 0, No → 1; here the score is ``1 − p(Yes)/(p(Yes)+p(No))`` from the
  reply log-probabilities (no parsed word), averaged over the samples.

Answer-level scores of NLI and Prompt are the mean over sentences (the paper's passage
score). In reliant's tables every baseline is negated, "higher = more truthful" as FEWL.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ["VARIANTS", "split_sentences", "unigram_scores", "variant_scores"]

VARIANTS = ("ngram", "nli", "prompt")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_WORD = re.compile(r"\w+")


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer (split after . ! ? followed by a capital or digit); at least one."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    return parts or [text]


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def unigram_scores(sentences: Sequence[str], answer: str, samples: Sequence[str]) -> tuple[list[float], float]:
    """SelfCheckGPT's unigram variant: per-sentence and answer-level ``Avg(−log p)``."""
    counts = Counter(_tokens(answer))
    for sample in samples:
        counts.update(_tokens(sample))
    total = sum(counts.values())
    if total == 0:
        return [math.nan] * len(sentences), math.nan

    def neg_logprobs(text: str) -> list[float]:
        return [-math.log(counts[w] / total) for w in _tokens(text) if counts[w]]

    per_sentence = [float(np.mean(v)) if (v := neg_logprobs(s)) else math.nan for s in sentences]
    whole = neg_logprobs(answer)
    return per_sentence, float(np.mean(whole)) if whole else math.nan


def variant_scores(variant: str, sentences: Sequence[str], samples: Sequence[str], model) -> list[float]:
    """Per-sentence hallucination scores of the NLI (``model``: an NLI scorer) or prompt
    (``model``: a judge scorer) variant, averaged over the samples."""
    if not samples:
        return [math.nan] * len(sentences)
    premises = [p for _ in sentences for p in samples]
    hypotheses = [s for s in sentences for _ in samples]
    if variant == "nli":
        values = model.contradiction(premises, hypotheses)
    elif variant == "prompt":
        values = 1.0 - model.supported(premises, hypotheses)
    else:
        raise ValueError(f"unknown SelfCheckGPT variant {variant!r}")
    return [float(v) for v in np.asarray(values, dtype=float).reshape(len(sentences), len(samples)).mean(axis=1)]
