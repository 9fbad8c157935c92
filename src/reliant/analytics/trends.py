"""Thematic trends: topics over time, their counts and shares per period, emerging and declining.

FALM's second ability, "thematic trend analysis: how topics evolve over time" (arXiv
2406.06559). Topics are k-means clusters of the index's MiniLM vectors (scikit-learn), labelled
by class-based TF-IDF as BERTopic does (Grootendorst, 2022, Eq. 1): for a word t and a topic c,

    W(t, c) = tf(t, c) * log(1 + A / f(t)),

with tf(t, c) the frequency of t in the topic's articles, f(t) its frequency over all topics
and A the mean number of words per topic. For each period (year, quarter or month) a topic's
share is its articles / all articles of the period. A topic is *emerging* when the least-squares
slope of its share over the last ``recent_periods`` periods is positive and its mean share there
exceeds its mean share before, *declining* in the opposite case.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from reliant.analytics.index import NewsIndex
from reliant.analytics.support import content_words

__all__ = ["TopicTrends", "ctfidf_labels", "period_of", "topic_trends"]

PERIODS = ("year", "quarter", "month")


def period_of(day: dt.date, period: str) -> str:
    if period == "year":
        return str(day.year)
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


def _words(text: str) -> list[str]:
    keep = content_words(text)
    return [w for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower()) if w in keep and not w.isdigit()]


def ctfidf_labels(texts_per_topic: list[list[str]], top_n: int = 4) -> list[list[tuple[str, float]]]:
    """The ``top_n`` words of each topic by c-TF-IDF (module docstring)."""
    counts = [Counter(w for text in texts for w in _words(text)) for texts in texts_per_topic]
    total = Counter()
    for c in counts:
        total.update(c)
    mean_words = np.mean([sum(c.values()) for c in counts]) if counts else 0.0
    labels = []
    for c in counts:
        weights = {t: tf * np.log(1 + mean_words / total[t]) for t, tf in c.items()}
        labels.append(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n])
    return labels


@dataclass
class TopicTrends:
    periods: list[str]
    labels: list[str]
    counts: np.ndarray  # topics x periods
    sizes: list[int]
    trend: list[str]  # "emerging", "declining" or "steady"
    slopes: list[float]
    examples: list[list[str]]  # article ids nearest each centre

    @property
    def shares(self) -> np.ndarray:
        totals = self.counts.sum(axis=0, keepdims=True)
        return self.counts / np.where(totals > 0, totals, 1)

    def rows(self) -> list[dict]:
        return [{"topic": i, "label": self.labels[i], "articles": self.sizes[i], "trend": self.trend[i],
                 "share slope per period": round(self.slopes[i], 4), "examples": ", ".join(self.examples[i])}
                for i in range(len(self.labels))]

    def long_rows(self) -> list[dict]:
        """One row per (topic, period): the chart data."""
        shares = self.shares
        return [{"topic": self.labels[i], "period": p, "articles": int(self.counts[i, j]),
                 "share": float(shares[i, j])} for i in range(len(self.labels)) for j, p in enumerate(self.periods)]


def topic_trends(index: NewsIndex, *, topics: int = 8, period: str = "year", recent_periods: int = 3,
                 start: dt.date | None = None, end: dt.date | None = None, seed: int = 0) -> TopicTrends:
    """Cluster the index's articles in ``[start, end]`` into ``topics`` topics and follow them
    over ``period``s (see the module docstring)."""
    from sklearn.cluster import KMeans  # deliberate: sklearn only when trends are computed

    rows = [i for i, a in enumerate(index.articles)
            if (start is None or a.day >= start) and (end is None or a.day <= end)]
    if len(rows) < topics:
        raise ValueError(f"{len(rows)} articles in the period, fewer than the {topics} topics asked for")
    vectors = index.vectors[rows]
    model = KMeans(n_clusters=topics, n_init=4, random_state=seed).fit(vectors)
    assignment = model.labels_
    periods = sorted({period_of(index.articles[r].day, period) for r in rows})
    column = {p: j for j, p in enumerate(periods)}
    counts = np.zeros((topics, len(periods)), dtype=np.int64)
    for r, topic in zip(rows, assignment):
        counts[topic, column[period_of(index.articles[r].day, period)]] += 1
    texts = [[index.articles[r].body for r, t in zip(rows, assignment) if t == c] for c in range(topics)]
    labels = [" / ".join(w for w, _ in words) for words in ctfidf_labels(texts)]
    examples = []
    for c in range(topics):
        members = np.flatnonzero(assignment == c)
        nearest = members[np.argsort(-(vectors[members] @ model.cluster_centers_[c]))[:3]]
        examples.append([index.articles[rows[i]].id for i in nearest])
    result = TopicTrends(periods, labels, counts, [int((assignment == c).sum()) for c in range(topics)], [], [],
                         examples)
    shares = result.shares
    recent = min(recent_periods, len(periods))
    for c in range(topics):
        tail = shares[c, -recent:]
        slope = float(np.polyfit(np.arange(recent), tail, 1)[0]) if recent >= 2 else 0.0
        before = shares[c, :-recent]
        earlier_mean = float(before.mean()) if before.size else float(tail.mean())
        if slope > 0 and tail.mean() > earlier_mean:
            trend = "emerging"
        elif slope < 0 and tail.mean() < earlier_mean:
            trend = "declining"
        else:
            trend = "steady"
        result.slopes.append(slope)
        result.trend.append(trend)
    return result
