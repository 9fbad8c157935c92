"""Unlearning checkpoints that survive Ctrl-C and SIGKILL, and resume to the same weights.

A checkpoint folder (``<out>.checkpoints/`` beside the run folder, or ``--checkpoint-dir``)
holds one sub-folder per saved step and a ``latest.json`` pointer::

    run.checkpoints/
      latest.json            {"folder": "step-0000040", "step": 40, "epoch": 1, ...}
      step-0000040/
        model.safetensors    the trainable weights
        state.pt             optimizer, scheduler and every RNG (tensors, lists, numbers only)
        meta.json            counters and the settings that trained it
      run.yaml               (written by ``reliant unlearn run``) the config to resume with

Each step folder is written under a temporary name, flushed to disk and renamed into
place; ``latest.json`` is replaced last, so a crash at any moment leaves the previous
checkpoint intact. Only the newest :data:`KEEP` step folders are kept. ``state.pt`` is
read with ``torch.load(weights_only=True)``: no pickled code is ever executed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reliant.core.errors import ConfigError

if TYPE_CHECKING:
    import torch

# numpy and torch are imported inside the functions that need them: finding and checking a
# checkpoint folder (``--resume``) happens before any model loads and stays fast.

FORMAT = 1
KEEP = 2
LATEST = "latest.json"

# Settings that must match for a resumed run to continue the same trajectory.
_MUST_MATCH = ("method", "epochs", "batch_size", "grad_accum", "seed", "lr", "warmup_ratio")


@dataclass
class Checkpoint:
    root: Path
    path: Path
    meta: dict[str, Any]


def default_dir(run_folder: str | os.PathLike) -> Path:
    """``<run folder>.checkpoints``: beside the run folder, never inside its staging folder."""
    run_folder = Path(run_folder)
    return run_folder.with_name(run_folder.name + ".checkpoints")


def find(root: str | os.PathLike) -> Checkpoint:
    """The latest checkpoint in ``root``; a folder without one is a ConfigError."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError("no such checkpoint folder", file=root, field="resume")
    pointer = root / LATEST
    if not pointer.is_file():
        raise ConfigError(f"no checkpoint here (no {LATEST}); nothing to resume", file=root, field="resume")
    try:
        latest = json.loads(pointer.read_text(encoding="utf-8"))
        folder = root / str(latest["folder"])
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"unreadable checkpoint ({type(exc).__name__})", file=pointer, field="resume") from None
    for name in ("model.safetensors", "state.pt"):
        if not (folder / name).is_file():
            raise ConfigError(f"checkpoint is missing {name}", file=folder, field="resume")
    if meta.get("format") != FORMAT:
        raise ConfigError(f"checkpoint format {meta.get('format')!r} is not {FORMAT}", file=folder, field="resume")
    return Checkpoint(root=root, path=folder, meta=meta)


def check_compatible(saved: Checkpoint, settings: Any, method: str, n_examples: int) -> None:
    """Refuse to resume with settings that would not continue the saved trajectory."""
    recorded = saved.meta.get("settings", {})
    current = dataclasses.asdict(settings)
    for name in _MUST_MATCH:
        if name in recorded and recorded[name] != current.get(name):
            raise ConfigError(
                f"checkpoint was trained with {name}={recorded[name]!r}, this run has {current.get(name)!r}; "
                "resume with the same settings",
                file=saved.root, field=name,
            )
    if saved.meta.get("n_examples") != n_examples:
        raise ConfigError(
            f"checkpoint was trained on {saved.meta.get('n_examples')} examples, this run has {n_examples}; "
            "resume with the same data", file=saved.root, field="resume",
        )
    if saved.meta.get("method") != method:
        raise ConfigError(f"checkpoint was trained with method {saved.meta.get('method')!r}", file=saved.root, field="method")


# --------------------------------------------------------------------------- RNG states


