"""The index folder: dated articles, their MiniLM vectors and the retrievers over them.

Layout (format version :data:`INDEX_VERSION`), every file written atomically:

* ``index.json`` - format and version, embedder, dimension, count, first/last day;
* ``articles.jsonl`` - one article per line (id, date, title, text, source, url, content hash);
* ``vectors.npy`` - float32, one L2-normalised MiniLM vector per article, same order
  (read with ``allow_pickle=False``).

:func:`build_index` is incremental: an article whose id and content hash are already in the
folder keeps its vector; new and changed ones are embedded (the slow part), and the lexical
BM25 index is rebuilt from the texts each time an index is opened (seconds for 20k articles,
and nothing to keep in step). :func:`open_index` checks the folder before anything heavy
loads: a folder that is not an index, or one written by another format version, is a one-line
:class:`~reliant.core.errors.DataError`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reliant.analytics.inputs import Article, parse_article_date
from reliant.core.errors import DataError

__all__ = ["INDEX_VERSION", "IndexUpdate", "NewsIndex", "build_index", "check_index_folder", "open_index"]

INDEX_FORMAT = "reliant-analytics-index"
INDEX_VERSION = 1


def check_index_folder(folder: str | Path, *, for_writing: bool = False) -> dict[str, Any] | None:
    """The folder's ``index.json`` (checked), or None for a folder that may become a new index
    (``for_writing``: missing or empty). Any other folder is a one-line DataError."""
    folder = Path(folder)
    meta_file = folder / "index.json"
    if for_writing and (not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))):
        return None
    if not folder.exists():
        raise DataError("no such index folder (build one with `reliant analytics index`)", file=folder)
    if not folder.is_dir():
        raise DataError("is a file, expected an index folder", file=folder)
    if not meta_file.is_file():
        raise DataError("is not an analytics index (no index.json); "
                        + ("refusing to write into a folder that holds other files" if for_writing
                           else "build one with `reliant analytics index`"), file=folder)
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise DataError("is not valid JSON", file=meta_file) from None
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        raise DataError(f"is not a {INDEX_FORMAT} file", file=meta_file, field="format")
    if meta.get("version") != INDEX_VERSION:
        raise DataError(f"index format version {meta.get('version')!r}, this reliant reads version {INDEX_VERSION}: "
                        "rebuild it with `reliant analytics index`", file=meta_file, field="version")
    for name in ("articles.jsonl", "vectors.npy"):
        if not (folder / name).is_file():
            raise DataError(f"the index has no {name} (an interrupted build?); rebuild it", file=folder)
    return meta


def _read_stored_articles(path: Path) -> tuple[list[Article], list[str]]:
    articles, hashes = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
            articles.append(Article(str(row["id"]), parse_article_date(row["date"]), row["title"], row["text"],
                                    row.get("source", ""), row.get("url", "")))
            hashes.append(row["hash"])
        except (ValueError, KeyError, TypeError):
            raise DataError("is not a valid stored article (the index is damaged; rebuild it)",
                            file=path, line=number) from None
    return articles, hashes


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(temp))
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # a file object: np.save would append ".npy" to the temp name
        np.save(handle, array, allow_pickle=False)


@dataclass
class IndexUpdate:
    """What one :func:`build_index` call did."""

    folder: Path
    total: int
    added: int
    changed: int
    unchanged: int
    embedded: int
    embed_seconds: float
    first_day: dt.date
    last_day: dt.date

    def lines(self) -> list[str]:
        return [f"index {self.folder}: {self.total} articles ({self.first_day} to {self.last_day}); "
                f"{self.added} added, {self.changed} changed, {self.unchanged} kept; "
                f"{self.embedded} embedded in {self.embed_seconds:.1f} s"]


def build_index(articles: Sequence[Article], folder: str | Path, *, embedder: str = "all-MiniLM-L6-v2",
                batch_size: int = 64, device: str = "auto") -> IndexUpdate:
    """Create or update the index in ``folder`` with ``articles`` (an id already indexed is
    replaced by its new version; articles not given stay)."""
    import time

    from reliant.core.embeddings import embed  # deliberate: loads sentence-transformers

    folder = Path(folder)
    meta = check_index_folder(folder, for_writing=True)
    stored: list[Article] = []
    hashes: list[str] = []
    vectors = np.zeros((0, 0), dtype=np.float32)
    if meta is not None:
        if meta.get("embedder") != embedder:
            raise DataError(f"was built with embedder {meta.get('embedder')!r}, not {embedder!r}; use the same "
                            "embedder or a new folder", file=folder / "index.json", field="embedder")
        stored, hashes = _read_stored_articles(folder / "articles.jsonl")
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        if len(vectors) != len(stored):
            raise DataError(f"has {len(vectors)} vectors for {len(stored)} articles (damaged; rebuild it)",
                            file=folder / "vectors.npy")
    row_of = {a.id: i for i, a in enumerate(stored)}
    to_embed: list[int] = []  # rows of the merged list that need a (new) vector
    merged, merged_hashes = list(stored), list(hashes)
    added = changed = 0
    for article in articles:
        digest = article.content_hash
        row = row_of.get(article.id)
        if row is None:
            row_of[article.id] = len(merged)
            merged.append(article)
            merged_hashes.append(digest)
            to_embed.append(len(merged) - 1)
            added += 1
        elif merged_hashes[row] != digest:
            merged[row], merged_hashes[row] = article, digest
            to_embed.append(row)
            changed += 1
    started = time.perf_counter()
    fresh = embed([merged[i].dense_text for i in to_embed], embedder, batch_size=batch_size, device=device) \
        if to_embed else np.zeros((0, vectors.shape[1] if vectors.size else 0), dtype=np.float32)
    seconds = time.perf_counter() - started
    dim = fresh.shape[1] if len(fresh) else vectors.shape[1]
    all_vectors = np.zeros((len(merged), dim), dtype=np.float32)
    if len(vectors):
        all_vectors[: len(vectors)] = vectors
    all_vectors[to_embed] = fresh
    days = [a.day for a in merged]
    folder.mkdir(parents=True, exist_ok=True)
    # Vectors and articles first, index.json last: a crash in between leaves an old index.json
    # whose counts no longer match, which open_index reports instead of serving wrong rows.
    _atomic(folder / "vectors.npy", lambda p: _save_npy(p, all_vectors))
    lines = [json.dumps({**a.to_json(), "hash": h}, ensure_ascii=False) for a, h in zip(merged, merged_hashes)]
    _atomic(folder / "articles.jsonl", lambda p: p.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    new_meta = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "embedder": embedder, "dim": int(dim),
                "articles": len(merged), "first_day": min(days).isoformat(), "last_day": max(days).isoformat()}
    _atomic(folder / "index.json", lambda p: p.write_text(json.dumps(new_meta, indent=2) + "\n", encoding="utf-8"))
    return IndexUpdate(folder, len(merged), added, changed, len(merged) - added - changed, len(to_embed), seconds,
                       min(days), max(days))


@dataclass
class NewsIndex:
    """An opened index: articles, vectors, a dense store and a BM25 index (built lazily)."""

    folder: Path
    meta: dict[str, Any]
    articles: list[Article]
    vectors: np.ndarray
    store_name: str = "exact"
    store_options: dict[str, Any] = field(default_factory=dict, repr=False)  # e.g. a Qdrant server's url
    content_hashes: list[str] = field(default_factory=list, repr=False)
    _store: Any = field(default=None, repr=False)
    _bm25: Any = field(default=None, repr=False)

    @property
    def row_of(self) -> dict[str, int]:
        if not hasattr(self, "_row_of"):
            self._row_of = {a.id: i for i, a in enumerate(self.articles)}
        return self._row_of

    @property
    def day_numbers(self) -> np.ndarray:
        if not hasattr(self, "_days"):
            self._days = np.array([a.day.toordinal() for a in self.articles], dtype=np.int64)
        return self._days

    @property
    def store(self):
        if self._store is None:
            from reliant.analytics.stores import collection_name, make_store

            options = dict(self.store_options)
            if options.get("url"):
                options.setdefault("collection", collection_name(
                    self.meta["embedder"], [a.id for a in self.articles], self.content_hashes))
            self._store = make_store(self.store_name, self.vectors, [a.day for a in self.articles], **options)
        return self._store

    @property
    def bm25(self):
        if self._bm25 is None:
            import bm25s  # deliberate: only when lexical retrieval runs

            tokens = bm25s.tokenize([a.body for a in self.articles], stopwords="en", show_progress=False)
            self._bm25 = bm25s.BM25()
            self._bm25.index(tokens, show_progress=False)
        return self._bm25

    def lexical_scores(self, text: str) -> np.ndarray:
        """BM25 score of every article for ``text`` (zeros when no query word is in the corpus)."""
        import bm25s

        words = bm25s.tokenize([text], stopwords="en", return_ids=False, show_progress=False)[0]
        known = [w for w in words if w in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.articles), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        from reliant.core.embeddings import embed

        return embed([text], self.meta["embedder"], show_progress=False)[0]


def open_index(folder: str | Path, *, store: str = "exact", store_url: str | None = None,
               store_api_key: str | None = None) -> NewsIndex:
    """Read an index folder (checked first; see :func:`check_index_folder`). ``store_url``
    points the ``qdrant`` store at a Qdrant server or cluster instead of its local mode."""
    folder = Path(folder)
    meta = check_index_folder(folder)
    articles, hashes = _read_stored_articles(folder / "articles.jsonl")
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    if len(vectors) != len(articles) or len(articles) != meta.get("articles"):
        raise DataError(f"has {len(vectors)} vectors and {len(articles)} articles, index.json says "
                        f"{meta.get('articles')} (damaged; rebuild it)", file=folder)
    options = {"url": store_url, "api_key": store_api_key} if store_url else {}
    return NewsIndex(folder, meta, articles, vectors, store, options, hashes)
