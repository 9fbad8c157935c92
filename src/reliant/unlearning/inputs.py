"""Unlearning's input files, read and checked before any model loads (no torch here).

Question/answer sets (TOFU's format, a shipped TOFU split by ``tofu:<split>``), template
(refusal) answers, plain text lists, and MUSE evaluation folders, all through
:mod:`reliant.core.data` so that a bad file is one line naming the file, line and field.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from reliant.core.data import Field, Records, Schema, load_records
from reliant.core.errors import ConfigError, DataError

__all__ = ["MuseData", "QA_SCHEMA", "TOFU_EVAL_SCHEMA", "load_muse", "load_qa", "load_templates", "load_texts",
           "load_tofu", "tofu_names"]

QA_SCHEMA = Schema([Field("question"), Field("answer")])
TOFU_EVAL_SCHEMA = Schema(
    [
        Field("question"),
        Field("answer"),
        Field("paraphrased_answer", required=False),
        Field("perturbed_answer", "list[str]", required=False),
    ]
)

_TOFU_DIR = files("reliant.unlearning") / "bench_data" / "tofu"


def tofu_names() -> list[str]:
    """Names of the TOFU files shipped with reliant (MIT licensed), e.g. ``forget05_perturbed``."""
    return sorted(p.name.removesuffix(".jsonl.gz") for p in _TOFU_DIR.iterdir() if p.name.endswith(".jsonl.gz"))


def load_tofu(name: str, *, field: str = "split") -> Records:
    """A shipped TOFU split by name (``full``, ``forget01|05|10_perturbed``, ``retain_perturbed``,
    ``real_authors_perturbed``, ``world_facts_perturbed``)."""
    if name not in tofu_names():
        raise ConfigError(f"unknown TOFU split {name!r} (shipped: {', '.join(tofu_names())})", field=field)
    return load_records(str(_TOFU_DIR / f"{name}.jsonl.gz"), schema=TOFU_EVAL_SCHEMA)


def load_qa(path: str | os.PathLike, *, what: str = "data", evaluation: bool = False) -> Records:
    """Question/answer records from a file or dataset (TOFU's format: ``question``,
    ``answer``; with ``evaluation`` also ``paraphrased_answer`` and ``perturbed_answer``
    when present). ``tofu:<split>`` names a shipped TOFU file."""
    text = os.fspath(path)
    if text.startswith("tofu:"):
        return load_tofu(text.split(":", 1)[1], field=what)
    records = load_records(path, schema=TOFU_EVAL_SCHEMA if evaluation else QA_SCHEMA)
    if not records:
        raise DataError(f"the {what} set is empty", file=text)
    return records


def load_templates(path: str | os.PathLike | None = None) -> list[str]:
    """Template (refusal) answers for FLAT and IdkDPO: one per line in a text file, or a
    ``text``/``answer`` field in jsonl/json/csv. Default: TOFU's ``idontknow`` list."""
    if path is None:
        raw = gzip.decompress((_TOFU_DIR / "idontknow.txt.gz").read_bytes()).decode("utf-8")
        return [line.strip() for line in raw.splitlines() if line.strip()]
    file = Path(path)
    if file.suffix.lower() in (".txt", "") or (file.suffix.lower() == ".jsonl" and _plain_lines(file)):
        if not file.is_file():
            raise DataError("no such file", file=str(path), field="templates")
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        records = load_records(path)
        key = next((k for k in ("text", "answer", "template") if k in records[0]), None)
        if key is None:
            raise DataError("template records need a 'text' or 'answer' field", file=str(path), line=records[0].line, field="text")
        lines = [str(r[key]).strip() for r in records if str(r.get(key, "")).strip()]
    if not lines:
        raise DataError("the template answer list is empty", file=str(path), field="templates")
    return lines


def _plain_lines(file: Path) -> bool:
    # TOFU's idontknow.jsonl holds plain text lines despite its suffix.
    try:
        first = next((line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()), "")
    except OSError:
        return False
    return not first.lstrip().startswith("{")


def load_texts(path: str | os.PathLike, *, field: str = "text") -> list[str]:
    """A list of texts: a JSON list of strings (MUSE's privleak files), or records with ``field``."""
    file = Path(path)
    if file.suffix.lower() == ".json" and file.is_file():
        try:
            value = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON ({exc.msg})", file=str(path), line=exc.lineno) from None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            if not value:
                raise DataError("contains no texts", file=str(path))
            return value
    records = load_records(path, schema=Schema([Field(field)]))
    return [r[field] for r in records]


@dataclass
class MuseData:
    """MUSE evaluation files (published format): any may be missing."""

    knowmem_forget: list[dict] | None = None
    knowmem_retain: list[dict] | None = None
    knowmem_forget_icl: list[dict] | None = None
    knowmem_retain_icl: list[dict] | None = None
    verbmem_forget: list[dict] | None = None
    privleak_forget: list[str] | None = None
    privleak_holdout: list[str] | None = None


def load_muse(folder: str | os.PathLike) -> MuseData:
    """MUSE files from a folder laid out like the MUSE release (``knowmem_forget_qa.json``,
    ``knowmem_retain2_qa.json`` and their ``_icl`` prompts, ``verbmem_forget.json``,
    ``privleak_forget.json``, ``privleak_holdout.json``)."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError("no such MUSE folder", file=str(folder))

    def qa(name: str) -> list[dict] | None:
        path = root / f"{name}.json"
        return [dict(r) for r in load_records(path, schema=QA_SCHEMA)] if path.exists() else None

    verb = root / "verbmem_forget.json"
    data = MuseData(
        knowmem_forget=qa("knowmem_forget_qa"),
        knowmem_retain=qa("knowmem_retain2_qa") or qa("knowmem_retain_qa"),
        knowmem_forget_icl=qa("knowmem_forget_qa_icl"),
        knowmem_retain_icl=qa("knowmem_retain2_qa_icl") or qa("knowmem_retain_qa_icl"),
        verbmem_forget=[dict(r) for r in load_records(verb, schema=Schema([Field("prompt"), Field("gt")]))] if verb.exists() else None,
        privleak_forget=load_texts(root / "privleak_forget.json") if (root / "privleak_forget.json").exists() else None,
        privleak_holdout=load_texts(root / "privleak_holdout.json") if (root / "privleak_holdout.json").exists() else None,
    )
    if all(value is None for value in data.__dict__.values()):
        raise DataError("no MUSE files found (expected e.g. knowmem_forget_qa.json, verbmem_forget.json)", file=str(folder))
    return data
