"""Dated articles: the one loader every analytics command reads a corpus with.

A corpus is a jsonl/json/csv/parquet file (optionally gzipped) of records with ``id``,
``date``, ``title`` and ``text`` (``source`` and ``url`` optional). Dates are ISO 8601: a day
(``2008-09-15``) or a date-time (``1987-02-26T15:01:01.790``); the day is what the time
filters use. An article without a date, with a date that is not ISO 8601, with neither title
nor text, or an id used twice is a one-line :class:`~reliant.core.errors.DataError` naming its
file, line and field, raised before any model loads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from reliant.core.data import Field, Schema, load_records
from reliant.core.errors import DataError

__all__ = ["Article", "load_articles", "parse_article_date"]

ARTICLE_SCHEMA = Schema([
    Field("id", "any"),
    Field("date", "any"),
    Field("title", "str", required=False, default="", non_empty=False),
    Field("text", "str", required=False, default="", non_empty=False),
    Field("source", "str", required=False, default="", non_empty=False),
    Field("url", "str", required=False, default="", non_empty=False),
])

DENSE_WORDS = 96
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Article:
    """One dated article; ``day`` is the publication day the time filters compare."""

    id: str
    day: dt.date
    title: str
    text: str
    source: str = ""
    url: str = ""

    @property
    def body(self) -> str:
        """What retrieval reads: title and text."""
        return f"{self.title}. {self.text}".strip(". ") if self.title else self.text

    @property
    def dense_text(self) -> str:
        """What the MiniLM vector encodes: the title and the lead (the first
        :data:`DENSE_WORDS` words). all-MiniLM-L6-v2 was trained on 128-token inputs, so the
        rest of a long article would mostly be cut anyway, and news leads carry the facts."""
        words = self.text.split()
        lead = " ".join(words[:DENSE_WORDS])
        return f"{self.title}. {lead}".strip(". ") if self.title else lead

    @property
    def content_hash(self) -> str:
        """Changes when anything retrieval or display shows changes (incremental updates use it)."""
        payload = "\x1f".join((self.day.isoformat(), self.title, self.text, self.source, self.url))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_json(self) -> dict:
        row = asdict(self)
        row["date"] = row.pop("day").isoformat()
        return row


def parse_article_date(value: object) -> dt.date:
    """An ISO 8601 day or date-time -> its day; ValueError otherwise (no guessing of
    ``03/04/2008``, which means different days in different countries)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not _ISO_DAY.match(text):
        raise ValueError(f"date {text!r} is not ISO 8601 (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)")
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date() if len(text) > 10 else dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date {text!r} is not a valid ISO 8601 date") from None


def load_articles(path: str | Path, *, limit: int | None = None) -> list[Article]:
    """Read and check a corpus file (see the module docstring); records in file order."""
    records = load_records(path, schema=ARTICLE_SCHEMA, limit=limit)
    articles: list[Article] = []
    seen: dict[str, str] = {}
    for record in records:
        raw_id = record["id"]
        if isinstance(raw_id, (dict, list)) or str(raw_id).strip() == "":
            raise record.error("must be a non-empty string or number", field="id")
        article_id = str(raw_id).strip()
        if article_id in seen:
            raise record.error(f"id {article_id!r} is used twice (first at {seen[article_id]})", field="id")
        seen[article_id] = record.where
        try:
            day = parse_article_date(record["date"])
        except ValueError as exc:
            raise record.error(str(exc), field="date") from None
        title, text = record["title"].strip(), record["text"].strip()
        if not title and not text:
            raise record.error("has neither a title nor a text", field="text")
        articles.append(Article(article_id, day, title, text, record["source"].strip(), record["url"].strip()))
    if not articles:  # load_records already refuses an empty file; a limit of 0 cannot reach here
        raise DataError("contains no articles", file=path)
    return articles
