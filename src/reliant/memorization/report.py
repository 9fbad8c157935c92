"""Plots for memorization reports (ROC with log-scale FPR, score histograms, per-example
memorization profiles), drawn with the shared plotting style."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from reliant.core.plotting import PALETTE, new_figure
from reliant.memorization import metrics as M


def roc_figure(scores: Mapping[str, tuple[np.ndarray, np.ndarray]], labels: Mapping[str, str] | None = None, title: str = ""):
    """ROC curve per attack on log-log axes (low FPR is where privacy risk shows)."""
    fig, ax = new_figure(5.6, 4.2)
    floor = 1.0
    for index, (name, (members, nonmembers)) in enumerate(scores.items()):
        fpr, tpr, _ = M.roc_points(members, nonmembers)
        floor = min(floor, 1 / max(len(nonmembers), 1), 1 / max(len(members), 1))
        auc = M.auroc(members, nonmembers)
        label = (labels or {}).get(name, name)
        ax.step(np.maximum(fpr, 1e-5), np.maximum(tpr, 1e-5), where="post",
                color=PALETTE[index % len(PALETTE)], label=f"{label} (AUC {auc:.3f})")
    lo = max(floor / 2, 1e-5)
    ax.plot([lo, 1], [lo, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, 1.05)
    ax.set_ylim(lo, 1.05)
    ax.set_xlabel("false positive rate (non-members flagged)")
    ax.set_ylabel("true positive rate (members found)")
    ax.set_title(title or "Membership inference ROC")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def histogram_figure(scores: Mapping[str, tuple[np.ndarray, np.ndarray]], labels: Mapping[str, str] | None = None):
    """Score distributions of members and non-members, one panel per attack."""
    n = len(scores)
    fig, axes = new_figure(3.2 * n, 2.8, ncols=n)
    axes = np.atleast_1d(axes)
    for ax, (name, (members, nonmembers)) in zip(axes, scores.items()):
        both = np.concatenate([members, nonmembers])
        bins = np.linspace(both.min(), both.max() + 1e-9, 25)
        ax.hist(nonmembers, bins=bins, alpha=0.6, color=PALETTE[1], label="non-members")
        ax.hist(members, bins=bins, alpha=0.6, color=PALETTE[0], label="members")
        ax.set_title((labels or {}).get(name, name))
        ax.set_xlabel("score (higher = member)")
    axes[0].set_ylabel("examples")
    axes[0].legend(fontsize=8)
    return fig


def profile_figure(member_values: np.ndarray, nonmember_values: np.ndarray, ylabel: str, title: str):
    """Memorization profile: each example's value, sorted, members against non-members."""
    fig, ax = new_figure(5.6, 3.4)
    for values, colour, label in ((member_values, PALETTE[0], "members"), (nonmember_values, PALETTE[1], "non-members")):
        values = np.sort(np.asarray(values, dtype=float))[::-1]
        ax.plot(np.linspace(0, 1, len(values)), values, color=colour, label=label, marker="." if len(values) < 60 else None)
    ax.set_xlabel("fraction of examples (sorted by value)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def bar_profile_figure(values: Sequence[float], groups: Sequence[str], ylabel: str, title: str):
    """Per-example values sorted within each group (e.g. clean / mislabelled)."""
    fig, ax = new_figure(6.0, 3.4)
    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups)
    for index, group in enumerate(dict.fromkeys(groups.tolist())):
        chosen = np.sort(values[groups == group])[::-1]
        ax.plot(np.linspace(0, 1, len(chosen)), chosen, color=PALETTE[index % len(PALETTE)], label=f"{group} (n={len(chosen)})")
    ax.set_xlabel("fraction of the group's examples (sorted)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig
