"""Figures for the federated run folders: originals vs reconstructions, and per-round curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reliant.core.plotting import PALETTE, new_figure

__all__ = ["plot_reconstructions", "plot_rounds"]


def _show(axis, image: np.ndarray) -> None:
    picture = image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0]
    axis.imshow(np.clip(picture, 0, 1), cmap=None if image.shape[0] == 3 else "gray", vmin=0, vmax=1)
    axis.set_xticks([])
    axis.set_yticks([])


def plot_reconstructions(original: np.ndarray, columns: Sequence[tuple[str, np.ndarray, dict]]):
    """The victim's image beside each reconstruction, titled with its PSNR/SSIM."""
    fig, axes = new_figure(2.0 * (len(columns) + 1), 2.4, ncols=len(columns) + 1)
    _show(axes[0], original)
    axes[0].set_title("original")
    for axis, (title, image, scores) in zip(axes[1:], columns):
        _show(axis, image)
        axis.set_title(f"{title}\nPSNR {scores['psnr']:.1f} dB, SSIM {scores['ssim']:.2f}", fontsize=8)
    return fig


def plot_rounds(series: dict[str, Sequence[float]], ylabel: str, marks: Sequence[int] = ()):
    """One line per series over rounds (1, 2, ...); ``marks`` shades rounds (the poisoning ones)."""
    fig, axis = new_figure(6.0, 3.2)
    for colour, (name, values) in zip(PALETTE, series.items()):
        axis.plot(range(1, len(values) + 1), values, marker="o", markersize=3, color=colour, label=name)
    for r in marks:
        axis.axvspan(r - 0.5, r + 0.5, color="#dddddd", zorder=0)
    axis.set_xlabel("round")
    axis.set_ylabel(ylabel)
    axis.legend(frameon=False)
    return fig
