"""Analytics benchmark: index build (articles/s) and query latency p50/p95 on Reuters-21578.

Reuters-21578 (research use only: benchmarks, never the package), ``--n`` newswires. Measured
in one run:

* build: MiniLM embedding throughput on ``--embed-sample`` articles (the slow part of
  ``reliant analytics index``), BM25 (bm25s) index build over all ``--n``, and loading all
  vectors into Qdrant's local mode;
* query: hybrid retrieval (BM25 + dense + RRF, a date window on half of the queries) with the
  ``qdrant`` store against the ``exact`` brute-force store on the same vectors, p50/p95 over
  ``--queries`` Reuters titles; the two must return the same dense ranking.

With ``--vectors random`` (the default on a CPU) the ``--n`` vectors are random unit vectors:
search time depends on their number and dimension, not their values, and embedding 20k
articles takes far longer than "minutes" on 2 shared cores. ``--vectors minilm --device cuda``
embeds them all.

    .venv/bin/python benchmarks/bench_analytics.py --n 20000 --queries 50
    .venv/bin/python benchmarks/bench_analytics.py --n 21578 --vectors minilm --device cuda
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import time
from pathlib import Path

import numpy as np

REUTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "falm_news" / "reuters21578.jsonl.gz"
OUT = Path(__file__).resolve().parent / "results" / "analytics_bench"


def load_reuters(n: int):
    from reliant.analytics.inputs import Article, parse_article_date

    articles = []
    for line in gzip.open(REUTERS, "rt", encoding="utf-8"):
        row = json.loads(line)
        title, text = (row.get("title") or "").strip(), (row.get("text") or "").strip()
        if title or text:
            articles.append(Article(str(row["id"]), parse_article_date(row["date"]), title, text))
        if len(articles) == n:
            break
    return articles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--embed-sample", type=int, default=200)
    parser.add_argument("--vectors", choices=("random", "minilm"), default="random")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from reliant.analytics.config import RetrievalParams
    from reliant.analytics.index import NewsIndex
    from reliant.analytics.retrieval import retrieve
    from reliant.core.embeddings import embed

    articles = load_reuters(args.n)
    rng = np.random.default_rng(args.seed)
    sample = [articles[i].dense_text for i in rng.choice(len(articles), args.embed_sample, replace=False)]
    embed(sample[:8], device=args.device, show_progress=False)  # load the model outside the timing
    started = time.perf_counter()
    embed(sample, device=args.device, show_progress=False)
    embed_rate = args.embed_sample / (time.perf_counter() - started)
    if args.vectors == "minilm":
        vectors = embed([a.dense_text for a in articles], device=args.device)
    else:
        vectors = rng.standard_normal((len(articles), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    meta = {"embedder": "all-MiniLM-L6-v2", "articles": len(articles)}
    results = {"n": len(articles), "vectors": args.vectors, "device": args.device,
               "embed_articles_per_s": embed_rate, "embed_sample": args.embed_sample}
    indexes = {}
    for store in ("qdrant", "exact"):
        index = NewsIndex(Path("."), meta, articles, vectors, store)
        started = time.perf_counter()
        index.store
        results[f"{store}_load_s"] = time.perf_counter() - started
        indexes[store] = index
    started = time.perf_counter()
    indexes["qdrant"].bm25
    results["bm25_build_s"] = time.perf_counter() - started
    results["bm25_articles_per_s"] = len(articles) / results["bm25_build_s"]
    indexes["exact"]._bm25 = indexes["qdrant"]._bm25  # the same lexical index: only the dense store differs

    picks = rng.choice(len(articles), args.queries, replace=False)
    queries = [articles[i].title.title() or articles[i].text[:80] for i in picks]
    windows = [" in March 1987" if i % 2 else "" for i in range(args.queries)]
    query_vectors = embed([q for q in queries], device=args.device, show_progress=False)
    for index in indexes.values():  # the query embedding is timed apart: both stores pay it alike
        lookup = {q + w: v for q, w, v in zip(queries, windows, query_vectors)}
        lookup.update({q: v for q, v in zip(queries, query_vectors)})
        index.embed_query = lambda text, lookup=lookup: lookup.get(text, query_vectors[0])
    params = RetrievalParams(k=10)
    latencies: dict[str, list[float]] = {"qdrant": [], "exact": []}
    agree = 0
    for q, w in zip(queries, windows):
        rows = {}
        for store, index in indexes.items():
            started = time.perf_counter()
            got = retrieve(index, q + w, as_of=dt.date(1987, 12, 31), params=params)
            latencies[store].append(time.perf_counter() - started)
            rows[store] = got.rows()
        agree += rows["qdrant"] == rows["exact"]
    started = time.perf_counter()
    embed(queries, device=args.device, show_progress=False)
    results["query_embed_ms"] = 1000 * (time.perf_counter() - started) / len(queries)
    for store, values in latencies.items():
        results[f"{store}_p50_ms"] = 1000 * float(np.percentile(values, 50))
        results[f"{store}_p95_ms"] = 1000 * float(np.percentile(values, 95))
    results["same_top10"] = agree / len(queries)
    results["qdrant_vs_exact_p50"] = results["qdrant_p50_ms"] / results["exact_p50_ms"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "analytics_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    from reliant.core.plotting import figure_png, new_figure

    fig, ax = new_figure(5.0, 3.0)
    ax.boxplot([np.array(latencies[s]) * 1000 for s in ("qdrant", "exact")], tick_labels=["Qdrant (local)", "brute force"])
    ax.set_ylabel("hybrid query latency (ms)")
    ax.set_title(f"{len(articles)} Reuters articles, {args.queries} queries")
    (OUT / "analytics_bench.png").write_bytes(figure_png(fig))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
