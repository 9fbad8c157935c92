"""`--store qdrant --store-url`: the same client calls against a Qdrant server (a REST stand-in here)."""

from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np

from reliant.analytics.index import open_index
from reliant.analytics.stores import make_store
from tests.analytics.qdrant_stub import QdrantStub
from tests.cli_runner import run_main

KEY = "not-a-real-key-7f3a"


def test_a_server_store_ranks_like_brute_force_and_keeps_its_points(news_index):
    days = [a.day for a in news_index.articles]
    exact = make_store("exact", news_index.vectors, days)
    query = news_index.embed_query("oil prices and airlines")
    with QdrantStub() as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "API key over http": true of a test server
        server.required_key = KEY
        store = make_store("qdrant", news_index.vectors, days, url=server.url, api_key=KEY, collection="c", batch=20)
        uploads = [r for r in server.requests if r[:2] == ("PUT", "/collections/c/points")]
        assert len(uploads) == 3  # 48 points in batches of 20
        for window in [(None, None), (dt.date(2008, 7, 1), dt.date(2008, 7, 31))]:
            q_rows, q_sims = store.search(query, 10, *window)
            e_rows, e_sims = exact.search(query, 10, *window)
            assert list(q_rows) == list(e_rows)
            np.testing.assert_allclose(q_sims, e_sims, atol=1e-5)
        assert {key for _, _, key in server.requests} == {KEY}
        before = len(server.requests)
        make_store("qdrant", news_index.vectors, days, url=server.url, api_key=KEY, collection="c")
        assert [r[:2] for r in server.requests[before:]] == [("GET", "/collections/c/exists"),
                                                             ("POST", "/collections/c/points/count")]
        # a collection with another point count (an interrupted upload) is dropped and filled again
        server.collections["c"]["ids"].pop()
        make_store("qdrant", news_index.vectors, days, url=server.url, api_key=KEY, collection="c")
        assert len(server.collections["c"]["ids"]) == len(days)


def test_the_collection_is_named_after_the_index_content(index_dir):
    first = open_index(index_dir, store="qdrant", store_url="http://127.0.0.1:1")
    same = open_index(index_dir, store="qdrant", store_url="http://127.0.0.1:1")
    from reliant.analytics.stores import collection_name

    name = collection_name(first.meta["embedder"], [a.id for a in first.articles], first.content_hashes)
    assert name == collection_name(same.meta["embedder"], [a.id for a in same.articles], same.content_hashes)
    assert name != collection_name(first.meta["embedder"], [a.id for a in first.articles][::-1],
                                   first.content_hashes)


def test_ask_against_a_server_reads_the_key_from_the_environment(index_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MY_QDRANT_KEY", KEY)
    with QdrantStub() as server:
        server.required_key = KEY
        code = run_main(["analytics", "ask", "--index", index_dir, "--question",
                         "What happened with the iPhone 3G in July 2008?", "--as-of", "2008-12-31",
                         "--store", "qdrant", "--store-url", server.url, "--store-api-key-env", "MY_QDRANT_KEY",
                         "--retriever", "dense", "--k", "3", "--max-sentences", "1", "--out", tmp_path / "ask"])
        assert code == 0, capsys.readouterr().err
        queries = [r for r in server.requests if r[1].endswith("/points/query")]
        assert len(queries) >= 2  # the time-aware answer and the baseline both searched the server
        assert all(key == KEY for _, _, key in server.requests)
    answer = json.loads((tmp_path / "ask" / "answer.json").read_text())
    assert answer["parts"][0]["sources"][0]["date"].startswith("2008-07")
    for written in (tmp_path / "ask").iterdir():
        assert KEY not in written.read_text(errors="replace"), written.name
    assert "MY_QDRANT_KEY" in (tmp_path / "ask" / "config.yaml").read_text()
