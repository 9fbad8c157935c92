"""The index folder, incremental updates, both vector stores and time-aware retrieval on real articles."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from reliant.analytics.answer import answer_question
from reliant.analytics.config import RetrievalParams
from reliant.analytics.index import build_index, check_index_folder, open_index
from reliant.analytics.inputs import load_articles
from reliant.analytics.retrieval import retrieve
from reliant.analytics.stores import make_store
from reliant.core.errors import DataError

AS_OF = dt.date(2008, 12, 31)


def _ids(index, retrieved):
    return [index.articles[r].id for r in retrieved.rows()]


def test_time_aware_retrieval_keeps_to_the_asked_month(news_index):
    for question, month, expected in [("What happened with the iPhone 3G in July 2008?", 7, "ID109599"),
                                      ("What happened with the iPhone 3G in June 2008?", 6, "ID107785")]:
        got = retrieve(news_index, question, as_of=AS_OF)
        days = [news_index.articles[r].day for r in got.rows()]
        assert all(d.month == month and d.year == 2008 for d in days), days
        assert _ids(news_index, got)[0] == expected
    # the baseline ranks by words alone: both iPhone articles, whatever the month
    base = _ids(news_index, retrieve(news_index, "What happened with the iPhone 3G in July 2008?", time_aware=False))
    assert {"ID109599", "ID107785"} <= set(base[:3])


def test_nothing_after_as_of_and_event_anchors(news_index):
    early = retrieve(news_index, "What happened to airlines?", as_of=dt.date(2008, 6, 15))
    assert all(news_index.articles[r].day <= dt.date(2008, 6, 15) for r in early.rows())
    anchored = retrieve(news_index, "What did banks do after the IndyMac conservatorship?", as_of=AS_OF)
    assert any("ID109612" in note for note in anchored.notes)
    assert all(news_index.articles[r].day > dt.date(2008, 7, 12) for r in anchored.rows())
    future = retrieve(news_index, "oil prices since 2010", as_of=AS_OF)
    assert future.hits == [] and "after the reference date" in future.notes[0]


def test_qdrant_and_brute_force_rank_the_same(news_index):
    days = [a.day for a in news_index.articles]
    qdrant, exact = make_store("qdrant", news_index.vectors, days), make_store("exact", news_index.vectors, days)
    query = news_index.embed_query("oil prices and airlines")
    for window in [(None, None), (dt.date(2008, 7, 1), dt.date(2008, 7, 31))]:
        q_rows, q_sims = qdrant.search(query, 10, *window)
        e_rows, e_sims = exact.search(query, 10, *window)
        assert list(q_rows) == list(e_rows)
        np.testing.assert_allclose(q_sims, e_sims, atol=1e-5)


def test_answers_cite_every_sentence_with_id_and_date(news_index):
    answer = answer_question(news_index, "What happened to IndyMac Bank in July 2008?", as_of=AS_OF)
    sentences = answer.parts[0].sentences
    assert sentences and all(s.citations for s in sentences)
    assert sentences[0].citations[0].article_id == "ID109612" or "ID109612" in [c.article_id for c in answer.citations()]
    assert all(c.supported for c in answer.citations())  # extractive: verbatim sentences
    assert "[ID109612, 2008-07-12]" in answer.text()
    two = answer_question(news_index, "How did oil prices change between June 2008 and July 2008?", as_of=AS_OF)
    assert [p.retrieved.window.start.month for p in two.parts] == [6, 7]


def test_incremental_update_embeds_only_new_and_changed(corpus_file, tmp_path):
    articles = load_articles(corpus_file)[:6]
    folder = tmp_path / "idx"
    first = build_index(articles[:4], folder)
    assert (first.added, first.embedded) == (4, 4)
    vectors_before = np.load(folder / "vectors.npy")
    changed = [articles[0].__class__(articles[0].id, articles[0].day, articles[0].title, "A new text entirely.")]
    second = build_index(changed + articles[1:6], folder)
    assert (second.added, second.changed, second.unchanged, second.embedded) == (2, 1, 3, 3)
    after = open_index(folder)
    assert len(after.articles) == 6 and after.articles[0].text == "A new text entirely."
    np.testing.assert_array_equal(after.vectors[1:4], vectors_before[1:4])
    assert not np.allclose(after.vectors[0], vectors_before[0])


def test_index_folders_of_another_version_or_kind_are_refused(index_dir, tmp_path):
    other = tmp_path / "old"
    other.mkdir()
    for name in ("articles.jsonl", "vectors.npy"):
        (other / name).write_bytes((index_dir / name).read_bytes())
    meta = json.loads((index_dir / "index.json").read_text())
    (other / "index.json").write_text(json.dumps({**meta, "version": 0}))
    with pytest.raises(DataError, match="version 0"):
        check_index_folder(other)
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="not an analytics index"):
        check_index_folder(tmp_path / "plain", for_writing=True)


def test_retriever_modes(news_index):
    q = "Dow Chemical buys Rohm and Haas"
    for mode in ("hybrid", "lexical", "dense"):
        assert _ids(news_index, retrieve(news_index, q, as_of=AS_OF,
                                         params=RetrievalParams(retriever=mode)))[0] == "ID109571"
