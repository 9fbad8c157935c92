"""The question/answer file FEWL scores, read and checked line by line.

One record per question (jsonl, json, csv with JSON-encoded cells, or parquet)::

    {"id": "q1",                                   # optional; joins a separate --references file
     "question": "What happens if you eat watermelon seeds?",
     "answers": {"model-a": "...", "model-b": "..."},   # or "answer": "..." for one candidate
     "references": {"ref-1": "...", "ref-2": "..."},    # or a list; same count on every line
     "wrong_answers": ["..."],                     # intentionally wrong (IW) answers
     "corrected_answers": ["..."],                 # their corrections (CO), optional
     "samples": {"model-a": ["...", "..."]},        # the candidate's own samples, optional
     "hallucinated": {"model-a": 0, "model-b": 1}}  # gold, optional: only judges FEWL

References and IW answers may instead come from LLM backends (see
:mod:`reliant.hallucination.generate`). Every problem is a :class:`DataError` naming the
file, line and field.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reliant.core.data import Record, Records, load_records
from reliant.core.errors import DataError

__all__ = ["QASet", "attach_references", "load_qa", "qa_from_records"]


@dataclass
class QASet:
    """Questions with candidate answers and what FEWL needs to score them.

    ``candidates[model][q]`` is model's answer to question ``q``; ``references[q][i]`` the
    i-th reference LLM's answer; ``wrong[q]`` / ``corrected[q]`` the IW / CO answers;
    ``samples[model][q]`` the candidate's own sampled answers; ``gold[model][q]`` the held-out
    hallucination degree in [0, 1] (NaN where unknown). ``lines[q]`` is the source line.
    """

    questions: list[str]
    candidates: dict[str, list[str]]
    ids: list[str] = field(default_factory=list)
    references: list[list[str]] | None = None
    reference_names: list[str] = field(default_factory=list)
    wrong: list[list[str]] = field(default_factory=list)
    corrected: list[list[str]] = field(default_factory=list)
    samples: dict[str, list[list[str]]] = field(default_factory=dict)
    gold: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""
    lines: list[int | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.questions)
        self.ids = self.ids or [str(i + 1) for i in range(n)]
        self.wrong = self.wrong or [[] for _ in range(n)]
        self.corrected = self.corrected or [[] for _ in range(n)]
        self.lines = self.lines or [None] * n

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def models(self) -> list[str]:
        return list(self.candidates)

    def texts(self) -> list[str]:
        """Every text of the set (questions, references, IW/CO answers, candidates, samples)."""
        return [*self.questions, *(t for r in (self.references or []) for t in r), *(t for r in self.wrong for t in r),
                *(t for r in self.corrected for t in r), *(t for a in self.candidates.values() for t in a),
                *(t for rows in self.samples.values() for r in rows for t in r)]

    def where(self, q: int, field_name: str | None = None, message: str = "") -> DataError:
        return DataError(message, file=self.source or None, line=self.lines[q], field=field_name)


# --------------------------------------------------------------------------- field readers


def _text(record: Record, key: str, value: Any, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise record.error(f"expected text, got {type(value).__name__}", field=key)
    if not allow_empty and not value.strip():
        raise record.error("is empty", field=key)
    return value


def _decode_cell(value: Any) -> Any:
    """CSV cells hold JSON text for lists/objects."""
    if isinstance(value, str) and value[:1] in "[{":
        import json

        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text_list(record: Record, key: str) -> list[str]:
    value = _decode_cell(record.get(key))
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise record.error(f"expected a list of texts, got {type(value).__name__}", field=key)
    return [_text(record, key, v) for v in value]


def _named_texts(record: Record, key: str) -> tuple[list[str] | None, list[str]]:
    """A ``{name: text}`` object or a list of texts -> (names or None, texts)."""
    value = _decode_cell(record.get(key))
    if isinstance(value, dict):
        if not value:
            raise record.error("is empty", field=key)
        return [str(k) for k in value], [_text(record, key, v) for v in value.values()]
    if isinstance(value, list):
        if not value:
            raise record.error("is empty", field=key)
        return None, [_text(record, key, v) for v in value]
    raise record.error(f"expected an object of name: text or a list of texts, got {type(value).__name__}", field=key)


def _gold_value(record: Record, value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return float(lowered == "true")
        try:
            value = float(lowered)
        except ValueError:
            raise record.error(f"expected a number in [0, 1] or true/false, got {value!r}", field="hallucinated") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
        raise record.error(f"expected a number in [0, 1] or true/false, got {value!r}", field="hallucinated")
    return float(value)


# --------------------------------------------------------------------------- loading


def _candidate_answers(record: Record, model_name: str) -> dict[str, str]:
    if record.get("answers") is not None:
        names, texts = _named_texts(record, "answers")
        if names is None:
            names = [f"model-{i + 1}" for i in range(len(texts))]
        return dict(zip(names, texts))
    if record.get("answer") is not None:
        return {model_name: _text(record, "answer", record["answer"])}
    raise record.error("missing (give 'answers': {model: text} or 'answer': text)", field="answers")


def _per_model(record: Record, key: str, models: list[str], reader) -> dict[str, Any]:
    """``{model: value}`` for ``samples``/``hallucinated``; a bare value means the only model."""
    value = _decode_cell(record.get(key))
    if value is None:
        return {}
    if not isinstance(value, dict):
        if len(models) != 1:
            raise record.error("give an object keyed by model name (there are several candidates)", field=key)
        value = {models[0]: value}
    unknown = [m for m in value if m not in models]
    if unknown:
        raise record.error(f"names model {unknown[0]!r}, which has no answer on this line", field=key)
    return {m: reader(v) for m, v in value.items()}


def load_qa(path: str | os.PathLike, *, model_name: str = "candidate", limit: int | None = None) -> QASet:
    """Read and check a question/answer file (module docstring shows the fields)."""
    records = load_records(path, limit=limit)
    return _build(records, str(path), model_name)


def _build(records: Records, source: str, model_name: str) -> QASet:
    first = records[0]
    questions, ids, lines, wrong, corrected = [], [], [], [], []
    candidates: dict[str, list[str]] = {}
    samples: dict[str, list[list[str]]] = {}
    gold: dict[str, list[float]] = {}
    references: list[list[str]] = []
    reference_names: list[str] | None = None
    has_refs = first.get("references") is not None
    seen_ids: set[str] = set()
    for q, record in enumerate(records):
        if record.get("question") is None:
            raise record.error("missing", field="question")
        questions.append(_text(record, "question", record["question"], allow_empty=False))
        lines.append(record.line)
        rid = str(record["id"]) if record.get("id") is not None else str(q + 1)
        if rid in seen_ids and record.get("id") is not None:
            raise record.error(f"duplicate id {rid!r}", field="id")
        seen_ids.add(rid)
        ids.append(rid)

        answers = _candidate_answers(record, model_name)
        if q == 0:
            candidates = {m: [] for m in answers}
        elif list(answers) != list(candidates):
            raise record.error(
                f"models {', '.join(answers)} differ from line {first.line}'s ({', '.join(candidates)})", field="answers"
            )
        for m, text in answers.items():
            candidates[m].append(text)

        if (record.get("references") is not None) != has_refs:
            raise record.error(
                "missing here but given on the first line" if has_refs else "given here but not on the first line",
                field="references",
            )
        if has_refs:
            names, texts = _named_texts(record, "references")
            reference_names, texts = _check_reference_row(record, names, texts, reference_names, first)
            references.append(texts)

        wrong.append(_text_list(record, "wrong_answers"))
        corrected.append(_text_list(record, "corrected_answers"))
        for m, value in _per_model(record, "samples", list(candidates), lambda v: v).items():
            samples.setdefault(m, [[] for _ in range(q)])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise record.error(f"expected a list of texts for model {m!r}", field="samples")
            samples[m].append(value)
        for m in samples:
            if len(samples[m]) < q + 1:
                samples[m].append([])
        for m, value in _per_model(record, "hallucinated", list(candidates), lambda v: _gold_value(record, v)).items():
            gold.setdefault(m, [math.nan] * q)
            gold[m].append(value)
        for m in gold:
            if len(gold[m]) < q + 1:
                gold[m].append(math.nan)
    return QASet(
        questions=questions,
        candidates=candidates,
        ids=ids,
        references=references if has_refs else None,
        reference_names=reference_names or [],
        wrong=wrong,
        corrected=corrected,
        samples=samples,
        gold={m: np.asarray(v, dtype=float) for m, v in gold.items()},
        source=source,
        lines=lines,
    )


def _check_reference_row(record: Record, names: list[str] | None, texts: list[str], reference_names: list[str] | None, first: Record) -> tuple[list[str], list[str]]:
    """Every line must give as many (and, when named, the same) references as ``first``."""
    count = len(reference_names) if reference_names is not None else None
    if count is not None and len(texts) != count:
        raise record.error(
            f"has {len(texts)} reference answers but line {first.line} has {count}", field="references"
        )
    if reference_names is None:
        reference_names = names if names is not None else [f"ref-{i + 1}" for i in range(len(texts))]
    elif names is not None and names != reference_names:
        raise record.error(
            f"reference names {', '.join(names)} differ from line {first.line}'s ({', '.join(reference_names)})",
            field="references",
        )
    return reference_names, texts


def attach_references(qa: QASet, path: str | os.PathLike) -> QASet:
    """Add reference answers from a separate file (``references`` per record, optional ``id``).

    Records join on ``id`` when both files give one on every line, otherwise by position
    (then the two files must have as many records).
    """
    records = load_records(path)
    source = str(path)
    by_id = all(r.get("id") is not None for r in records) and qa.ids != [str(i + 1) for i in range(len(qa))]
    if by_id:
        table = {}
        for record in records:
            table.setdefault(str(record["id"]), record)
        ordered = []
        for q, rid in enumerate(qa.ids):
            if rid not in table:
                raise qa.where(q, "id", f"id {rid!r} has no line in {source}")
            ordered.append(table[rid])
    else:
        if len(records) != len(qa):
            raise DataError(f"has {len(records)} records but {qa.source} has {len(qa)} questions", file=source)
        ordered = list(records)
    references: list[list[str]] = []
    names: list[str] | None = None
    for record in ordered:
        if record.get("references") is None:
            raise record.error("missing", field="references")
        row_names, texts = _named_texts(record, "references")
        names, texts = _check_reference_row(record, row_names, texts, names, ordered[0])
        references.append(texts)
    qa.references = references
    qa.reference_names = names or []
    return qa


def qa_from_records(rows: list[dict[str, Any]], *, source: str = "<memory>", model_name: str = "candidate") -> QASet:
    """A :class:`QASet` from in-memory records (same fields and checks as :func:`load_qa`)."""
    if not rows:
        raise DataError("contains no records", file=source)
    return _build(Records([Record(r, source, i + 1) for i, r in enumerate(rows)], source=source), source, model_name)
