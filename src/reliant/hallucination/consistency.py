"""Consistency scorers: how much two answers to a question agree, as a number in [0, 1]
(cosine in [-1, 1]). One registry, one name per scorer; ``--similarity`` picks one.

FEWL compares a candidate's answer with the reference LLMs' answers (and those with the
intentionally wrong and corrected answers) through such a score. The paper uses a dedicated
consistency model (Vectara's HHEM, a cross-encoder); reliant offers:

* ``cosine`` — the cosine of sentence embeddings (the packaged all-MiniLM-L6-v2 unless
  ``--embedder`` names another model). Cheap, but topical: two answers about the same
  subject that contradict each other still score high.
* ``exact`` — 1 for identical texts, else 0 (short canonical answers, tests).
* ``nli:<model>`` — a cross-encoder (sentence-transformers ``CrossEncoder``) by Hugging Face
  id or local path. A model with one output is read as a consistency probability (sigmoid,
  HHEM style); a model with three NLI labels as P(entailment). The score of a pair is the
  mean of both directions (premise/hypothesis swapped), so agreement is symmetric, as
  bidirectional entailment is in semantic-equivalence tests (Kuhn et al. 2023).
* ``judge:<llm spec>`` — an LLM judge through :mod:`reliant.core.llm` (``judge:smollm2``,
  ``judge:openai:<model>@<url>``...). It is asked whether two answers make the same claim;
  the agreement is the probability ``p(Yes) / (p(Yes) + p(No))`` computed from the
  log-probabilities the model gives the two replies, never a parsed word.

Identical texts score 1 without asking a model (a statement agrees with itself). Every
scorer memoises its pairs, so a text pair that recurs across references, neighbours and
baselines costs one model call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from reliant.core.errors import ConfigError

__all__ = [
    "SCORERS",
    "ConsistencyScorer",
    "CosineScorer",
    "ExactScorer",
    "JudgeScorer",
    "NLIScorer",
    "check_similarity_spec",
    "make_scorer",
    "register_scorer",
]

SCORERS: dict[str, type[ConsistencyScorer]] = {}


def register_scorer(cls: type[ConsistencyScorer]) -> type[ConsistencyScorer]:
    SCORERS[cls.kind] = cls
    return cls


class ConsistencyScorer:
    """Agreement of answer pairs. Subclasses implement :meth:`_score_new` for unseen pairs.

    ``symmetric`` scorers share one memo entry for (a, b) and (b, a); ``uses_question``
    scorers see the question the two answers reply to (the memo key includes it).
    """

    kind = ""
    label = ""
    symmetric = True
    uses_question = False

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str, str], float] = {}

    def _key(self, a: str, b: str, question: str) -> tuple[str, str, str]:
        if self.symmetric and b < a:
            a, b = b, a
        return (question if self.uses_question else "", a, b)

    def similarity(self, left: Sequence[str], right: Sequence[str], questions: Sequence[str] | None = None) -> np.ndarray:
        """``s(left[j], right[j])`` for every j (``questions[j]`` is the question both reply to)."""
        if len(left) != len(right):
            raise ValueError(f"{len(left)} left texts but {len(right)} right texts")
        questions = questions if questions is not None else [""] * len(left)
        keys = [self._key(a, b, q) for a, b, q in zip(left, right, questions)]
        todo = list(dict.fromkeys(k for k in keys if k not in self._memo and k[1] != k[2]))
        if todo:
            values = self._score_new(todo)
            self._memo.update(zip(todo, (float(v) for v in values)))
        return np.array([1.0 if k[1] == k[2] else self._memo[k] for k in keys], dtype=float)

    def _score_new(self, keys: list[tuple[str, str, str]]) -> Sequence[float]:
        raise NotImplementedError

    def encode_questions(self, questions: Sequence[str]) -> np.ndarray:
        """Unit vectors of the questions, for choosing neighbouring questions (k-NN)."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.label


class _EncoderScorer(ConsistencyScorer):
    """Scores through an encoder (``encode(texts) -> unit rows``): s = row dot product."""

    def __init__(self, encoder: Any) -> None:
        super().__init__()
        self.encoder = encoder

    def similarity(self, left, right, questions=None) -> np.ndarray:
        if not len(left):
            return np.zeros(0)
        # Vectors are memoised by the encoder, so no pair memo is needed.
        a = self.encoder.encode(list(left))
        b = self.encoder.encode(list(right))
        return np.einsum("jd,jd->j", a, b).astype(float)

    def encode_questions(self, questions):
        return self.encoder.encode(list(questions))


