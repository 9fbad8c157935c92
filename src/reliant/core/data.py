"""Data IO: every capability reads records and arrays through here.

One record interface over local ``.jsonl``/``.json``/``.csv``/``.parquet`` files (optionally
gzipped), directories written by ``datasets.Dataset.save_to_disk`` and Hugging Face hub
dataset ids. Each record remembers where it came from, so a schema problem is reported as
one line naming the file, line (or row) and field.

Arrays (logits, labels, embeddings) load from ``.npy``, ``.csv``/``.txt`` and ``.pt``/
``.safetensors``; ``.pt`` is read with ``weights_only=True`` and nothing is ever
unpickled.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reliant.core.errors import DataError

__all__ = [
    "Field",
    "Record",
    "Records",
    "Schema",
    "check_labels",
    "check_probabilities",
    "check_rows",
    "check_same_length",
    "load_array",
    "load_class_scores",
    "load_labels",
    "load_records",
    "read_text_file",
    "required_path",
    "save_array",
    "save_records",
]

MAX_NAMED_ERRORS = 3
"""How many bad records a schema error names before it only counts the rest."""

RECORD_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
ARRAY_SUFFIXES = (".npy", ".csv", ".txt", ".pt", ".safetensors")


class Record(dict):
    """A dict with its provenance: ``source`` (file or dataset id) and ``line`` (1-based
    line for jsonl/csv, the record's 1-based position otherwise). ``unit`` says which:
    ``"line"`` or ``"record"`` (a JSON array item, a parquet or dataset row), so an error
    says "record 3" where there is no line 3 to look at."""

    __slots__ = ("source", "line", "unit")

    def __init__(self, data: dict[str, Any], source: str, line: int | None, unit: str = "line") -> None:
        super().__init__(data)
        self.source = source
        self.line = line
        self.unit = unit

    @property
    def where(self) -> str:
        """``"line 3"`` or ``"record 3"`` (empty when the position is unknown)."""
        return "" if self.line is None else f"{self.unit} {self.line}"

    def error(self, message: str, field: str | None = None) -> DataError:
        if self.unit == "line":
            return DataError(message, file=self.source, line=self.line, field=field)
        return DataError(message, file=self.source, record=self.line, field=field)


class Records(list):
    """A list of :class:`Record` with the source it was read from."""

    def __init__(self, items: Iterable[Record] = (), source: str = "") -> None:
        super().__init__(items)
        self.source = source

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for record in self:
            for key in record:
                seen.setdefault(key, None)
        return list(seen)

    def column(self, name: str) -> list[Any]:
        return [record[name] for record in self]


# --------------------------------------------------------------------------- reading


def _strip_gz(path: Path) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return (suffixes[-2] if len(suffixes) > 1 else ""), True
    return (suffixes[-1] if suffixes else ""), False


def _read_text(path: Path, gzipped: bool, field: str | None = None) -> str:
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=path, field=field)
    try:
        raw = gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
    except (OSError, EOFError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read file: {message}", file=path, field=field) from None
    if b"\x00" in raw[:65536]:
        raise DataError("is a binary file, expected UTF-8 text", file=path, field=field)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError("not valid UTF-8 text", file=path, line=line, field=field) from None


def read_text_file(path: str | os.PathLike, *, field: str | None = None) -> str:
    """The text of a UTF-8 file (``.gz`` decompressed), or a one-line :class:`DataError`
    for a missing path, a folder, a binary file or bytes that are not UTF-8 (naming the
    line of the first bad byte). Every text file a command reads goes through here."""
    file = Path(path).expanduser()
    if not file.exists():
        raise DataError("no such file", file=path, field=field)
    return _read_text(file, gzipped=file.suffix.lower() == ".gz", field=field)


def _json_error_line(text: str, exc: json.JSONDecodeError) -> str:
    return f"invalid JSON ({exc.msg} at column {exc.colno})"


def _iter_jsonl(text: str, source: str) -> Iterator[Record]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(_json_error_line(line, exc), file=source, line=number) from None
        if not isinstance(value, dict):
            raise DataError(f"expected a JSON object per line, got {type(value).__name__}", file=source, line=number)
        yield Record(value, source, number)


def _records_from_columns(columns: dict[str, Any], source: str) -> list[Record]:
    lengths = {name: len(values) for name, values in columns.items() if isinstance(values, list)}
    if len(lengths) != len(columns):
        bad = next(name for name, values in columns.items() if not isinstance(values, list))
        raise DataError("a column-oriented JSON object needs a list per column", file=source, field=bad)
    if len(set(lengths.values())) > 1:
        raise DataError(f"columns have different lengths: {lengths}", file=source)
    n = next(iter(lengths.values()), 0)
    names = list(columns)
    return [Record({name: columns[name][i] for name in names}, source, i + 1, "record") for i in range(n)]


def _iter_json(text: str, source: str) -> Iterator[Record]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # Many ".json" files in the wild (TOFU's among them) are JSON Lines.
        if exc.msg == "Extra data":
            yield from _iter_jsonl(text, source)
            return
        raise DataError(_json_error_line(text, exc), file=source, line=exc.lineno) from None
    if isinstance(value, dict):
        for key in ("data", "records", "rows", "examples"):
            if isinstance(value.get(key), list) and len(value) == 1:
                value = value[key]
                break
    if isinstance(value, dict):
        yield from _records_from_columns(value, source)
        return
    if not isinstance(value, list):
        raise DataError(f"expected a list of objects, got {type(value).__name__}", file=source)
    for index, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise DataError(f"is {type(item).__name__}, expected an object", file=source, record=index)
        yield Record(item, source, index, "record")


def _iter_csv(text: str, source: str) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise DataError(f"invalid CSV: {exc}", file=source, line=1) from None
    if len(set(header)) != len(header):
        duplicated = next(name for name in header if header.count(name) > 1)
        raise DataError("duplicate column name in header", file=source, line=1, field=duplicated)
    try:
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(f"row has {len(row)} cells but the header has {len(header)}", file=source, line=number)
            yield Record(dict(zip(header, row)), source, number)
    except csv.Error as exc:
        raise DataError(f"invalid CSV: {exc}", file=source, line=reader.line_num) from None


def _to_python(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _iter_rows(rows: Iterable[dict[str, Any]], source: str) -> Iterator[Record]:
    for index, row in enumerate(rows, start=1):
        yield Record({k: _to_python(v) for k, v in row.items()}, source, index, "record")


def _iter_parquet(path: Path, source: str) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        raise DataError(f"invalid parquet file: {str(exc).splitlines()[0]}", file=source) from None
    yield from _iter_rows(table.to_pylist(), source)


def _iter_hf(name: str, split: str | None, source: str) -> Iterator[Record]:
    import datasets

    local = Path(name).expanduser()
    try:
        if local.is_dir():
            loaded = datasets.load_from_disk(str(local))
        else:
            loaded = datasets.load_dataset(name, split=split)
    except FileNotFoundError as exc:
        raise DataError(f"dataset not found: {str(exc).splitlines()[0] if str(exc) else name}", file=source) from None
    except Exception as exc:  # hub errors come in many types; the user needs one line
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot load dataset: {message}", file=source) from None
    if isinstance(loaded, datasets.DatasetDict):
        chosen = split or ("train" if "train" in loaded else None)
        if chosen is None or chosen not in loaded:
            raise DataError(f"choose a split with ':<split>' (available: {', '.join(loaded)})", file=source)
        loaded = loaded[chosen]
    yield from _iter_rows(loaded, source)


def _looks_like_hub_id(name: str) -> bool:
    import re

    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", name)) and not name.startswith(".")


def load_records(
    path: str | os.PathLike,
    *,
    schema: Schema | None = None,
    split: str | None = None,
    allow_empty: bool = False,
    limit: int | None = None,
) -> Records:
    """Read records from a local file, a ``save_to_disk`` directory, or a hub dataset id.

    ``path`` may carry a split for datasets as ``"owner/name:split"``. Files may be
    gzipped (``data.jsonl.gz``). With ``schema`` every record is validated and coerced;
    errors name the file, line and field. An empty source is an error unless
    ``allow_empty``.
    """
    name = os.fspath(path).strip()
    if not name:
        raise DataError("no data path given")
    file = Path(name).expanduser()
    if file.is_file():
        records = Records(_iter_file(file), source=str(path))
    elif file.is_dir():
        if not (file / "dataset_info.json").exists() and not (file / "dataset_dict.json").exists():
            raise DataError("is a folder, expected a data file (it is not a dataset saved with save_to_disk)",
                            file=name)
        records = Records(_iter_hf(str(file), split, name), source=name)
    else:
        dataset, _, dataset_split = name.partition(":") if not file.suffix else (name, "", "")
        if _looks_like_hub_id(dataset):
            records = Records(_iter_hf(dataset, dataset_split or split, name), source=name)
        else:
            raise DataError("no such file", file=name)
    if limit is not None:
        del records[limit:]
    if not records and not allow_empty:
        raise DataError("contains no records", file=name)
    if schema is not None:
        schema.validate(records)
    return records


def _iter_file(file: Path) -> Iterator[Record]:
    suffix, gzipped = _strip_gz(file)
    source = str(file)
    if suffix == ".parquet":
        if gzipped:
            raise DataError("gzipped parquet is not supported; parquet compresses itself", file=source)
        yield from _iter_parquet(file, source)
        return
    if suffix not in (".jsonl", ".json", ".csv"):
        raise DataError(f"unsupported file type '{suffix or file.name}' (use {', '.join(RECORD_SUFFIXES)})", file=source)
    text = _read_text(file, gzipped)
    if suffix == ".jsonl":
        yield from _iter_jsonl(text, source)
    elif suffix == ".json":
        if not text.strip():
            return
        yield from _iter_json(text, source)
    else:
        yield from _iter_csv(text, source)


# --------------------------------------------------------------------------- schema


def _coerce_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError("expected text")


def _coerce_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise TypeError(f"expected an integer, got {value!r}")


def _coerce_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise TypeError(f"expected a number, got {value!r}") from None
    else:
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(result):
        raise TypeError(f"expected a finite number, got {value!r}")
    return result


def _coerce_str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        # CSV cells cannot hold lists; accept a JSON list written into the cell.
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise TypeError("expected a list of texts") from None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise TypeError("expected a list of texts")


def _coerce_float_list(value: Any) -> list[float]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise TypeError("expected a list of numbers") from None
    if isinstance(value, list):
        return [_coerce_float(v) for v in value]
    raise TypeError("expected a list of numbers")


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "str": _coerce_str,
    "int": _coerce_int,
    "float": _coerce_float,
    "list[str]": _coerce_str_list,
    "list[float]": _coerce_float_list,
    "any": lambda value: value,
}


@dataclass(frozen=True)
class Field:
    """One expected field: ``kind`` is str, int, float, list[str], list[float] or any.

    ``min``/``max`` bound numbers (inclusive); ``choices`` restricts values; ``non_empty``
    rejects blank text and empty lists; ``aliases`` are other column names accepted for
    it (renamed to ``name``); a missing optional field gets ``default``.
    """

    name: str
    kind: str = "str"
    required: bool = True
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    non_empty: bool = True
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _COERCERS:
            raise ValueError(f"unknown field kind {self.kind!r}")


@dataclass
class Schema:
    """The fields a capability needs; validation coerces values in place."""

    fields: list[Field] = field(default_factory=list)

    def validate(self, records: Sequence[Record]) -> None:
        """Check and coerce every record. All records are checked; the error names the
        first bad one in full, says how many are bad and where the next few are."""
        problems: list[DataError] = []
        for record in records:
            for spec in self.fields:
                try:
                    self._check(record, spec)
                except DataError as exc:
                    problems.append(exc)
                    break
        if not problems:
            return
        first = problems[0]
        if len(problems) > 1:
            also = []
            for exc in problems[1 : 1 + MAX_NAMED_ERRORS]:
                place = f"record {exc.record}" if exc.record is not None else f"line {exc.line}"
                also.append(place + (f" ('{exc.field}')" if exc.field else ""))
            more = len(problems) - 1 - len(also)
            listed = ", ".join(also) + (f" and {more} more" if more else "")
            first = DataError(f"{first.message} ({len(problems)} of {len(records)} records are bad; also {listed})",
                              file=first.file, line=first.line, record=first.record, field=first.field)
        raise first

    @staticmethod
    def _check(record: Record, spec: Field) -> None:
        key = spec.name
        if key not in record or record[key] is None:
            alias = next((a for a in spec.aliases if a in record and record[a] is not None), None)
            if alias is not None:
                record[key] = record.pop(alias)
            elif spec.required:
                raise record.error("missing", field=key)
            else:
                record[key] = spec.default
                return
        value = record[key]
        if spec.kind != "any" and value == "" and not spec.required:
            record[key] = spec.default
            return
        try:
            value = _COERCERS[spec.kind](value)
        except TypeError as exc:
            raise record.error(str(exc), field=key) from None
        if spec.non_empty and isinstance(value, (str, list)) and not (value.strip() if isinstance(value, str) else value):
            raise record.error("is empty", field=key)
        if spec.min is not None and value < spec.min:
            raise record.error(f"value {value} is below the minimum {spec.min:g}", field=key)
        if spec.max is not None and value > spec.max:
            raise record.error(f"value {value} is above the maximum {spec.max:g}", field=key)
        if spec.choices is not None and value not in spec.choices:
            raise record.error(f"value {value!r} is not one of {list(spec.choices)}", field=key)
        record[key] = value


def check_same_length(**named: Sequence[Any] | np.ndarray) -> int:
    """Raise a one-line error unless every named sequence has the same length; return it."""
    lengths = {name: len(values) for name, values in named.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise DataError(f"lengths do not match: {described}")
    return next(iter(lengths.values()), 0)


# --------------------------------------------------------------------------- writing


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    temp_path = Path(temp)
    try:
        write(temp_path)
        os.replace(temp_path, path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def save_records(records: Iterable[dict[str, Any]], path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write records atomically as jsonl (default), json, csv or parquet, chosen by
    ``fmt`` or the file suffix; a failure leaves no partial file."""
    target = Path(path)
    if target.is_dir():
        raise DataError("is a folder, expected a file path to write", file=target)
    rows = [dict(r) for r in records]
    suffix, gzipped = _strip_gz(target)
    kind = (fmt or suffix.lstrip(".") or "jsonl").lower()

    def write(temp: Path) -> None:
        if kind == "jsonl":
            text = "".join(json.dumps(r, ensure_ascii=False, default=_json_default) + "\n" for r in rows)
        elif kind == "json":
            text = json.dumps(rows, ensure_ascii=False, indent=1, default=_json_default) + "\n"
        elif kind == "csv":
            buffer = io.StringIO()
            columns = list(dict.fromkeys(k for r in rows for k in r))
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            for r in rows:
                writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()})
            text = buffer.getvalue()
        elif kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), temp)
            return
        else:
            raise DataError(f"unsupported output format '{kind}' (use jsonl, json, csv or parquet)", file=target)
        data = text.encode("utf-8")
        temp.write_bytes(gzip.compress(data, mtime=0) if gzipped else data)

    _atomic_write(target, write)
    return target


