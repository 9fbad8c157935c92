"""Temporal expressions in a question, resolved against a reference date (``--as-of``).

FALM's first ability is time-aware reasoning: "accurate event registration by date and priority
to recent updates" (arXiv 2406.06559, Sec. 3). Here that is a :class:`TimeIntent`: the date
window(s) a question is about, whether it asks for the newest state of things ("latest",
"currently") and an event anchor ("before the merger") that retrieval resolves to a date.

dateparser reads explicit dates ("15 September 2008", "Sept. 15, 2008"); the calendar periods
it does not resolve into windows are hand-written here, each relative to ``as_of``:

* relative periods: "last year" (the previous calendar year), "this year" (1 January to
  ``as_of``), "last/this quarter|month|week", "yesterday", "today", "in the past 3 months",
  "two years ago" (that calendar year);
* named periods: "in 2008", "in Q3 2008" / "the third quarter of 2008", "the first half of
  2009", "early/mid/late 2010", "in March 2008", "the 1990s";
* open and closed ranges: "since 2010" ([2010-01-01, as_of]), "before 2010" (up to
  2009-12-31), "after 2010", "until 2010" (up to 2010-12-31), "between 2008 and 2010",
  "from Q1 2008 to Q2 2009";
* event anchors: "before/after/since the merger" -> :class:`EventAnchor`, dated by retrieval.

Nothing is published after ``as_of`` as far as the question is concerned: every window is
clipped to it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

__all__ = ["EventAnchor", "TimeIntent", "TimeWindow", "parse_as_of", "resolve_time"]

_MONTHS = {name: i for i, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
     ("november", "nov"), ("december", "dec")], start=1) for name in names}
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|" \
         r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_ORDINAL_QUARTER = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
                    "last": 4, "final": 4}
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "several": 3, "few": 3}
_RECENCY = re.compile(r"\b(latest|most recent(?:ly)?|recent(?:ly)?|newest|current(?:ly)?|now|nowadays|"
                      r"these days|today's|so far|to date|still|up to date|as of)\b")

# One named period: "Q3 2008", "the third quarter of 2008", "first half of 2009", "late 2010",
# "March 2008", "15 September 2008", "September 15, 2008", "2008-09-15", "2008", "the 1990s".
_EXPLICIT_DAY = (rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s*,?\s*{_YEAR}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\s*,\s*{_YEAR}"
                 rf"|{_YEAR}-\d{{2}}-\d{{2}}")
_PERIOD = (
    rf"(?:q[1-4]\s*,?\s*{_YEAR}|(?:the\s+)?(?:first|second|third|fourth|1st|2nd|3rd|4th|last|final)\s+quarter\s+(?:of\s+)?{_YEAR}"
    rf"|(?:the\s+)?(?:first|second)\s+half\s+(?:of\s+)?{_YEAR}|h[12]\s+{_YEAR}"
    rf"|(?:early|mid|late)[\s-]+{_YEAR}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s*,?\s*{_YEAR}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\s*,\s*{_YEAR}"
    rf"|{_YEAR}-\d{{2}}-\d{{2}}|{_MONTH}\s+(?:of\s+)?{_YEAR}"
    rf"|(?:the\s+)?(?:1[89]|20)\d0'?s|{_YEAR})"
)


@dataclass(frozen=True)
class TimeWindow:
    """Days from ``start`` to ``end``, both included; None is open-ended."""

    start: dt.date | None
    end: dt.date | None
    expression: str = ""

    def contains(self, day: dt.date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def clipped(self, as_of: dt.date) -> TimeWindow:
        end = as_of if self.end is None or self.end > as_of else self.end
        return replace(self, end=end)

    def label(self) -> str:
        start = self.start.isoformat() if self.start else "…"
        return f"{start} to {self.end.isoformat() if self.end else '…'}"


@dataclass(frozen=True)
class EventAnchor:
    """"before/after/since <event>": the event is dated by retrieval, then becomes a window."""

    relation: str  # "before", "after" or "since"
    event: str


@dataclass(frozen=True)
class TimeIntent:
    """What a question says about time, relative to ``as_of``."""

    as_of: dt.date
    window: TimeWindow | None = None
    prefer_recent: bool = False
    anchor: EventAnchor | None = None
    expressions: tuple[str, ...] = field(default_factory=tuple)
    topic: str = ""  # the question with its temporal expressions removed (what retrieval searches)

    def describe(self) -> str:
        parts = [f"as of {self.as_of.isoformat()}"]
        if self.window is not None:
            parts.append(f"window {self.window.label()} ('{self.window.expression}')")
        if self.anchor is not None:
            parts.append(f"{self.anchor.relation} the event '{self.anchor.event}'")
        if self.prefer_recent:
            parts.append("newest sources first")
        return "; ".join(parts)


def parse_as_of(value: str | dt.date | None) -> dt.date:
    """``--as-of``: an ISO day, or None for today."""
    if value is None or value == "":
        return dt.date.today()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


# --------------------------------------------------------------------------- calendar arithmetic


def _month_end(year: int, month: int) -> dt.date:
    return (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1))


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, _month_end(year, month + 1).day))


def _quarter(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    first = 3 * (quarter - 1) + 1
    return dt.date(year, first, 1), _month_end(year, first + 2)


def _year(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _explicit_day(text: str) -> dt.date | None:
    import dateparser  # deliberate: a second of import time, only when a question names a day

    parsed = dateparser.parse(text, languages=["en"], settings={"STRICT_PARSING": True, "PREFER_DAY_OF_MONTH": "first"})
    return parsed.date() if parsed is not None else None


def period_bounds(text: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day of one named period (see ``_PERIOD``), or None."""
    t = " ".join(text.lower().replace(",", " , ").split()).replace(" ,", ",")
    if m := re.fullmatch(rf"q([1-4])\s*,?\s*({_YEAR})", t):
        return _quarter(int(m[2]), int(m[1]))
    if m := re.fullmatch(rf"(?:the\s+)?(\w+)\s+quarter\s+(?:of\s+)?({_YEAR})", t):
        return _quarter(int(m[2]), _ORDINAL_QUARTER[m[1]]) if m[1] in _ORDINAL_QUARTER else None
    if m := re.fullmatch(rf"(?:the\s+)?(first|second)\s+half\s+(?:of\s+)?({_YEAR})", t) or \
            re.fullmatch(rf"h([12])\s+({_YEAR})", t):
        half, year = (1 if m[1] in ("first", "1") else 2), int(m[2])
        return (dt.date(year, 1, 1), dt.date(year, 6, 30)) if half == 1 else (dt.date(year, 7, 1), dt.date(year, 12, 31))
    if m := re.fullmatch(rf"(early|mid|late)[\s-]+({_YEAR})", t):
        year, part = int(m[2]), m[1]
        months = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}[part]
        return dt.date(year, months[0], 1), _month_end(year, months[1])
    if re.fullmatch(_EXPLICIT_DAY, t):
        day = _explicit_day(text)
        return (day, day) if day is not None else None
    if m := re.fullmatch(rf"({_MONTH})\s+(?:of\s+)?({_YEAR})", t):
        month = _MONTHS[m[1].rstrip(".")]
        year = int(m[2])
        return dt.date(year, month, 1), _month_end(year, month)
    if m := re.fullmatch(r"(?:the\s+)?((?:1[89]|20)\d0)'?s", t):
        decade = int(m[1])
        return dt.date(decade, 1, 1), dt.date(decade + 9, 12, 31)
    if re.fullmatch(_YEAR, t):
        return _year(int(t))
    return None


