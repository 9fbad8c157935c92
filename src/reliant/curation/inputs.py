"""Reading and checking what the curation commands are given; every problem is a
:class:`~reliant.core.errors.UserError` naming the file, line and field."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from reliant.core.data import Field, Records, Schema, load_array, load_records
from reliant.core.errors import DataError

POOL_SCHEMA = Schema([
    Field("instruction"),
    Field("input", required=False, default="", non_empty=False),
    Field("output"),
])


def load_features(path: Path, name: str = "features") -> np.ndarray:
    """A rows x dims float array (features or embeddings), finite."""
    return load_array(path, name=name, ndim=2, dtype="float").astype(np.float32)


def load_text_records(path: Path, text_field: str, label_field: str | None) -> tuple[list[str], np.ndarray | None]:
    """Texts (and labels, when ``label_field`` is given) from a records file."""
    fields = [Field(text_field)]
    if label_field:
        fields.append(Field(label_field, "int", min=0))
    records = load_records(path, schema=Schema(fields))
    texts = [r[text_field] for r in records]
    labels = np.array([r[label_field] for r in records], dtype=np.int64) if label_field else None
    return texts, labels


def load_pool(path: Path) -> tuple[Records, list[dict]]:
    """An Alpaca-format pool (``instruction``, optional ``input``, ``output``): the validated
    records and untouched copies to write back in the pool's own format."""
    raw = load_records(path)
    originals = [copy.deepcopy(dict(r)) for r in raw]
    POOL_SCHEMA.validate(raw)
    return raw, originals


def pool_text(record: dict) -> str:
    """The text embedded for a pool sample: instruction, input and output."""
    parts = [record["instruction"], record.get("input") or "", record["output"]]
    return "\n".join(p for p in parts if p)


def load_scores(path: Path, n: int, num_levels: int) -> np.ndarray:
    """Integer scores in ``0..num_levels-1``, one per pool sample."""
    scores = load_array(path, name="scores", ndim=1, dtype="int")
    if np.issubdtype(scores.dtype, np.floating) or scores.dtype == bool:
        raise DataError("expected integer scores", file=path, field="scores")
    bad = np.flatnonzero((scores < 0) | (scores >= num_levels))
    if len(bad):
        raise DataError(f"score {int(scores[bad[0]])} at row {int(bad[0]) + 1} is outside 0..{num_levels - 1}",
                        file=path, field="scores")
    if len(scores) != n:
        raise DataError(f"has {len(scores)} scores but the pool has {n} samples", file=path, field="scores")
    return scores.astype(np.int64)


def check_embeddings(embeddings: np.ndarray, n: int, source: str | None) -> np.ndarray:
    if len(embeddings) != n:
        raise DataError(f"has {len(embeddings)} rows but there are {n} samples", file=source, field="embeddings")
    return embeddings