# --------------------------------------------------------------------------- arrays


def load_array(
    path: str | os.PathLike,
    *,
    name: str = "array",
    ndim: int | Sequence[int] | None = None,
    dtype: str | None = None,
    key: str | None = None,
    finite: bool = True,
) -> np.ndarray:
    """Load a numeric array from .npy, .csv/.txt (comma or whitespace separated, optional
    header row), .pt (``weights_only=True``) or .safetensors.

    ``ndim`` checks the number of dimensions; ``dtype="int"`` requires integral values;
    ``finite`` rejects NaN/inf; ``key`` picks a tensor from a .pt dict or .safetensors file.
    Errors name the file and ``name``.
    """
    file = Path(path).expanduser()
    where = str(path)
    if not file.is_file():
        problem = "no such file" if not file.exists() else "is a folder, expected a file" if file.is_dir() else "is not a file"
        raise DataError(problem, file=where, field=name)
    suffix = file.suffix.lower()
    try:
        if suffix == ".npy":
            with open(file, "rb") as handle:
                if handle.read(6) != b"\x93NUMPY":
                    # np.load would call anything that is not .npy "pickled data".
                    raise DataError("is not a .npy file (no NumPy header)", file=where, field=name)
            array = np.load(file, allow_pickle=False)
        elif suffix in (".csv", ".txt"):
            array = _load_text_array(file, where, name)
        elif suffix == ".pt":
            array = _load_torch_array(file, key, where, name)
        elif suffix == ".safetensors":
            from safetensors.numpy import load_file

            tensors = load_file(str(file))
            array = _pick(tensors, key, where, name)
        else:
            raise DataError(f"unsupported array file type '{suffix}' (use {', '.join(ARRAY_SUFFIXES)})", file=where, field=name)
    except DataError:
        raise
    except (ValueError, OSError, RuntimeError, EOFError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read array: {message}", file=where, field=name) from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataError(f"expected numbers, found dtype {array.dtype}", file=where, field=name)
    if array.size == 0:
        raise DataError("array is empty", file=where, field=name)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            raise DataError(f"expected {' or '.join(map(str, allowed))} dimensions, got shape {array.shape}", file=where, field=name)
    if finite and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        flat = int(np.flatnonzero(~np.isfinite(array))[0])
        row = np.unravel_index(flat, array.shape)[0] + 1
        raise DataError(f"contains NaN or infinite values (first at row {row})", file=where, field=name)
    if dtype == "int":
        if np.issubdtype(array.dtype, np.floating):
            if not np.all(np.equal(np.mod(array, 1), 0)):
                raise DataError("expected integer values", file=where, field=name)
            array = array.astype(np.int64)
        elif array.dtype == bool:
            array = array.astype(np.int64)
    elif dtype == "float":
        array = array.astype(np.float32 if array.dtype == np.float32 else np.float64)
    return array


def _pick(tensors: dict[str, Any], key: str | None, where: str, name: str) -> np.ndarray:
    if key is not None:
        if key not in tensors:
            raise DataError(f"no tensor named '{key}' (has {', '.join(tensors)})", file=where, field=name)
        return np.asarray(tensors[key])
    if len(tensors) != 1:
        raise DataError(f"file holds {len(tensors)} tensors; choose one by key ({', '.join(tensors)})", file=where, field=name)
    return np.asarray(next(iter(tensors.values())))


def _load_torch_array(file: Path, key: str | None, where: str, name: str) -> np.ndarray:
    import pickle

    import torch

    try:
        value = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as exc:
        raise DataError(
            f"refusing to load: not a plain tensor file ({str(exc).strip().splitlines()[0]})", file=where, field=name
        ) from None
    if isinstance(value, torch.Tensor):
        return value.detach().float().numpy() if value.dtype == torch.bfloat16 else value.detach().numpy()
    if isinstance(value, dict):
        tensors = {k: v for k, v in value.items() if isinstance(v, torch.Tensor)}
        return _pick({k: (v.float() if v.dtype == torch.bfloat16 else v).numpy() for k, v in tensors.items()}, key, where, name)
    raise DataError(f"expected a tensor or a dict of tensors, got {type(value).__name__}", file=where, field=name)


def _load_text_array(file: Path, where: str, name: str) -> np.ndarray:
    text = _read_text(file, gzipped=False, field=name)
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise DataError("array is empty", file=where, field=name)
    delimiter = "," if "," in lines[0][1] else None
    rows: list[list[float]] = []
    for position, (number, line) in enumerate(lines):
        cells = [c.strip() for c in (line.split(delimiter) if delimiter else line.split())]
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            if position == 0:  # a header row
                continue
            bad = next(c for c in cells if not _is_float(c))
            raise DataError(f"not a number: {bad!r}", file=where, line=number, field=name) from None
        if rows and len(rows[-1]) != len(rows[0]):
            raise DataError(f"row has {len(rows[-1])} values, expected {len(rows[0])}", file=where, line=number, field=name)
    if not rows:
        raise DataError("array is empty", file=where, field=name)
    array = np.asarray(rows)
    if array.shape[1] == 1:
        array = array[:, 0]
    if np.all(np.isfinite(array)) and np.all(np.equal(np.mod(array, 1), 0)) and array.ndim == 1:
        return array.astype(np.int64)
    return array


def _is_float(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def save_array(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a numpy array atomically as .npy."""
    target = Path(path)
    if target.is_dir():
        raise DataError("is a folder, expected a file path to write", file=target)

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)

    _atomic_write(target, write)
    return target


# --------------------------------------------------------------------------- labels and class scores


def required_path(path: str | os.PathLike | None, name: str) -> Path:
    """A required input path; a missing flag is a one-line error naming it."""
    from reliant.core.errors import ConfigError

    if path is None:
        raise ConfigError(f"required (give --{name.replace('_', '-')} or set {name} in --config)", field=name)
    return Path(path)


def check_rows(name: str, n: int, expected: int, file: str | os.PathLike | None, reference: str) -> None:
    """One-line error when an array's row count ``n`` differs from ``reference``'s."""
    if n != expected:
        raise DataError(f"has {n} rows but {reference} has {expected}", file=file, field=name)


def check_labels(
    labels: Any,
    num_classes: int | None = None,
    *,
    name: str = "labels",
    file: str | os.PathLike | None = None,
    classes_from: str = "the number of classes",
) -> np.ndarray:
    """Integer class labels, one per row: non-negative and, when ``num_classes`` is given,
    below it. Integral floats are accepted; the first bad row is named (1-based).
    ``classes_from`` says where ``num_classes`` came from in the message (e.g.
    ``"--num-classes"``). Returns an ``int64`` array."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"expected one label per row, got shape {labels.shape}", file=file, field=name)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.number):
        raise DataError("expected integer labels", file=file, field=name)
    if not np.issubdtype(labels.dtype, np.integer):
        if not (np.all(np.isfinite(labels)) and np.all(labels == np.round(labels))):
            raise DataError("expected integer labels", file=file, field=name)
        labels = labels.astype(np.int64)
    bad = np.flatnonzero(labels < 0)
    if bad.size:
        row = int(bad[0])
        raise DataError(f"label {int(labels[row])} at row {row + 1} is negative", file=file, field=name)
    if num_classes is not None:
        bad = np.flatnonzero(labels >= num_classes)
        if bad.size:
            row = int(bad[0])
            raise DataError(f"label {int(labels[row])} at row {row + 1} is outside 0..{num_classes - 1} "
                            f"(it is not below {classes_from} {num_classes})", file=file, field=name)
    return labels.astype(np.int64)


def load_labels(
    path: str | os.PathLike,
    num_classes: int | None = None,
    *,
    name: str = "labels",
    rows: int | None = None,
    reference: str = "the scores",
    classes_from: str = "the number of classes",
) -> np.ndarray:
    """Integer labels from an array file (a 1-column 2-D array is accepted), checked by
    :func:`check_labels`; with ``rows`` the count must match ``reference``'s rows."""
    array = load_array(path, name=name, ndim=(1, 2), dtype="int")
    if array.ndim == 2:
        if array.shape[1] != 1:
            raise DataError(f"expected one label per row, got shape {array.shape}", file=path, field=name)
        array = array[:, 0]
    if rows is not None:
        check_rows(name, len(array), rows, path, reference)
    return check_labels(array, num_classes, name=name, file=path, classes_from=classes_from)


def check_probabilities(probs: Any, *, name: str = "probs", file: str | os.PathLike | None = None,
                        tol: float = 1e-3) -> np.ndarray:
    """Rows of non-negative numbers summing to 1 (within ``tol``); renormalised exactly."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise DataError(f"expected a 2-D array (rows x classes), got shape {probs.shape}", file=file, field=name)
    if not np.all(np.isfinite(probs)):
        row = int(np.flatnonzero(~np.isfinite(probs).all(axis=1))[0])
        raise DataError(f"contains NaN or infinite values (first at row {row + 1})", file=file, field=name)
    negative = np.flatnonzero((probs < 0).any(axis=1))
    if negative.size:
        raise DataError(f"negative probability at row {int(negative[0]) + 1}", file=file, field=name)
    sums = probs.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > tol)
    if off.size:
        row = int(off[0])
        raise DataError(
            f"row {row + 1} sums to {sums[row]:.4g}, not 1 (pass logits instead, or normalise the rows)",
            file=file, field=name,
        )
    return probs / sums[:, None]


def load_class_scores(path: str | os.PathLike, *, name: str = "logits", probabilities: bool = False) -> np.ndarray:
    """A classifier's 2-D score array (rows x classes, at least 2 classes) as float64
    logits. With ``probabilities`` the rows must be distributions and their (floored) log is
    returned, so every method downstream sees logits."""
    from reliant.core.arrays import probabilities_to_logits

    array = load_array(path, name=name, ndim=2, dtype="float")
    if array.shape[1] < 2:
        raise DataError(f"needs at least 2 classes (columns), got shape {array.shape}", file=path, field=name)
    if probabilities:
        return probabilities_to_logits(check_probabilities(array, name=name, file=path))
    return array.astype(np.float64)