def _relative(text: str, as_of: dt.date) -> tuple[dt.date, dt.date] | None:
    """The periods named relative to ``as_of``."""
    t = text.lower()
    y = as_of.year
    quarter_now = (as_of.month - 1) // 3 + 1
    if t in ("last year", "previous year", "the previous year"):
        return _year(y - 1)
    if t == "this year":
        return dt.date(y, 1, 1), as_of
    if t in ("last month", "previous month", "the previous month"):
        first = _add_months(as_of.replace(day=1), -1)
        return first, _month_end(first.year, first.month)
    if t == "this month":
        return as_of.replace(day=1), as_of
    if t in ("last quarter", "previous quarter", "the previous quarter"):
        year, quarter = (y, quarter_now - 1) if quarter_now > 1 else (y - 1, 4)
        return _quarter(year, quarter)
    if t == "this quarter":
        return _quarter(y, quarter_now)[0], as_of
    if t in ("last week", "previous week"):
        monday = as_of - dt.timedelta(days=as_of.weekday() + 7)
        return monday, monday + dt.timedelta(days=6)
    if t == "this week":
        return as_of - dt.timedelta(days=as_of.weekday()), as_of
    if t == "yesterday":
        day = as_of - dt.timedelta(days=1)
        return day, day
    if t == "today":
        return as_of, as_of
    if m := re.fullmatch(r"(?:in |during |over )?(?:the )?(?:past|last|previous) (\d+|\w+) (day|week|month|year)s?", t):
        n = _number(m[1])
        unit = m[2]
        start = (as_of - dt.timedelta(days=n * (7 if unit == "week" else 1)) if unit in ("day", "week")
                 else _add_months(as_of, -n * (12 if unit == "year" else 1)))
        return start, as_of
    if m := re.fullmatch(r"(\d+|\w+) (day|week|month|year)s? ago", t):
        n = _number(m[1])
        if m[2] == "year":
            return _year(y - n)
        if m[2] == "month":
            first = _add_months(as_of.replace(day=1), -n)
            return first, _month_end(first.year, first.month)
        day = as_of - dt.timedelta(days=n * (7 if m[2] == "week" else 1))
        return (day - dt.timedelta(days=day.weekday()), day - dt.timedelta(days=day.weekday()) + dt.timedelta(days=6)) \
            if m[2] == "week" else (day, day)
    return None


