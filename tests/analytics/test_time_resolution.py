"""Temporal expressions resolved against --as-of: every hand-written period rule, by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from reliant.analytics.time_resolution import resolve_time

AS_OF = dt.date(2009, 5, 13)  # a Wednesday in Q2 2009
D = dt.date


@pytest.mark.parametrize("question, start, end", [
    ("What did Ford report last year?", D(2008, 1, 1), D(2008, 12, 31)),
    ("sales this year", D(2009, 1, 1), AS_OF),
    ("What happened last month?", D(2009, 4, 1), D(2009, 4, 30)),
    ("results last quarter", D(2009, 1, 1), D(2009, 3, 31)),
    ("news last week", D(2009, 5, 4), D(2009, 5, 10)),
    ("what happened yesterday", D(2009, 5, 12), D(2009, 5, 12)),
    ("prices in the past 3 months", D(2009, 2, 13), AS_OF),
    ("sales two years ago", D(2007, 1, 1), D(2007, 12, 31)),
    ("Oil prices in Q3 2008", D(2008, 7, 1), D(2008, 9, 30)),
    ("GM in the third quarter of 2008", D(2008, 7, 1), D(2008, 9, 30)),
    ("the first half of 2008", D(2008, 1, 1), D(2008, 6, 30)),
    ("late 2008 crisis", D(2008, 9, 1), D(2008, 12, 31)),
    ("What did the Fed do in March 2008?", D(2008, 3, 1), D(2008, 3, 31)),
    ("news on 15 September 2008", D(2008, 9, 15), D(2008, 9, 15)),
    ("Lehman on September 15, 2008", D(2008, 9, 15), D(2008, 9, 15)),
    ("What did GM say in 2008?", D(2008, 1, 1), D(2008, 12, 31)),
    ("what happened in the 1990s", D(1990, 1, 1), D(1999, 12, 31)),
    ("layoffs since 2008", D(2008, 1, 1), AS_OF),
    ("GM before 2008", None, D(2007, 12, 31)),
    ("GM until 2007", None, D(2007, 12, 31)),
    ("GM after 2007", D(2008, 1, 1), AS_OF),
    ("bank failures between 2006 and 2007", D(2006, 1, 1), D(2007, 12, 31)),
    ("from Q1 2008 to Q2 2008", D(2008, 1, 1), D(2008, 6, 30)),
])
def test_windows(question, start, end):
    window = resolve_time(question, AS_OF).window
    assert window is not None, question
    assert (window.start, window.end) == (start, end)


def test_relative_periods_follow_the_reference_date_across_a_year_boundary():
    jan = dt.date(2010, 1, 20)
    assert resolve_time("last month", jan).window.start == dt.date(2009, 12, 1)
    assert resolve_time("last quarter", jan).window.end == dt.date(2009, 12, 31)
    assert resolve_time("last year", jan).window.start == dt.date(2009, 1, 1)


def test_nothing_after_as_of_and_a_future_period_is_empty():
    window = resolve_time("layoffs since 2010", AS_OF).window
    assert window.end == AS_OF and window.start > window.end
    assert resolve_time("in 2012", AS_OF).window.end == AS_OF


def test_recency_anchor_and_plain_questions():
    intent = resolve_time("Who leads Apple currently?", AS_OF)
    assert intent.prefer_recent and intent.window is None
    anchor = resolve_time("What did Delta do before the merger with Northwest?", AS_OF).anchor
    assert anchor.relation == "before" and anchor.event == "merger with northwest"
    plain = resolve_time("Who makes the iPhone?", AS_OF)
    assert plain.window is None and plain.anchor is None and not plain.prefer_recent


def test_topic_drops_the_temporal_words():
    assert resolve_time("Oil prices in Q3 2008", AS_OF).topic == "oil prices"


def test_default_reference_date_is_today():
    assert resolve_time("anything").as_of == dt.date.today()
