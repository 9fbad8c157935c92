"""Build the analytics evaluation set: time-sensitive questions with gold article ids and periods.

From the shipped Wikinews corpus: names that recur in the titles of several articles spread
over time (companies, institutions, countries) become questions about one period, each asked
from a reference date after it:

* ``month``   - "What was reported about {name} in {Month YYYY}?" (as of 1-24 months later);
* ``quarter`` - "What was reported about {name} in Q{q} {YYYY}?";
* ``last_year`` - "What happened with {name} last year?" asked during the following year.

Gold: every article of the period whose title names it. Because the same name appears in
other periods too, a retriever that ignores time finds the right topic but often the wrong
dates: that is the claim under test.

    .venv/bin/python benchmarks/bench_analytics_evalset.py --per-kind 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
from collections import defaultdict
from pathlib import Path

from reliant.analytics.inputs import load_articles
from reliant.analytics.workflows import SHIPPED_CORPUS

OUT = Path(__file__).resolve().parent / "results" / "analytics" / "evalset.jsonl"
GENERIC = {"The", "A", "An", "New", "US", "UK", "U.S.", "Wikinews", "World", "In", "On", "For", "To", "Of", "And",
           "After", "Over", "With", "As", "At", "By", "From", "Up", "Down", "Report", "Government", "Stock", "Stocks",
           "Company", "Market", "Markets", "Bank", "Interview", "Prices", "Price", "Economy", "Oil", "Shares", "Says",
           "Record", "President", "Minister", "Prime", "January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December", "First", "CEO", "British", "Chinese",
           "American", "European", "Australian", "Canadian", "Japanese", "Indian", "German", "French", "Two",
           "Three", "Former", "Top", "Chief", "Workers", "State", "National", "International", "Global",
           "Financial", "Britain", "China", "Europe", "India", "Japan", "Australia", "Canada", "America"}


def names_in(title: str) -> set[str]:
    words = re.findall(r"[A-Z][A-Za-z&.'-]+", title)
    names = {w for w in words if w not in GENERIC and len(w) > 2}
    names |= {f"{a} {b}" for a, b in zip(words, words[1:]) if a not in GENERIC and b not in GENERIC}
    return names


def build(per_kind: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    articles = load_articles(SHIPPED_CORPUS)
    by_name: dict[str, list] = defaultdict(list)
    for a in articles:
        for name in names_in(a.title):
            by_name[name].append(a)
    recurring = {n: arts for n, arts in by_name.items()
                 if 4 <= len(arts) <= 60 and len({(a.day.year, a.day.month) for a in arts}) >= 3}
    # a two-word name wins over its own first word when they cover the same articles
    names = sorted(n for n in recurring if not any(n != m and n in m.split() and
                                                    len(recurring[m]) == len(recurring[n]) for m in recurring))
    questions: list[dict] = []
    periods = {
        "month": lambda d: (dt.date(d.year, d.month, 1), (dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
                                                          - dt.timedelta(days=1)), d.strftime("%B %Y")),
        "quarter": lambda d: (dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1),
                              (dt.date(d.year + (3 * ((d.month - 1) // 3) + 4) // 13,
                                       (3 * ((d.month - 1) // 3) + 3) % 12 + 1, 1) - dt.timedelta(days=1)),
                              f"Q{(d.month - 1) // 3 + 1} {d.year}"),
        "last_year": lambda d: (dt.date(d.year, 1, 1), dt.date(d.year, 12, 31), "last year"),
    }
    for kind, period in periods.items():
        pool = [(n, a) for n in names for a in recurring[n]]
        rng.shuffle(pool)
        seen: set[tuple] = set()
        for name, article in pool:
            start, end, label = period(article.day)
            key = (name, start)
            if key in seen:
                continue
            gold = [a for a in recurring[name] if start <= a.day <= end]
            others = [a for a in recurring[name] if not start <= a.day <= end]
            if not others or len(gold) > 8:
                continue  # only questions where time matters: the name appears outside the period too
            seen.add(key)
            if kind == "last_year":
                as_of = dt.date(end.year + 1, rng.randint(1, 12), rng.randint(1, 28))
                text = f"What happened with {name} last year?"
            else:
                as_of = end + dt.timedelta(days=rng.randint(30, 730))
                text = f"What was reported about {name} in {label}?"
            questions.append({"question": text, "as_of": as_of.isoformat(), "gold_ids": [a.id for a in gold],
                              "gold_start": start.isoformat(), "gold_end": end.isoformat(), "kind": kind})
            if sum(q["kind"] == kind for q in questions) == per_kind:
                break
    return questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    questions = build(args.per_kind, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    print(f"{len(questions)} questions -> {args.out}")


if __name__ == "__main__":
    main()
