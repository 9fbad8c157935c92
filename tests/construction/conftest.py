"""Shared fixtures: a small folder tree of real digit images (scikit-learn digits), and a fake
HTTP search API on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest


def write_digit_tree(root: Path, per_class: int = 20, classes: int = 3) -> Path:
    from PIL import Image

    from reliant.construction.datasets import digits

    data = digits()
    for c in range(classes):
        folder = root / f"digit{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for k, i in enumerate(np.flatnonzero(data.labels == c)[:per_class]):
            Image.fromarray(data.images[i].squeeze()).save(folder / f"{k:03d}.png")
    return root


@pytest.fixture(scope="session")
def digit_tree(tmp_path_factory) -> Path:
    return write_digit_tree(tmp_path_factory.mktemp("tree") / "photos")


def png_bytes(seed: int) -> bytes:
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeSearch:
    """``/search?q=...&page=N`` answers JSON (or garbage); ``/img/<n>.png`` serves a PNG;
    ``/flaky/<n>.png`` fails with 503 the first time; ``/broken.png`` is not an image."""

    def __init__(self) -> None:
        self.mode = "json"
        self.hits: dict[str, int] = {}
        self.times: list[float] = []

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                import time

                fake.times.append(time.monotonic())
                url = urlparse(self.path)
                fake.hits[url.path] = fake.hits.get(url.path, 0) + 1
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                if url.path == "/search":
                    if fake.mode == "garbage":
                        return self._send(200, b"<html>not json</html>", "text/html")
                    if fake.mode == "wrong-key":
                        return self._send(200, json.dumps({"items": []}).encode(), "application/json")
                    query = parse_qs(url.query)["q"][0]
                    seed = sum(map(ord, query))
                    results = [{"url": f"{base}/img/{seed * 10 + k}.png", "title": query} for k in range(3)]
                    results.append({"title": "no url here"})
                    results.append({"url": f"{base}/broken.png"})
                    if "flaky" in query:
                        results.append({"url": f"{base}/flaky/{seed}.png"})
                    return self._send(200, json.dumps({"data": {"results": results}}).encode(), "application/json")
                if url.path.startswith("/img/"):
                    return self._send(200, png_bytes(int(Path(url.path).stem)), "image/png")
                if url.path.startswith("/flaky/"):
                    if fake.hits[url.path] == 1:
                        return self._send(503, b"busy", "text/plain")
                    return self._send(200, png_bytes(7), "image/png")
                if url.path == "/broken.png":
                    return self._send(200, b"\x89PNG truncated", "image/png")
                return self._send(404, b"missing", "text/plain")

        return Handler


@pytest.fixture()
def search_server():
    fake = FakeSearch()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture()
def design_file(tmp_path) -> Path:
    design = {"task": "toy", "classes": [{"name": "red", "queries": ["red thing", "flaky red"]},
                                         {"name": "blue", "queries": ["blue thing"]}]}
    path = tmp_path / "design.json"
    path.write_text(json.dumps(design))
    return path
