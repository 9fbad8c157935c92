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
