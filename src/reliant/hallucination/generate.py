"""LLM roles in FEWL: reference answers, intentionally wrong (IW) answers and their corrections
(CO), and a candidate's own samples — each through any :class:`reliant.core.llm.LLMBackend`
(local transformers or an OpenAI-compatible server).

The paper prompts one LLM for IW answers to each question and then asks it to correct each
one (CO). It uses R = 25 IW/CO pairs; generating them costs 1 + R requests per question, so
the default here is R = 5 (``n_wrong``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reliant.core.llm import LLMBackend, make_backend

__all__ = [
    "ANSWER_PROMPT",
    "CORRECT_PROMPT",
    "WRONG_PROMPT",
    "answer_questions",
    "as_backend",
    "check_sample_models",
    "Generated",
    "apply_generated",
    "fill_from_backends",
    "generated_records",
    "load_generated",
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


@dataclass
class Generated:
    """The texts LLMs wrote in one run, per question: reference answers (by reference name),
    IW and CO answers, and each sampled candidate's samples. Saved as ``generated.jsonl`` in
    the run folder and reused with ``--answers-from RUN``."""

    reference_names: list[str] = field(default_factory=list)
    references: list[list[str]] = field(default_factory=list)
    wrong: list[list[str]] = field(default_factory=list)
    corrected: list[list[str]] = field(default_factory=list)
    samples: dict[str, list[list[str]]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # role -> backend name

    def empty(self) -> bool:
        return not self.reference_names and not any(self.wrong) and not self.samples


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
    wrong_temperature: float = 1.0,
) -> Generated:
    """Add reference answers (one greedy answer per reference LLM), IW/CO answers and, for the
    self-consistency baselines, ``n_samples`` sampled answers of candidate models (``sample_llms``
    maps a candidate model's name to the backend that produced its answers) to ``qa``; returns
    what was generated (:class:`Generated`).

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
    n = len(qa.questions)
    generated = Generated(references=[[] for _ in range(n)], wrong=[[] for _ in range(n)],
                          corrected=[[] for _ in range(n)])
    for spec in reference_llms:
        owned = not isinstance(spec, LLMBackend)
        backend = as_backend(spec)
        try:
            answers = answer_questions(backend, qa.questions, max_new_tokens=max_new_tokens, seed=seed)
        finally:
            if owned:
                backend.close()
        name, suffix = backend.name, 2
        while name in qa.reference_names or name in generated.reference_names:
            name, suffix = f"{backend.name}#{suffix}", suffix + 1
        generated.reference_names.append(name)
        for row, texts in zip(generated.references, answers):
            row.append(texts[0])
    if wrong_llm is not None:
        owned = not isinstance(wrong_llm, LLMBackend)
        backend = as_backend(wrong_llm)
        try:
            generated.wrong, generated.corrected = wrong_and_corrected(
                backend, qa.questions, n_wrong=n_wrong, correct=correct, temperature=wrong_temperature,
                max_new_tokens=max_new_tokens, seed=seed,
            )
            generated.sources["wrong_llm"] = backend.name
        finally:
            if owned:
                backend.close()
    for model, spec in (sample_llms or {}).items():
        owned = not isinstance(spec, LLMBackend)
        backend = as_backend(spec)
        try:
            generated.samples[model] = answer_questions(backend, qa.questions, n=n_samples,
                                                        temperature=sample_temperature,
                                                        max_new_tokens=max_new_tokens, seed=seed)
            generated.sources[f"sample_llm:{model}"] = backend.name
        finally:
            if owned:
                backend.close()
    apply_generated(qa, generated)
    return generated


def apply_generated(qa, generated: Generated):
    """Add :class:`Generated` texts to ``qa`` (references appended, IW/CO appended, samples set)."""
    if generated.reference_names:
        if qa.references is None:
            qa.references = [[] for _ in qa.questions]
        for row, texts in zip(qa.references, generated.references):
            row.extend(texts)
        qa.reference_names = [*qa.reference_names, *generated.reference_names]
    if any(generated.wrong) or any(generated.corrected):
        qa.wrong = [[*old, *new] for old, new in zip(qa.wrong, generated.wrong)]
        qa.corrected = [[*old, *new] for old, new in zip(qa.corrected, generated.corrected)]
    for model, rows in generated.samples.items():
        qa.samples[model] = rows
    return qa


def generated_records(qa, generated: Generated) -> list[dict]:
    """``generated.jsonl`` lines: one per question, keyed by its id and question."""
    rows = []
    for q in range(len(qa.questions)):
        row = {"id": qa.ids[q], "question": qa.questions[q]}
        if generated.reference_names:
            row["references"] = dict(zip(generated.reference_names, generated.references[q]))
        if any(generated.wrong):
            row["wrong_answers"] = list(generated.wrong[q])
        if any(generated.corrected):
            row["corrected_answers"] = list(generated.corrected[q])
        if generated.samples:
            row["samples"] = {m: list(rows_[q]) for m, rows_ in generated.samples.items()}
        rows.append(row)
    return rows


GENERATED_FILE = "generated.jsonl"


def load_generated(qa, run_folder) -> Generated:
    """Read ``generated.jsonl`` of an earlier ``reliant hallucination score`` run (or that
    file itself) and check it answers the same questions, in the same order, as ``qa``."""
    from pathlib import Path

    from reliant.core.data import load_records
    from reliant.core.errors import DataError

    path = Path(run_folder)
    if path.is_dir():
        path = path / GENERATED_FILE
    if not path.is_file():
        raise DataError(f"no {GENERATED_FILE} here (was it written by `reliant hallucination score` with an LLM?)",
                        file=str(path), field="answers_from")
    records = load_records(path)
    if len(records) != len(qa.questions):
        raise DataError(f"has {len(records)} questions but {qa.source or 'the data'} has {len(qa.questions)}",
                        file=str(path))
    names = None
    generated = Generated(references=[], wrong=[], corrected=[])
    for q, record in enumerate(records):
        if str(record.get("id")) != qa.ids[q] or record.get("question") != qa.questions[q]:
            raise record.error(f"is question {record.get('id')!r}, but line {q + 1} of the data is {qa.ids[q]!r}: "
                               "generated answers belong to another data file", field="id")
        refs = record.get("references") or {}
        if not isinstance(refs, dict) or not all(isinstance(v, str) for v in refs.values()):
            raise record.error("expected an object of reference name: text", field="references")
        if names is None:
            names = list(refs)
        elif list(refs) != names:
            raise record.error(f"reference names {', '.join(refs)} differ from line 1's ({', '.join(names)})",
                               field="references")
        generated.references.append(list(refs.values()))
        for key, target in (("wrong_answers", generated.wrong), ("corrected_answers", generated.corrected)):
            value = record.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise record.error("expected a list of texts", field=key)
            target.append(list(value))
        samples = record.get("samples") or {}
        if not isinstance(samples, dict):
            raise record.error("expected an object of model: list of texts", field="samples")
        for model, texts in samples.items():
            if model not in qa.candidates:
                raise record.error(f"names model {model!r}, which has no answers in the data", field="samples")
            if not isinstance(texts, list) or not all(isinstance(v, str) for v in texts):
                raise record.error(f"expected a list of texts for model {model!r}", field="samples")
            generated.samples.setdefault(model, []).append(list(texts))
    generated.reference_names = [n for n in (names or []) if n not in qa.reference_names] if names else []
    if names and len(generated.reference_names) != len(names):
        clash = next(n for n in names if n in qa.reference_names)
        raise DataError(f"reference {clash!r} is also in the data", file=str(path), field="references")
    for model, rows in generated.samples.items():
        if len(rows) != len(qa.questions):
            raise DataError(f"model {model!r} has samples on {len(rows)} of {len(qa.questions)} lines",
                            file=str(path), field="samples")
    return generated
