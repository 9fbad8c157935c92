"""Dense vector stores: one registry, one interface (``search(vector, k, window)``).

* ``qdrant``: Qdrant through ``qdrant-client``. Without a URL it runs in-process
  (``QdrantClient(":memory:")``, Qdrant's local mode); with ``url`` (``--store-url
  http://host:6333``) the very same calls go to a Qdrant server or cluster
  (``QdrantClient(url=..., api_key=...)``), so moving to a server is a change of the client's
  location, not of the code. The points are loaded from the index folder's own files
  (``vectors.npy`` and ``articles.jsonl``) rather than from Qdrant's local on-disk format,
  because that format stores every point with :mod:`pickle` and an index folder is a user file
  (reliant never unpickles user files). Dates are a payload range filter on the publication day.
  On a server the collection is named after the index's content (:func:`collection_name`), so
  a second run against the same index finds its points there and uploads nothing; a collection
  of that name with another point count (an interrupted upload) is dropped and uploaded again.
* ``exact`` (default): brute force, one matrix product over every vector with a boolean date
  mask. It returns the same ranking as Qdrant's local mode (a test checks it) and, measured on
  20,000 Reuters articles (docs/results/analytics.md), answers a date-filtered hybrid query
  ~65x faster: local mode scans its points in Python. Qdrant pays off as a server or cluster,
  which the ``qdrant`` entry reaches with the same client calls.

Both return cosine similarities (the vectors are L2-normalised).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from reliant.core.errors import UserError
from reliant.core.progress import progress_bar

__all__ = ["STORES", "ExactStore", "QdrantStore", "VectorStore", "collection_name", "make_store"]

STORES: dict[str, type[VectorStore]] = {}


def register_store(cls: type[VectorStore]) -> type[VectorStore]:
    STORES[cls.name] = cls
    return cls


def make_store(name: str, vectors: np.ndarray, days: Sequence[dt.date], **options) -> VectorStore:
    """The store ``name`` over ``vectors``; ``options`` are that store's own keywords (Qdrant:
    ``url``, ``api_key``, ``collection``)."""
    return STORES[name](vectors, days, **options)


def collection_name(embedder: str, ids: Sequence[str], hashes: Sequence[str]) -> str:
    """A server collection name that changes whenever the index's content does."""
    digest = hashlib.sha256(embedder.encode())
    for article_id, content_hash in zip(ids, hashes):
        digest.update(f"\n{article_id}\t{content_hash}".encode())
    return f"reliant-analytics-{digest.hexdigest()[:16]}"


class VectorStore(ABC):
    """Cosine search over the article vectors, restricted to days in ``[start, end]``."""

    name: str = ""
    label: str = ""

    def __init__(self, vectors: np.ndarray, days: Sequence[dt.date]) -> None:
        if len(vectors) != len(days):
            raise ValueError(f"{len(vectors)} vectors but {len(days)} days")
        self.day_numbers = np.array([d.toordinal() for d in days], dtype=np.int64)

    @abstractmethod
    def search(self, vector: np.ndarray, k: int, start: dt.date | None = None,
               end: dt.date | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``k`` nearest articles in the window, best first, and their similarities."""


@register_store
class ExactStore(VectorStore):
    name = "exact"
    label = "brute force (numpy)"

    def __init__(self, vectors: np.ndarray, days: Sequence[dt.date]) -> None:
        super().__init__(vectors, days)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def search(self, vector, k, start=None, end=None):
        sims = self.vectors @ np.asarray(vector, dtype=np.float32)
        keep = np.ones(len(sims), dtype=bool)
        if start is not None:
            keep &= self.day_numbers >= start.toordinal()
        if end is not None:
            keep &= self.day_numbers <= end.toordinal()
        candidates = np.flatnonzero(keep)
        if len(candidates) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, len(candidates))
        top = candidates[np.argpartition(-sims[candidates], k - 1)[:k]]
        # Ties broken by row, so both stores (and repeated runs) agree exactly.
        order = np.lexsort((top, -sims[top]))
        return top[order], sims[top[order]]


@register_store
class QdrantStore(VectorStore):
    name = "qdrant"
    label = "Qdrant (qdrant-client: local mode, or a server with --store-url)"

    def __init__(self, vectors: np.ndarray, days: Sequence[dt.date], *, url: str | None = None,
                 api_key: str | None = None, collection: str = "articles", timeout: int = 10,
                 batch: int = 2048) -> None:
        super().__init__(vectors, days)
        from qdrant_client import QdrantClient, models  # deliberate: heavy, only when a store is opened

        self._models = models
        self.url = url
        self.collection = collection
        if url is None:
            self.client = QdrantClient(":memory:")
        else:
            # Our own reachability check below replaces the client's background version probe,
            # whose failure would only be a warning from another thread.
            self.client = QdrantClient(url=url, api_key=api_key, timeout=timeout, check_compatibility=False)
        if self._reuse(len(vectors)):
            return
        self.client.create_collection(
            collection,
            vectors_config=models.VectorParams(size=int(vectors.shape[1]), distance=models.Distance.COSINE),
        )
        with warnings.catch_warnings():  # local mode says payload indexes only help a server: kept for one
            warnings.simplefilter("ignore", UserWarning)
            self.client.create_payload_index(collection, "day", models.PayloadSchemaType.INTEGER)
        where = "Qdrant" if url is None else f"the Qdrant server at {url}"
        with progress_bar(f"loading vectors into {where}", total=len(vectors)) as bar:
            for first in range(0, len(vectors), batch):
                rows = range(first, min(first + batch, len(vectors)))
                self.client.upsert(collection, points=models.Batch(
                    ids=list(rows), vectors=vectors[first:first + len(rows)].tolist(),
                    payloads=[{"day": int(self.day_numbers[i])} for i in rows]), wait=True)
                bar.advance(len(rows))

    def _reuse(self, count: int) -> bool:
        """True when the server already holds this index's points; drops a partial collection."""
        if self.url is None:
            return False
        try:
            exists = self.client.collection_exists(self.collection)
        except Exception as exc:  # qdrant-client wraps httpx errors in its own classes
            raise UserError(f"cannot use the Qdrant server at {self.url}: {_reason(exc)}", field="store_url") from None
        if exists:
            if self.client.count(self.collection, exact=True).count == count:
                return True
            self.client.delete_collection(self.collection)
        return False

    def search(self, vector, k, start=None, end=None):
        models = self._models
        query_filter = None
        if start is not None or end is not None:
            query_filter = models.Filter(must=[models.FieldCondition(key="day", range=models.Range(
                gte=None if start is None else start.toordinal(), lte=None if end is None else end.toordinal()))])
        hits = self.client.query_points(self.collection, query=np.asarray(vector, dtype=np.float32).tolist(),
                                        query_filter=query_filter, limit=k, with_payload=False).points
        rows = np.array([hit.id for hit in hits], dtype=np.int64)
        sims = np.array([hit.score for hit in hits], dtype=np.float32)
        order = np.lexsort((rows, -sims))
        return rows[order], sims[order]


def _reason(exc: Exception) -> str:
    """One line on why a Qdrant call failed (never the request headers, which hold the key)."""
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return f"HTTP {status}: the server refused the API key (see --store-api-key-env)"
    if status is not None:
        return f"HTTP {status} {getattr(exc, 'reason_phrase', '')}".strip()
    cause = exc.__cause__ or exc.__context__ or exc
    return f"{type(cause).__name__}: {' '.join(str(cause).split())[:120]}" if str(cause) else type(cause).__name__
