"""LLM roles in FEWL: reference answers, intentionally wrong (IW) answers and their corrections
(CO), and a candidate's own samples — each through any :class:`reliant.core.llm.LLMBackend`
(local transformers or an OpenAI-compatible server).

The paper prompts one LLM for IW answers to each question and then asks it to correct each
one (CO). It uses R = 25 IW/CO pairs; generating them costs 1 + R requests per question, so
the default here is R = 5 (``n_wrong``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reliant.core.llm import LLMBackend, make_backend

__all__ = [
    "ANSWER_PROMPT",
    "CORRECT_PROMPT",
    "WRONG_PROMPT",
    "answer_questions",
    "as_backend",
    "check_sample_models",
    "fill_from_backends",
    "wrong_and_corrected",
]

ANSWER_PROMPT = "Answer the question truthfully in one short sentence.\nQuestion: {question}"
WRONG_PROMPT = (
    "Write an intentionally wrong but plausible-sounding answer to the question, in one short sentence.\n"
    "Question: {question}"
)
CORRECT_PROMPT = (
    "The answer below is wrong. Write the corrected answer in one short sentence.\n"
    "Question: {question}\nWrong answer: {wrong}"
)


def as_backend(spec: str | LLMBackend) -> LLMBackend:
    """A backend object from a spec string (``hf:...``, ``openai:model@url``, ``tiny``, a path)."""
    return spec if isinstance(spec, LLMBackend) else make_backend(spec)


def _chat(backend: LLMBackend, prompts: Sequence[str], **kwargs) -> list[list[str]]:
    replies = backend.chat([[{"role": "user", "content": p}] for p in prompts], **kwargs)
    return [[text.strip() for text in row] for row in replies]


def answer_questions(
    backend: LLMBackend,
    questions: Sequence[str],
    *,
    n: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 64,
    seed: int | None = None,
) -> list[list[str]]:
    """``n`` answers per question (greedy when ``temperature=0``)."""
    prompts = [ANSWER_PROMPT.format(question=q.strip()) for q in questions]
    return _chat(backend, prompts, n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)


def wrong_and_corrected(
    backend: LLMBackend,
    questions: Sequence[str],
    *,
    n_wrong: int = 5,
    correct: bool = True,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    seed: int | None = None,
) -> tuple[list[list[str]], list[list[str]]]:
    """IW answers (``n_wrong`` samples per question) and, with ``correct``, one CO per IW."""
    prompts = [WRONG_PROMPT.format(question=q.strip()) for q in questions]
    wrong = _chat(backend, prompts, n=n_wrong, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    if not correct:
        return wrong, [[] for _ in questions]
    pairs = [(q, w) for q, row in zip(questions, wrong) for w in row]
    fixes = _chat(
        backend,
        [CORRECT_PROMPT.format(question=q.strip(), wrong=w) for q, w in pairs],
        n=1,
        temperature=0.0,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    corrected, position = [], 0
    for row in wrong:
        corrected.append([fixes[position + j][0] for j in range(len(row))])
        position += len(row)
    return wrong, corrected


def check_sample_models(qa, sample_llms: Mapping[str, str | LLMBackend] | None) -> None:
    """Every model named by ``sample_llms`` has answers in ``qa`` (checked before any LLM runs)."""
    from reliant.core.errors import ConfigError

    for model in sample_llms or {}:
        if model not in qa.candidates:
            raise ConfigError(f"model {model!r} has no answers in the data (models: {', '.join(qa.models)})",
                              field="sample_llm")


def fill_from_backends(
    qa,
    reference_llms: Sequence[str | LLMBackend] = (),
    wrong_llm: str | LLMBackend | None = None,
    *,
    n_wrong: int = 5,
    correct: bool = True,
    max_new_tokens: int = 64,
    seed: int | None = 0,
    sample_llms: Mapping[str, str | LLMBackend] | None = None,
    n_samples: int = 5,
    sample_temperature: float = 1.0,
):
    """Add reference answers (one greedy answer per reference LLM), IW/CO answers and, for the
    self-consistency baseline, ``n_samples`` sampled answers of candidate models (``sample_llms``
    maps a candidate model's name to the backend that produced its answers) to ``qa``.

    Generated references are appended after any the data already holds, named by the
    backend's ``name`` (made unique); generated IW/CO answers are appended to the given ones.
    Backends built here from spec strings are closed afterwards.
    """
    from reliant.core.errors import ConfigError

    if n_wrong < 1:
        raise ConfigError(f"n_wrong must be >= 1, got {n_wrong}", field="n_wrong")
    if sample_llms and n_samples < 1:
        raise ConfigError(f"n_samples must be >= 1, got {n_samples}", field="n_samples")
    check_sample_models(qa, sample_llms)
    for spec in reference_llms:
        owned = not isinstance(spec, LLMBackend)
        backend = as_backend(spec)
        try:
            answers = answer_questions(backend, qa.questions, max_new_tokens=max_new_tokens, seed=seed)
        finally:
            if owned:
                backend.close()
        name, suffix = backend.name, 2
        while name in qa.reference_names:
            name, suffix = f"{backend.name}#{suffix}", suffix + 1
        if qa.references is None:
            qa.references = [[] for _ in qa.questions]
        for row, texts in zip(qa.references, answers):
            row.append(texts[0])
        qa.reference_names = [*qa.reference_names, name]
    if wrong_llm is not None:
        owned = not isinstance(wrong_llm, LLMBackend)
        backend = as_backend(wrong_llm)
        try:
            wrong, corrected = wrong_and_corrected(
                backend, qa.questions, n_wrong=n_wrong, correct=correct, max_new_tokens=max_new_tokens, seed=seed
            )
        finally:
            if owned:
                backend.close()
        qa.wrong = [[*old, *new] for old, new in zip(qa.wrong, wrong)]
        qa.corrected = [[*old, *new] for old, new in zip(qa.corrected, corrected)]
    for model, spec in (sample_llms or {}).items():
        owned = not isinstance(spec, LLMBackend)
        backend = as_backend(spec)
        try:
            qa.samples[model] = answer_questions(backend, qa.questions, n=n_samples, temperature=sample_temperature,
                                                 max_new_tokens=max_new_tokens, seed=seed)
        finally:
            if owned:
                backend.close()
    return qa
