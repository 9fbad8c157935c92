"""Citation support: does the cited article say what the sentence says?

A sentence is checked against every sentence of the article it cites. The citation is
*supported* when

* every number in the sentence (amounts, percentages, years) occurs in the article, and
* some article sentence covers the sentence's content words (recall of its non-stopword
  lowercase words >= ``min_overlap``), or is close in meaning (MiniLM cosine >= ``min_cosine``).

The lexical test is tried first; the embedder runs only for sentences it does not settle.
An extractive answer copies sentences verbatim, so it passes by construction; the check is
there for generated (LLM) answers, whose citations may point at an article that does not
support the claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SupportCheck", "content_words", "numbers", "split_sentences", "support"]

_STOPWORDS = frozenset("""a an the and or but if of to in on at by for from with about as into over after before
between through during under again further then once here there when where why how all any both each few more most
other some such no nor not only own same so than too very can will just should now is are was were be been being
have has had having do does did doing it its it's this that these those he she they them his her their we our you
your i me my which who whom what said says say also would could may might must shall""".split())
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def split_sentences(text: str) -> list[str]:
    """Sentences of a news text (a full stop, ! or ? followed by a capital or a digit)."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower()) if w not in _STOPWORDS and len(w) > 1}


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


@dataclass(frozen=True)
class SupportCheck:
    """The verdict on one (sentence, cited article) pair."""

    supported: bool
    overlap: float
    cosine: float | None
    missing_numbers: tuple[str, ...]
    evidence: str  # the article sentence that supports it best


def support(sentence: str, article_text: str, *, min_overlap: float = 0.6, min_cosine: float = 0.75,
            embed: Callable[[Sequence[str]], np.ndarray] | None = None) -> SupportCheck:
    """Check one citation (see the module docstring). ``embed`` maps texts to L2-normalised
    rows; without it only the lexical test runs."""
    words = content_words(sentence)
    candidates = split_sentences(article_text) or [article_text]
    missing = tuple(sorted(numbers(sentence) - numbers(article_text)))
    overlaps = [len(words & content_words(c)) / len(words) if words else 0.0 for c in candidates]
    best = int(np.argmax(overlaps))
    if missing or not words:
        return SupportCheck(False, overlaps[best], None, missing, candidates[best])
    if overlaps[best] >= min_overlap:
        return SupportCheck(True, overlaps[best], None, missing, candidates[best])
    if embed is None:
        return SupportCheck(False, overlaps[best], None, missing, candidates[best])
    vectors = embed([sentence, *candidates])
    sims = vectors[1:] @ vectors[0]
    close = int(np.argmax(sims))
    return SupportCheck(bool(sims[close] >= min_cosine), overlaps[best], float(sims[close]), missing, candidates[close])
