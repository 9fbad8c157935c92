"""Figures for the analytics run folders (matplotlib through :mod:`reliant.core.plotting`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from reliant.core.plotting import PALETTE, new_figure

__all__ = ["articles_per_year_figure", "sources_timeline_figure", "topic_shares_figure"]


def articles_per_year_figure(days: list[dt.date]):
    counts = Counter(d.year for d in days)
    years = sorted(counts)
    fig, ax = new_figure(6.0, 3.0)
    ax.bar(years, [counts[y] for y in years], color=PALETTE[0])
    ax.set_xlabel("year")
    ax.set_ylabel("articles")
    ax.set_title("Indexed articles per year")
    return fig


def sources_timeline_figure(series: dict[str, list[dt.date]], window: tuple[dt.date | None, dt.date | None] | None,
                            as_of: dt.date):
    """One row of dots per retriever: when its sources were published, against the asked window."""
    fig, ax = new_figure(6.5, 1.2 + 0.5 * len(series))
    for i, (name, days) in enumerate(series.items()):
        ax.scatter(days, [i] * len(days), color=PALETTE[i % len(PALETTE)], s=30, zorder=3)
    if window is not None and window[0] is not None and window[1] is not None:
        ax.axvspan(window[0], window[1], color="#dddddd", zorder=1, label="asked period")
    ax.axvline(as_of, color="#444444", linestyle="--", linewidth=1, label="as of")
    ax.set_yticks(range(len(series)), list(series))
    ax.set_ylim(-0.7, len(series) - 0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Publication dates of the retrieved sources")
    fig.autofmt_xdate()
    return fig


def topic_shares_figure(trends):
    fig, ax = new_figure(7.0, 3.6)
    shares = trends.shares
    for i, label in enumerate(trends.labels):
        style = "-" if trends.trend[i] != "steady" else ":"
        ax.plot(trends.periods, shares[i], style, marker="o", markersize=3, color=PALETTE[i % len(PALETTE)],
                label=f"{i}: {label} ({trends.trend[i]})")
    ax.set_ylabel("share of the period's articles")
    ax.set_title("Topics over time")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if len(trends.periods) > 12:
        for label in ax.get_xticklabels():
            label.set_rotation(60)
    return fig
