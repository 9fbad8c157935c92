"""Manifests: the ``manifest.jsonl`` that ``collect`` writes and ``clean`` / ``train`` read.

A row is ``{"path": ..., "label": <class name>}`` (extra fields are kept); the class order
comes from ``classes.json`` beside the manifest (written by ``collect``), else from the
order of first appearance. Images are decoded here; unreadable ones are returned as
problems for the run folder, and a manifest where none decodes is a one-line error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reliant.construction.images import load_images
from reliant.core.data import Field, Schema, load_records, read_text_file
from reliant.core.errors import DataError

__all__ = ["Manifest", "load_manifest"]


@dataclass
class Manifest:
    path: Path
    classes: list[str]
    rows: list[dict]  # the readable rows, in file order
    images: np.ndarray  # uint8 (n, size, size, 3)
    labels: np.ndarray  # int64 indices into classes
    unreadable: list[dict]


def _classes_beside(manifest: Path) -> list[str] | None:
    file = manifest.parent / "classes.json"
    if not file.is_file():
        return None
    try:
        names = json.loads(read_text_file(file, field="classes"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON ({exc.msg})", file=file, line=exc.lineno, field="classes") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise DataError("expected a JSON list of distinct class names", file=file, field="classes")
    return names


def load_manifest(path: str | Path, image_size: int, *, field: str = "manifest",
                  classes: list[str] | None = None) -> Manifest:
    path = Path(path)
    records = load_records(path, schema=Schema([Field("path"), Field("label")]))
    classes = list(classes or _classes_beside(path) or dict.fromkeys(str(r["label"]) for r in records))
    index = {name: i for i, name in enumerate(classes)}
    for record in records:
        if record["label"] not in index:
            raise record.error(f"class {record['label']!r} is not one of the {len(classes)} classes "
                               f"({', '.join(classes[:10])}{', ...' if len(classes) > 10 else ''})", field="label")
        target = Path(record["path"])
        record["path"] = str(target if target.is_absolute() else path.parent / target)
    images, ok, problems = load_images([r["path"] for r in records], image_size)
    if not ok.any():
        raise DataError(f"none of its {len(records)} images could be read (first: {problems[0]['path']}: "
                        f"{problems[0]['reason']})", file=path, field=field)
    rows = [dict(r) for r, good in zip(records, ok) if good]
    labels = np.array([index[r["label"]] for r in rows], dtype=np.int64)
    return Manifest(path, classes, rows, images, labels, problems)
