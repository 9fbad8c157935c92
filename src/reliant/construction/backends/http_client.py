"""A polite HTTP client for collection: per-request timeout, retries with exponential backoff on
timeouts / connection errors / 429 / 5xx, a global rate limit, and a cap on response size.

Built on ``httpx`` (synchronous: collection is I/O-light next to training, and a rate limit
is simplest to keep in one thread).
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["FetchError", "PoliteClient"]

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """A request that failed after every retry (the message says why)."""


class PoliteClient:
    def __init__(self, *, timeout: float = 10.0, retries: int = 2, rate_limit: float = 5.0,
                 max_bytes: int = 20_000_000, backoff: float = 0.5, user_agent: str = "reliant-construct") -> None:
        import httpx  # deliberately lazy: only collection over HTTP needs it

        self._httpx = httpx
        self.client = httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": user_agent})
        self.retries = retries
        self.min_interval = 0.0 if rate_limit <= 0 else 1.0 / rate_limit
        self.max_bytes = max_bytes
        self.backoff = backoff
        self._last_request = float("-inf")
        self.requests = 0

    def _wait_for_slot(self) -> None:
        delay = self._last_request + self.min_interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last_request = time.monotonic()

    def get_bytes(self, url: str) -> bytes:
        httpx = self._httpx
        problem = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            self._wait_for_slot()
            self.requests += 1
            try:
                with self.client.stream("GET", url) as response:
                    if response.status_code in RETRY_STATUS:
                        problem = f"HTTP {response.status_code}"
                        continue
                    if response.status_code >= 400:
                        raise FetchError(f"HTTP {response.status_code}")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > self.max_bytes:
                            raise FetchError(f"larger than {self.max_bytes} bytes")
                    return bytes(body)
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__})"
        raise FetchError(f"{problem} after {self.retries + 1} attempts")

    def get_json(self, url: str) -> Any:
        """The parsed JSON body; :class:`FetchError` if it cannot be fetched, ``ValueError`` if it is not JSON."""
        import json

        body = self.get_bytes(url)
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"answered {len(body)} bytes that are not JSON (starting {body[:40]!r})") from None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
