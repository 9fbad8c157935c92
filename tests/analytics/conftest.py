"""One small index of shipped Wikinews articles, built once per session (embedding is the slow part)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "reliant" / "analytics" / "data" / "wikinews_economy.jsonl.gz"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "falm_news"
FORTUNE = SHARED / "fortune500.csv"


def shipped_rows(first_day: str = "2008-06-01", count: int = 48) -> list[dict]:
    rows = [json.loads(line) for line in gzip.open(SHIPPED, "rt", encoding="utf-8")]
    return [r for r in rows if r["date"] >= first_day][:count]


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    """48 Wikinews articles from June to August 2008 (IndyMac, oil prices, airlines...)."""
    path = tmp_path_factory.mktemp("corpus") / "news.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in shipped_rows()), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def index_dir(corpus_file, tmp_path_factory) -> Path:
    from reliant.analytics.index import build_index
    from reliant.analytics.inputs import load_articles

    folder = tmp_path_factory.mktemp("index") / "idx"
    build_index(load_articles(corpus_file), folder)
    return folder


@pytest.fixture(scope="session")
def news_index(index_dir):
    from reliant.analytics.index import open_index

    return open_index(index_dir)
