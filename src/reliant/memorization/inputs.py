"""The memorization capability's own input files, read and checked without torch.

* member / non-member texts for an LM audit (:func:`load_examples`): records with ``text``,
  or ``question`` and ``answer`` (scored in the shared QA format), or a plain JSON list of
  strings (MUSE's privleak files);
* features and labels for the classifier experiments (:func:`load_classifier_data`).

Canary files are read by :func:`reliant.memorization.canaries.load_canaries`. Every problem
is a one-line :class:`~reliant.core.errors.DataError` naming the file, line and field, raised
before any model is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reliant.core.data import Record, load_records
from reliant.core.errors import DataError
from reliant.core.prompts import qa_prompt, question_prompt

__all__ = ["ClassifierData", "Example", "examples_from_records", "load_classifier_data", "load_examples"]


@dataclass(frozen=True)
class Example:
    """One text to probe: ``prompt`` (may be empty) and the ``target`` text that is scored.

    A question/answer example also keeps its ``question``, so that a model with a chat
    template is probed through that template (:meth:`prompt_for`), as it was fine-tuned by
    ``reliant unlearn``; ``prompt`` is the plain QA format the tiny LMs use."""

    prompt: str
    target: str
    source: str = ""
    line: int | None = None
    question: str | None = None

    @property
    def label(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    def prompt_for(self, tokenizer: Any) -> str:
        """The prompt as ``tokenizer``'s model is asked it (the chat template if it has one)."""
        return question_prompt(tokenizer, self.question) if self.question is not None else self.prompt


def examples_from_records(records: Sequence[dict], source: str = "") -> list[Example]:
    """Turn records with ``text`` (or ``question`` and ``answer``) into examples; a record
    with neither is a one-line DataError naming its file, line and field."""
    examples = []
    for index, record in enumerate(records, start=1):
        src = getattr(record, "source", source)
        line = getattr(record, "line", index)

        def fail(message: str, field: str) -> DataError:
            return DataError(message, file=src or None, line=line, field=field)

        if "text" in record and record["text"] is not None:
            text = record["text"]
            if not isinstance(text, str):
                raise fail(f"expected text, got {type(text).__name__}", "text")
            if not text.strip():
                raise fail("is empty", "text")
            examples.append(Example("", text.strip(), src, line))
        elif "question" in record or "answer" in record:
            for name in ("question", "answer"):
                value = record.get(name)
                if value is None:
                    raise fail("missing (a record needs 'text', or 'question' and 'answer')", name)
                if not isinstance(value, str):
                    raise fail(f"expected text, got {type(value).__name__}", name)
                if not value.strip():
                    raise fail("is empty", name)
            examples.append(Example(qa_prompt(record["question"]), record["answer"].strip(), src, line,
                                    question=record["question"]))
        else:
            raise fail("missing (a record needs 'text', or 'question' and 'answer')", "text")
    return examples


def load_examples(path: Any, limit: int | None = None) -> list[Example]:
    """Read examples from a jsonl/json/csv/parquet file (or a JSON list of strings)."""
    import json
    from pathlib import Path

    file = Path(str(path)).expanduser()
    if file.is_file() and file.suffix == ".json":
        # MUSE's privleak files are plain JSON lists of strings.
        try:
            value = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            value = None
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            records = [Record({"text": v}, str(path), i) for i, v in enumerate(value, start=1)]
            return examples_from_records(records[:limit] if limit else records)
    records = load_records(path, limit=limit)
    return examples_from_records(records)


@dataclass
class ClassifierData:
    features: np.ndarray  # (n, d) float32
    labels: np.ndarray  # (n,) observed labels (possibly noisy)
    true_labels: np.ndarray | None = None  # clean labels when known
    names: list[str] = field(default_factory=list)

    @property
    def mislabelled(self) -> np.ndarray:
        if self.true_labels is None:
            return np.zeros(len(self.labels), dtype=bool)
        return self.labels != self.true_labels


def load_classifier_data(path: Any) -> ClassifierData:
    """Records with ``features`` (a list of numbers, the same length for all) and ``label``
    (an integer >= 0); an optional ``true_label`` marks known-mislabelled examples."""
    from reliant.core.data import Field, Schema

    records = load_records(path, schema=Schema([
        Field("features", "list[float]"), Field("label", "int", min=0),
        Field("true_label", "int", required=False, min=0),
    ]))
    width = len(records[0]["features"])
    for record in records:
        if len(record["features"]) != width:
            raise record.error(f"has {len(record['features'])} features but the first record has {width}", field="features")
    labels = np.array([r["label"] for r in records], dtype=int)
    if len(np.unique(labels)) < 2:
        raise DataError("needs at least two distinct labels", file=records.source, field="label")
    true = [r["true_label"] for r in records]
    true_labels = None if all(t is None for t in true) else np.array([t if t is not None else l for t, l in zip(true, labels)])
    return ClassifierData(
        np.array([r["features"] for r in records], dtype=np.float32), labels, true_labels,
        [f"{r.source}:{r.line}" for r in records],
    )
