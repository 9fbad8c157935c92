"""Seed, pool and evaluation files of ``reliant align isara``, read through :mod:`reliant.core.data`.

Everything here is torch-free, so a bad file is a one-line error before any model loads.
A sample file holds ``prompt`` and ``response`` fields, or the Alpaca fields ``instruction``,
``input`` (optional, appended to the instruction after a blank line) and ``output``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliant.alignment.domains import EVAL_DATA, get_domain
from reliant.core.data import Record, load_records
from reliant.core.errors import DataError

__all__ = ["Sample", "load_eval_items", "load_samples", "spread", "truthfulqa_answers"]


@dataclass(frozen=True)
class Sample:
    """One (prompt, response) pair and where it came from (``seed``, ``pool`` or ``round-N``)."""

    prompt: str
    response: str
    source: str = "seed"

    def as_dict(self) -> dict[str, str]:
        return {"prompt": self.prompt, "response": self.response, "source": self.source}


def _text(record: Record, names: Sequence[str], shown: str) -> str:
    for name in names:
        value = record.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise record.error(f"expected text, got {type(value).__name__}", field=name)
            if not value.strip():
                raise record.error("is empty", field=name)
            return value.strip()
    raise record.error(f"missing (a sample needs {shown})", field=names[0])


def _sample(record: Record, source: str) -> Sample:
    if "prompt" in record or "instruction" not in record:
        prompt = _text(record, ("prompt",), "'prompt' and 'response', or 'instruction' and 'output'")
    else:
        prompt = _text(record, ("instruction",), "'instruction' and 'output'")
        extra = record.get("input")
        if isinstance(extra, str) and extra.strip():
            prompt = f"{prompt}\n\n{extra.strip()}"
    response = _text(record, ("response", "output"), "'response' (or 'output')")
    return Sample(prompt, response, source)


def load_samples(path: str | Path, *, source: str, limit: int | None = None, what: str = "samples") -> list[Sample]:
    """Every record of ``path`` as a :class:`Sample`; ``limit`` is the most allowed (more is an error)."""
    records = load_records(path)
    if limit is not None and len(records) > limit:
        field = "max_seeds" if source == "seed" else None
        raise DataError(f"holds {len(records)} {what}, more than the limit of {limit} (--max-seeds)", file=path,
                        field=field)
    return [_sample(record, source) for record in records]


def spread(items: Sequence[Any], limit: int) -> list[Any]:
    """At most ``limit`` items, evenly spaced over the sequence (first and last included)."""
    if len(items) <= limit:
        return list(items)
    if limit == 1:
        return [items[0]]
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def truthfulqa_answers(text: str) -> list[str]:
    """A ``;``-separated answer cell as TruthfulQA's ``split_multi_answer`` reads it: stripped,
    empty ones dropped, a full stop added where an answer has none."""
    answers = []
    for answer in text.split(";"):
        answer = answer.strip()
        if answer:
            answers.append(answer if answer.endswith(".") else answer + ".")
    return answers


def _prompt_items(records: Sequence[Record]) -> list[dict[str, Any]]:
    return [{"prompt": _text(r, ("prompt", "goal"), "'prompt' (or AdvBench's 'goal')")} for r in records]


def _truthfulqa_items(records: Sequence[Record]) -> list[dict[str, Any]]:
    items = []
    for record in records:
        question = _text(record, ("Question", "question"), "TruthfulQA's 'Question'")
        best = truthfulqa_answers(_text(record, ("Best Answer",), "'Best Answer'"))
        true = truthfulqa_answers(_text(record, ("Correct Answers",), "'Correct Answers'"))
        false = truthfulqa_answers(_text(record, ("Incorrect Answers",), "'Incorrect Answers'"))
        if not best or not false:
            raise record.error("needs a best answer and at least one incorrect answer", field="Incorrect Answers")
        if best[0] not in true:
            true = [best[0], *true]
        items.append({"prompt": question, "best": best[0], "true": true, "false": false})
    return items


def _ifeval_items(records: Sequence[Record]) -> list[dict[str, Any]]:
    from reliant.alignment.ifeval import INSTRUCTIONS  # stdlib only: the checks' registry

    items = []
    for record in records:
        prompt = _text(record, ("prompt",), "IFEval's 'prompt'")
        ids, kwargs = record.get("instruction_id_list"), record.get("kwargs")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise record.error("expected a non-empty list of instruction ids", field="instruction_id_list")
        if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
            raise record.error("expected one mapping of arguments per instruction id", field="kwargs")
        unknown = [i for i in ids if i not in INSTRUCTIONS]
        if unknown:
            raise record.error(f"unknown instruction id {unknown[0]!r}", field="instruction_id_list")
        items.append({"prompt": prompt, "key": record.get("key"), "instruction_id_list": ids, "kwargs": kwargs})
    return items


_READERS = {"safety": _prompt_items, "truthfulness": _truthfulqa_items, "instructions": _ifeval_items}


def load_eval_items(domain: str, path: str | Path | None, limit: int, exclude: Sequence[str] = ()) -> list[dict]:
    """The evaluation items of ``domain`` (its packaged set without ``path``), minus those whose
    prompt is one of ``exclude`` (the seeds: a model is never scored on what it trained on), at
    most ``limit`` of them spread over the set."""
    source = Path(path) if path is not None else EVAL_DATA / get_domain(domain).eval_file
    items = _READERS[domain](load_records(source))
    excluded = {_normalised(p) for p in exclude}
    kept = [item for item in items if _normalised(item["prompt"]) not in excluded]
    if not kept:
        raise DataError("every evaluation item is also a seed prompt; nothing is left to evaluate on", file=source)
    return spread(kept, limit)
