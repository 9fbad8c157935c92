"""Determinism under ``--seed``: one call seeds every random source reliant uses."""

from __future__ import annotations

import os
import random
import sys


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and ask PyTorch for deterministic kernels."""
    # Deliberately imported here: torch takes seconds to import (numpy a quarter of one), and
    # command modules import this one before they have validated their options (start-up time).
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    _deterministic_kernels(torch)


def _deterministic_kernels(torch) -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` without its cost.

    The public call also sets ``torch._inductor.config.deterministic``, and importing
    ``torch._inductor`` for that took 3-11 s on two cores, for a setting only
    ``torch.compile`` reads (reliant never compiles). So the kernel flag, which is what
    makes eager kernels deterministic (the same flag, the same warnings), is set directly;
    inductor gets the setting through its environment variable, or directly when it is
    already loaded. Where the private setter is missing, the public call is used.
    """
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
        return
    set_flag(True, warn_only=True)
    os.environ.setdefault("TORCHINDUCTOR_DETERMINISTIC", "1")
    inductor_config = sys.modules.get("torch._inductor.config")
    if inductor_config is not None:
        inductor_config.deterministic = True