def python_rng_state(rng: Any = random) -> dict[str, Any]:
    version, internal, gauss = rng.getstate()
    return {"version": version, "state": list(internal), "gauss": gauss}


def python_rng_from(saved: dict[str, Any]) -> tuple:
    return (saved["version"], tuple(int(v) for v in saved["state"]), saved["gauss"])


def capture_rng() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) global generator states, as plain data and tensors."""
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": python_rng_state(random),
        "numpy": {"kind": kind, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(python_rng_from(state["python"]))
    np_state = state["numpy"]
    np.random.set_state(
        (np_state["kind"], np.asarray(np_state["keys"], dtype=np.uint32), np_state["pos"], np_state["has_gauss"], np_state["cached"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- writing


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().to("cpu").contiguous() for name, p in model.named_parameters() if p.requires_grad}


def save(
    root: Path,
    *,
    model: Any,
    optimizer_state: dict[str, Any],
    boundary: dict[str, Any],
    settings: Any,
    method: str,
    n_examples: int,
    reason: str,
) -> Path | None:
    """Write the state at ``boundary`` atomically; returns the step folder (None at step 0)."""
    import torch
    from safetensors.torch import save_file

    step = int(boundary["step"])
    if step == 0:
        return None
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    final = root / name
    skip = int(boundary["skip_batches"])
    next_epoch = int(boundary["next_epoch"])
    meta = {
        "format": FORMAT,
        "method": method,
        "step": step,
        "next_epoch": next_epoch,
        "skip_batches": skip,
        "epoch": next_epoch if skip else next_epoch - 1,
        "epoch_complete": skip == 0,
        "accumulation_step": int(boundary["accumulation_step"]),
        "n_examples": n_examples,
        "settings": dataclasses.asdict(settings),
        "reason": reason,
        "saved_at": dt.datetime.now().isoformat(timespec="seconds"),
    }
    if not (final / "meta.json").is_file():
        for stale in root.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root / f".tmp-{name}-{os.getpid()}"
        tmp.mkdir()
        save_file(trainable_state(model), str(tmp / "model.safetensors"))
        torch.save(
            {"optimizer": optimizer_state, "scheduler": boundary["scheduler"], "rng": boundary["rng"],
             "method": boundary.get("method", {})}, tmp / "state.pt"
        )
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        for file in tmp.iterdir():
            _fsync(file)
        _fsync(tmp)
        os.replace(tmp, final)
        _fsync(root)
    _write_json(root / LATEST, {"folder": name, **{k: meta[k] for k in ("step", "epoch", "epoch_complete", "method", "reason")}})
    _fsync(root)
    folders = sorted((p for p in root.glob("step-*") if p.is_dir()), key=lambda p: p.name)
    for old in folders[:-KEEP]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


# --------------------------------------------------------------------------- reading


def load_weights(saved: Checkpoint, model: Any) -> None:
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(saved.path / "model.safetensors"))
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if set(tensors) != set(params):
        missing = sorted(set(params) - set(tensors))[:3]
        extra = sorted(set(tensors) - set(params))[:3]
        raise ConfigError(
            f"checkpoint weights do not match this model (missing {missing}, unexpected {extra}); "
            "resume with the same --model and --lora-r",
            file=saved.path, field="resume",
        )
    with torch.no_grad():
        for name, param in params.items():
            if tuple(tensors[name].shape) != tuple(param.shape):
                raise ConfigError(f"checkpoint weight {name} has shape {tuple(tensors[name].shape)}, the model {tuple(param.shape)}",
                                  file=saved.path, field="resume")
            param.copy_(tensors[name].to(param.dtype))


def load_state(saved: Checkpoint) -> dict[str, Any]:
    """Optimizer, scheduler and RNG states (``weights_only``: plain data and tensors only)."""
    import torch

    try:
        return torch.load(saved.path / "state.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file is the user's to fix
        raise ConfigError(f"unreadable checkpoint state ({type(exc).__name__})", file=saved.path / "state.pt", field="resume") from None