@register_scorer
class CosineScorer(_EncoderScorer):
    kind = "cosine"
    label = "cosine of sentence embeddings"

    @classmethod
    def build(cls, target: str, *, embedder: str = "all-MiniLM-L6-v2", cache_dir: Any = None, **_: Any) -> CosineScorer:
        from reliant.hallucination.similarity import TextEncoder

        return cls(TextEncoder(embedder, cache_dir=cache_dir))

    def describe(self) -> str:
        return f"cosine ({getattr(self.encoder, 'model', type(self.encoder).__name__)})"


@register_scorer
class ExactScorer(ConsistencyScorer):
    kind = "exact"
    label = "exact match"

    @classmethod
    def build(cls, target: str, **_: Any) -> ExactScorer:
        return cls()

    def similarity(self, left, right, questions=None) -> np.ndarray:
        return np.array([float(a == b) for a, b in zip(left, right)], dtype=float)

    def encode_questions(self, questions):
        from reliant.hallucination.similarity import OneHotEncoder

        return OneHotEncoder(dim=max(len(set(questions)), 1)).encode(list(questions))


class _PairModelScorer(ConsistencyScorer):
    """A scorer that asks a model about each pair; questions are embedded with MiniLM
    (or ``question_encoder``) only to pick neighbouring questions."""

    def __init__(self, question_encoder: Any = None) -> None:
        super().__init__()
        self.question_encoder = question_encoder

    def encode_questions(self, questions):
        if self.question_encoder is None:
            from reliant.hallucination.similarity import TextEncoder

            self.question_encoder = TextEncoder()
        return self.question_encoder.encode(list(questions))