_NUMBER = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|several|few)"
_RELATIVE = (r"(?:last|previous|this) (?:year|month|quarter|week)|the previous (?:year|month|quarter)|yesterday|today"
             rf"|(?:in |during |over )?(?:the )?(?:past|last|previous) {_NUMBER} (?:day|week|month|year)s?"
             rf"|{_NUMBER} (?:day|week|month|year)s? ago")
TIME_EXPRESSION = rf"(?:{_RELATIVE}|{_PERIOD})"

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("between", re.compile(rf"\b(?:between|from)\s+({TIME_EXPRESSION})\s+(?:and|to|until|through|till)\s+({TIME_EXPRESSION})\b")),
    ("since", re.compile(rf"\b(?:since|starting in|starting from|from)\s+({TIME_EXPRESSION})\b")),
    ("before", re.compile(rf"\b(?:before|prior to|earlier than)\s+({TIME_EXPRESSION})\b")),
    ("until", re.compile(rf"\b(?:until|till|up to|through|by the end of|by)\s+({TIME_EXPRESSION})\b")),
    ("after", re.compile(rf"\b(?:after|later than)\s+({TIME_EXPRESSION})\b")),
    ("anchor", re.compile(r"\b(before|after|since|following|prior to)\s+(the\s+[a-z][\w\s'-]*?)(?=[?.,;!]|$)")),
    ("in", re.compile(rf"\b(?:(?:in|during|over|on|for|at)\s+)?(?:the\s+)?({TIME_EXPRESSION})\b")),
]


def _bounds(expression: str, as_of: dt.date) -> tuple[dt.date, dt.date] | None:
    return _relative(expression, as_of) or period_bounds(expression)


def resolve_time(question: str, as_of: dt.date | str | None = None) -> TimeIntent:
    """The :class:`TimeIntent` of ``question`` relative to ``as_of`` (default: today).

    >>> import datetime as dt
    >>> resolve_time("What did Ford report last year?", dt.date(2009, 5, 1)).window.label()
    '2008-01-01 to 2008-12-31'
    >>> resolve_time("Oil prices in Q3 2008", dt.date(2012, 1, 1)).window.label()
    '2008-07-01 to 2008-09-30'
    >>> resolve_time("Layoffs since 2010", dt.date(2012, 6, 30)).window.label()
    '2010-01-01 to 2012-06-30'
    """
    as_of = parse_as_of(as_of)
    lowered = " ".join(question.lower().split())
    prefer_recent = bool(_RECENCY.search(lowered))
    for kind, pattern in _RULES:
        for match in pattern.finditer(lowered):
            intent = _intent(kind, match, lowered, as_of, prefer_recent)
            if intent is not None:
                return intent
    return TimeIntent(as_of, None, prefer_recent, None, (), lowered)


def _intent(kind: str, match: re.Match[str], lowered: str, as_of: dt.date, prefer_recent: bool) -> TimeIntent | None:
    """The intent one rule's match means, or None when its period does not resolve."""
    topic = " ".join((lowered[: match.start()] + " " + lowered[match.end():]).split())
    if kind == "anchor":
        relation = {"following": "after", "prior to": "before"}.get(match[1], match[1])
        event = re.sub(r"^the\s+", "", match[2].strip())
        return TimeIntent(as_of, None, prefer_recent, EventAnchor(relation, event), (match[0],), topic)
    if kind == "between":
        first, last = _bounds(match[1], as_of), _bounds(match[2], as_of)
        if first is None or last is None:
            return None
        window = TimeWindow(min(first[0], last[0]), max(first[1], last[1]), match[0])
    else:
        bounds = _bounds(match[1], as_of)
        if bounds is None:
            return None
        start, end = bounds
        window = {
            "since": TimeWindow(start, None, match[0]),
            "before": TimeWindow(None, start - dt.timedelta(days=1), match[0]),
            "until": TimeWindow(None, end, match[0]),
            "after": TimeWindow(end + dt.timedelta(days=1), None, match[0]),
            "in": TimeWindow(start, end, match[0]),
        }[kind]
    return TimeIntent(as_of, window.clipped(as_of), prefer_recent, None, (match[0],), topic)


def anchored_window(anchor: EventAnchor, event_day: dt.date, as_of: dt.date) -> TimeWindow:
    """The window an event anchor means once retrieval has dated the event."""
    expression = f"{anchor.relation} the {anchor.event} ({event_day.isoformat()})"
    if anchor.relation == "before":
        return TimeWindow(None, event_day - dt.timedelta(days=1), expression).clipped(as_of)
    return TimeWindow(event_day if anchor.relation == "since" else event_day + dt.timedelta(days=1), None,
                      expression).clipped(as_of)
