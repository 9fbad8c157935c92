"""Figures for the ``reliant construct`` run folders."""

from __future__ import annotations

import numpy as np

from reliant.core.plotting import PALETTE, new_figure

__all__ = ["plot_class_counts", "plot_image_grid", "plot_per_class_accuracy", "plot_training_curve"]


def plot_class_counts(classes: list[str], counts: list[int], title: str = "images per class"):
    fig, ax = new_figure(max(5.0, 0.5 * len(classes)), 3.2)
    ax.bar(range(len(classes)), counts, color=PALETTE[0])
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(title)
    return fig


def plot_image_grid(images: np.ndarray, captions: list[str], columns: int = 8):
    rows = max(1, -(-len(images) // columns))
    fig, axes = new_figure(1.1 * columns, 1.25 * rows, ncols=columns, nrows=rows)
    for i, ax in enumerate(np.asarray(axes).reshape(-1)):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i].squeeze(), cmap="gray" if images[i].shape[-1] == 1 else None)
            ax.set_title(captions[i], fontsize=6)
    return fig


def plot_training_curve(history: list[dict[str, float]]):
    fig, ax = new_figure(5.0, 3.0)
    keys = [k for k in history[0] if k != "epoch"] if history else []
    for m, key in enumerate(keys):
        ax.plot([h["epoch"] for h in history], [h.get(key, np.nan) for h in history], marker="o", label=key,
                color=PALETTE[m % len(PALETTE)])
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean over the epoch")
    ax.legend(fontsize=7)
    return fig


def plot_per_class_accuracy(classes: list[str], accuracy: list[float], counts: list[int]):
    fig, ax = new_figure(max(5.0, 0.5 * len(classes)), 3.2)
    ax.bar(range(len(classes)), accuracy, color=PALETTE[2])
    ax.set_xticks(range(len(classes)), [f"{c}\n(n={n})" for c, n in zip(classes, counts)], fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy")
    return fig
