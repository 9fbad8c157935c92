"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def reliant(*args: str) -> float:
    """Run ``reliant *args`` (the venv's script beside this Python), as a user would; seconds taken."""
    exe = Path(sys.executable).with_name("reliant")
    start = time.perf_counter()
    subprocess.run([str(exe), *args], check=True)
    return time.perf_counter() - start


def paired_difference(a: list[float], b: list[float], seed: int = 0, draws: int = 2000) -> dict:
    """Mean of ``a - b`` over the same items, with a 95 % bootstrap interval."""
    import numpy as np

    diff = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(draws, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(diff.mean()), "ci95": [float(low), float(high)], "items": int(len(diff))}


def read_jsonl(path) -> list[dict]:
    """The JSON objects of a jsonl file (blank lines skipped)."""
    import json
    from pathlib import Path

    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def select_run_records(records: list, select_run) -> tuple[list, dict[str, list]]:
    """``(kept, {method: selected})`` of a ``reliant curate select`` run of the pool ``records``:
    the records it scored (``scores.jsonl`` gives their 1-based positions in the pool file, after
    the records dropped for empty fields) and each selection of ``selections.jsonl`` as records."""
    from pathlib import Path

    select_run = Path(select_run)
    kept = [records[int(row["record"]) - 1] for row in read_jsonl(select_run / "scores.jsonl")]
    return kept, {row["method"]: [kept[i] for i in row["indices"]] for row in read_jsonl(select_run / "selections.jsonl")}
