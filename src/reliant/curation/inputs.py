"""Reading and checking what the curation commands are given; every problem is a
:class:`~reliant.core.errors.UserError` naming the file, line and field."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reliant.core.data import Field, Records, Schema, load_array, load_records
from reliant.core.errors import DataError

POOL_SCHEMA = Schema([
    Field("instruction", non_empty=False),
    Field("input", required=False, default="", non_empty=False),
    Field("output", non_empty=False),
])
#: Pool fields that must not be blank (an empty ``input`` is normal in Alpaca data).
REQUIRED_TEXT = ("instruction", "output")
#: How many bad records an error message names before "and N more".
NAMED_RECORDS = 20


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


@dataclass
class Pool:
    """An Alpaca-format pool: validated ``records``, untouched ``originals`` (to write back
    in the pool's own format), ``positions`` (each kept record's 1-based record number in
    the file) and ``empty`` (True where a required field is blank; with ``score0`` those
    records stay, unrated, at score 0)."""

    records: list
    originals: list[dict]
    positions: np.ndarray
    empty: np.ndarray
    dropped: list[int]

    def __len__(self) -> int:
        return len(self.records)


def json_record_lines(path: Path) -> list[int] | None:
    """The 1-based file line where each item of a top-level JSON array starts, or None
    when the file is not one (JSON Lines and CSV records already carry their line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    decoder = json.JSONDecoder()
    position = len(text) - len(text.lstrip())
    if not text.startswith("[", position):
        return None
    lines: list[int] = []
    line, counted = 1, 0
    position += 1
    try:
        while True:
            while position < len(text) and text[position] in " \t\r\n,":
                position += 1
            if position >= len(text) or text[position] == "]":
                return lines
            line += text.count("\n", counted, position)
            counted = position
            lines.append(line)
            _, position = decoder.raw_decode(text, position)
    except json.JSONDecodeError:
        return None


def _place(record, file_lines: list[int] | None) -> str:
    where = record.where
    if record.unit == "record" and file_lines is not None and record.line is not None \
            and record.line <= len(file_lines):
        where += f" (line {file_lines[record.line - 1]})"
    return where


def load_pool(path: Path, empty_fields: str = "refuse") -> Pool:
    """Read and check an Alpaca-format pool (``instruction``, optional ``input``, ``output``).

    Records with a blank ``instruction`` or ``output`` are all listed at once (record
    numbers, and file lines for a JSON array) and refused with ``empty_fields="refuse"``;
    ``"drop"`` leaves them out, ``"score0"`` keeps them (marked in ``Pool.empty``)."""
    raw = load_records(path)
    POOL_SCHEMA.validate(raw)
    empty = np.array([any(not str(r[name]).strip() for name in REQUIRED_TEXT) for r in raw], dtype=bool)
    bad = np.flatnonzero(empty)
    if len(bad) and empty_fields == "refuse":
        file_lines = json_record_lines(path) if Path(str(path)).is_file() else None
        named = [f"{_place(raw[i], file_lines)} ('{next(f for f in REQUIRED_TEXT if not str(raw[i][f]).strip())}')"
                 for i in bad[:NAMED_RECORDS]]
        more = f" and {len(bad) - NAMED_RECORDS} more" if len(bad) > NAMED_RECORDS else ""
        raise DataError(f"{len(bad)} of {len(raw)} records have an empty instruction or output: "
                        f"{', '.join(named)}{more}; fix them, or pass --empty-fields drop (leave them out) or "
                        "score0 (keep them with score 0)", file=path)
    positions = np.array([r.line if r.line is not None else i + 1 for i, r in enumerate(raw)], dtype=np.int64)
    keep = ~empty if empty_fields == "drop" else np.ones(len(raw), dtype=bool)
    records = [r for r, k in zip(raw, keep) if k]
    originals = [copy.deepcopy(dict(r)) for r in records]
    dropped = [int(p) for p in positions[~keep]]
    return Pool(records=records, originals=originals, positions=positions[keep],
                empty=empty[keep] if empty_fields == "score0" else np.zeros(int(keep.sum()), dtype=bool),
                dropped=dropped)


def pool_text(record: dict) -> str:
    """The text embedded for a pool sample: instruction, input and output."""
    parts = [record["instruction"], record.get("input") or "", record["output"]]
    return "\n".join(p for p in parts if p)


def load_scores(path: Path, n: int, num_levels: int, *, kept: int | None = None) -> np.ndarray:
    """Integer scores in ``0..num_levels-1``, one per pool sample; ``kept``: the number of
    samples left once records with empty fields are dropped, also accepted as a length (what
    ``curate rate --empty-fields drop`` writes)."""
    scores = load_array(path, name="scores", ndim=1, dtype="int")
    if np.issubdtype(scores.dtype, np.floating) or scores.dtype == bool:
        raise DataError("expected integer scores", file=path, field="scores")
    bad = np.flatnonzero((scores < 0) | (scores >= num_levels))
    if len(bad):
        raise DataError(f"score {int(scores[bad[0]])} at row {int(bad[0]) + 1} is outside 0..{num_levels - 1}",
                        file=path, field="scores")
    if len(scores) != n and (kept is None or len(scores) != kept):
        also = f" ({kept} once the {n - kept} records with empty fields are dropped)" if kept is not None else ""
        raise DataError(f"has {len(scores)} scores but the pool has {n} samples{also}", file=path, field="scores")
    return scores.astype(np.int64)


def check_embeddings(embeddings: np.ndarray, n: int, source: str | None) -> np.ndarray:
    if len(embeddings) != n:
        raise DataError(f"has {len(embeddings)} rows but there are {n} samples", file=source, field="embeddings")
    return embeddings
