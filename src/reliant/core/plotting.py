"""One look for every plot reliant draws: a clean style, a colour-blind-safe palette, and
PNG export for embedding in reports. Matplotlib runs headless (Agg).

Matplotlib is imported inside the functions, not at the top: modules that every command
imports (the run directory, the command modules) import this one, and matplotlib's import
costs about a second that ``--help`` and a rejected option should not pay (start-up time).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Okabe-Ito: distinguishable under the common forms of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

STYLE: dict[str, Any] = {
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linestyle": "-",
    "legend.frameon": False,
    "figure.constrained_layout.use": True,
}


@functools.cache
def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def plot_style() -> Iterator[None]:
    plt = _pyplot()
    from matplotlib import cycler

    with plt.rc_context({**STYLE, "axes.prop_cycle": cycler(color=PALETTE)}):
        yield


def new_figure(width: float = 6.0, height: float = 3.6, ncols: int = 1, nrows: int = 1):
    """A styled figure and its axes; close it with :func:`figure_png` or plt.close."""
    with plot_style():
        fig, axes = _pyplot().subplots(nrows, ncols, figsize=(width, height), squeeze=True)
    return fig, axes


def figure_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes and free it."""
    buffer = io.BytesIO()
    with plot_style():
        fig.savefig(buffer, format="png", bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()