@register_scorer
class NLIScorer(_PairModelScorer):
    """A cross-encoder consistency / NLI model (see the module docstring)."""

    kind = "nli"
    label = "NLI cross-encoder"

    def __init__(self, model: Any, name: str = "", *, batch_size: int = 32, question_encoder: Any = None) -> None:
        super().__init__(question_encoder)
        self.model = model
        self.name = name or str(getattr(model, "model_name_or_path", "cross-encoder"))
        self.batch_size = batch_size
        labels = {int(k): str(v).lower() for k, v in (getattr(model.config, "id2label", None) or {}).items()}
        self.num_labels = int(getattr(model, "num_labels", len(labels) or 1))
        self.entail_index = next((i for i, v in labels.items() if v.startswith("entail")), None)
        self.contradict_index = next((i for i, v in labels.items() if v.startswith("contradict")), None)
        if self.num_labels > 1 and self.entail_index is None:
            raise ConfigError(f"NLI model {self.name!r} has {self.num_labels} outputs but no 'entailment' label "
                              f"(labels: {', '.join(labels.values()) or 'none'})", field="similarity")

    @classmethod
    def build(cls, target: str, *, device: str = "auto", **_: Any) -> NLIScorer:
        from sentence_transformers import CrossEncoder  # deliberately here: imports torch (start-up time)

        from reliant.core.models import resolve_device, resolve_model_source

        source, local_only = resolve_model_source(target)
        model = CrossEncoder(source, device=str(resolve_device(device)), local_files_only=local_only)
        return cls(model, target)

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """``(len(pairs), 3)`` rows of (P(entail), P(contradict), P(consistent)) for premise→hypothesis."""
        from reliant.core.arrays import softmax

        logits = np.asarray(self.model.predict(list(pairs), batch_size=self.batch_size, show_progress_bar=False,
                                               activation_fn=_identity(), convert_to_numpy=True), dtype=float)
        if logits.ndim == 1 or self.num_labels == 1:
            consistent = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
            return np.stack([consistent, 1.0 - consistent, consistent], axis=1)
        probs = softmax(logits, axis=1)
        entail = probs[:, self.entail_index]
        contradict = probs[:, self.contradict_index] if self.contradict_index is not None else 1.0 - entail
        return np.stack([entail, contradict, entail], axis=1)

    def _score_new(self, keys):
        forward = self.probabilities([(a, b) for _, a, b in keys])[:, 2]
        backward = self.probabilities([(b, a) for _, a, b in keys])[:, 2]
        return 0.5 * (forward + backward)

    def contradiction(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """SelfCheckGPT-NLI's per-pair score ``P(contradict) / (P(entail) + P(contradict))``
        (premise = a sampled answer, hypothesis = a sentence of the candidate's answer)."""
        rows = self.probabilities(list(zip(premises, hypotheses)))
        return rows[:, 1] / np.maximum(rows[:, 0] + rows[:, 1], 1e-12)

    def describe(self) -> str:
        return f"NLI cross-encoder ({self.name})"


def _identity() -> Any:
    import torch  # deliberately here: only the NLI scorer needs it (start-up time)

    return torch.nn.Identity()


JUDGE_PROMPT = (
    "Question: {question}\nAnswer A: {a}\nAnswer B: {b}\n"
    "Do answers A and B make the same claim? Reply Yes or No."
)
SUPPORT_PROMPT = (
    "Context: {context}\n\nSentence: {sentence}\n\n"
    "Is the sentence supported by the context above? Answer Yes or No."
)


def yes_probability(backend: Any, prompts: Sequence[str]) -> np.ndarray:
    """``p(Yes) / (p(Yes) + p(No))`` of the assistant's reply to each prompt, from the
    log-probabilities of the two replies (chat template applied by the backend)."""
    rendered = [backend.render_chat([{"role": "user", "content": p}]) for p in prompts]
    # After a chat template the reply starts on a fresh line; after "Assistant:" a space leads.
    yes = [("Yes" if r[-1:].isspace() else " Yes") for r in rendered]
    no = [("No" if r[-1:].isspace() else " No") for r in rendered]
    lp_yes = backend.logprobs(rendered, yes)
    lp_no = backend.logprobs(rendered, no)
    a = np.array([sum(v) for v in lp_yes], dtype=float)
    b = np.array([sum(v) for v in lp_no], dtype=float)
    return 1.0 / (1.0 + np.exp(b - a))


@register_scorer
class JudgeScorer(_PairModelScorer):
    """An LLM judge; agreement from the log-probabilities of "Yes" and "No"."""

    kind = "judge"
    label = "LLM judge"
    symmetric = False
    uses_question = True

    def __init__(self, backend: Any, *, question_encoder: Any = None, owned: bool = False) -> None:
        super().__init__(question_encoder)
        self.backend = backend
        self.owned = owned

    @classmethod
    def build(cls, target: str, **_: Any) -> JudgeScorer:
        from reliant.core.llm import make_backend

        return cls(make_backend(target), owned=True)

    def _score_new(self, keys):
        prompts = [JUDGE_PROMPT.format(question=q.strip(), a=a.strip(), b=b.strip()) for q, a, b in keys]
        return yes_probability(self.backend, prompts)

    def supported(self, contexts: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        """SelfCheckGPT-Prompt: P(the sentence is supported by the context), per pair."""
        prompts = [SUPPORT_PROMPT.format(context=c.strip(), sentence=s.strip()) for c, s in zip(contexts, sentences)]
        return yes_probability(self.backend, prompts)

    def close(self) -> None:
        if self.owned:
            self.backend.close()

    def describe(self) -> str:
        return f"LLM judge ({self.backend.name})"


def _split_spec(spec: str) -> tuple[str, str]:
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError("empty similarity (choose cosine, exact, nli:<model> or judge:<llm spec>)", field="similarity")
    kind, sep, target = spec.strip().partition(":")
    if kind not in SCORERS:
        raise ConfigError(f"unknown similarity {spec!r} (choose cosine, exact, nli:<model> or judge:<llm spec>)",
                          field="similarity")
    if kind in ("nli", "judge") and not target.strip():
        raise ConfigError(f"{kind}: needs a model, e.g. {'nli:path/to/cross-encoder' if kind == 'nli' else 'judge:smollm2'}",
                          field="similarity")
    if kind in ("cosine", "exact") and sep:
        raise ConfigError(f"{kind} takes no model after ':' (cosine uses --embedder)", field="similarity")
    return kind, target.strip()


def check_similarity_spec(spec: str) -> None:
    """Parse a ``--similarity`` value without loading anything (a judge's LLM spec is parsed too)."""
    kind, target = _split_spec(spec)
    if kind == "nli":
        path = os.path.expanduser(target)
        looks_like_path = target.startswith((".", "/", "~")) or target.count("/") > 1
        if looks_like_path and not os.path.isdir(path):
            raise ConfigError(f"model '{target}' not found: no such local directory", field="similarity")
    if kind == "judge":
        from reliant.core.llm import parse_spec

        try:
            parse_spec(target)
        except ConfigError as exc:
            raise ConfigError(exc.message, field="similarity") from None


def make_scorer(spec: str, *, embedder: str = "all-MiniLM-L6-v2", cache_dir: str | os.PathLike | None = None,
                texts: Sequence[str] = (), device: str = "auto") -> ConsistencyScorer:
    """A scorer from its ``--similarity`` value (module docstring)."""
    kind, target = _split_spec(spec)
    return SCORERS[kind].build(target, embedder=embedder, cache_dir=cache_dir, texts=texts, device=device)


def as_scorer(value: Any) -> ConsistencyScorer:
    """A scorer from a scorer or an encoder object (``encode(texts) -> unit rows``)."""
    if isinstance(value, ConsistencyScorer):
        return value
    if hasattr(value, "encode"):
        return CosineScorer(value)
    raise TypeError(f"expected a ConsistencyScorer or an encoder with encode(), got {type(value).__name__}")

