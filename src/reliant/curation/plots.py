"""Figures of the curation reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from reliant.core.plotting import PALETTE, new_figure


def _heatmap(ax, T: np.ndarray, title: str, labels: Sequence[str] | None = None) -> None:
    K = len(T)
    ax.imshow(T, vmin=0, vmax=1, cmap="Blues")
    if K <= 12:
        for i in range(K):
            for j in range(K):
                ax.text(j, i, f"{T[i, j]:.2f}", ha="center", va="center", fontsize=7 if K > 6 else 8,
                        color="white" if T[i, j] > 0.6 else "black")
    ticks = np.arange(K)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    if labels is not None:
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("noisy label j")
    ax.set_ylabel("clean label i")
    ax.set_title(title)
    ax.grid(False)


def plot_transition(T: np.ndarray, T_true: np.ndarray | None = None, labels: Sequence[str] | None = None):
    """Heat map of the estimated ``T`` (beside the true one when known)."""
    K = len(T)
    size = max(3.4, 0.42 * K + 1.6)
    if T_true is None:
        fig, ax = new_figure(size, size)
        _heatmap(ax, T, "Estimated T = P(noisy j | clean i)", labels)
        return fig
    fig, axes = new_figure(2 * size, size, ncols=2)
    _heatmap(axes[0], T, "Estimated T (HOC)", labels)
    _heatmap(axes[1], T_true, "True T (from clean labels)", labels)
    return fig


def plot_priors(p: np.ndarray, noisy_prior: np.ndarray, p_true: np.ndarray | None = None):
    K = len(p)
    fig, ax = new_figure(max(5.0, 0.5 * K + 2), 3.2)
    x = np.arange(K)
    series = [("clean prior p (HOC)", p), ("noisy label frequency", noisy_prior)]
    if p_true is not None:
        series.append(("true clean prior", p_true))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name, color=PALETTE[i])
    ax.set_xticks(x)
    ax.set_xlabel("class")
    ax.set_ylabel("share")
    ax.legend(fontsize=8)
    ax.set_title("Clean prior vs observed labels")
    return fig


def plot_flag_rates(flag_rate: np.ndarray, is_noisy: np.ndarray | None = None):
    fig, ax = new_figure(6.0, 3.2)
    bins = np.linspace(0, 1, 26)
    if is_noisy is None:
        ax.hist(flag_rate, bins=bins, color=PALETTE[0])
    else:
        ax.hist(flag_rate[~is_noisy], bins=bins, alpha=0.75, label="label is right", color=PALETTE[0])
        ax.hist(flag_rate[is_noisy], bins=bins, alpha=0.75, label="label is wrong", color=PALETTE[3])
        ax.legend(fontsize=8)
    ax.axvline(0.5, color="grey", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("flag rate over rounds, (flags + 1) / (rounds sampled + 2)")
    ax.set_ylabel("samples")
    ax.set_title("SimiFeat flag rates (flagged above 0.5)")
    return fig


def plot_score_histograms(histograms: Mapping[str, np.ndarray], num_levels: int, title: str):
    """Bars of the share of samples at each score level, one series per entry."""
    fig, ax = new_figure(6.4, 3.4)
    x = np.arange(num_levels)
    width = 0.8 / max(1, len(histograms))
    for i, (name, scores) in enumerate(histograms.items()):
        share = np.bincount(np.asarray(scores), minlength=num_levels)[:num_levels] / max(1, len(scores))
        ax.bar(x + (i - (len(histograms) - 1) / 2) * width, share, width, label=name, color=PALETTE[i % len(PALETTE)])
    ax.set_xticks(x)
    ax.set_xlabel("score level (0: raw <=4 ... 5: raw >=9)")
    ax.set_ylabel("share of samples")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_long_tail(long_tail: np.ndarray, selections: Mapping[str, np.ndarray]):
    fig, ax = new_figure(6.4, 3.4)
    bins = np.linspace(0, 1, 41)
    ax.hist(long_tail, bins=bins, density=True, alpha=0.35, color="grey", label="whole pool")
    for i, (name, idx) in enumerate(selections.items()):
        ax.hist(long_tail[idx], bins=bins, density=True, histtype="step", lw=1.6, color=PALETTE[i % len(PALETTE)],
                label=name)
    ax.set_xlabel("long-tail score d̄ / (d̄ + median d̄)")
    ax.set_ylabel("density")
    ax.set_title("Long-tail (rarity) score of each selected set")
    ax.legend(fontsize=8)
    return fig
