"""A stand-in for a Qdrant server: the REST endpoints qdrant-client calls, over real HTTP.

No Qdrant server can run on the test machine, so this one answers the calls the ``qdrant``
store makes (collection exists/create/delete, payload index, upsert of a batch, exact count,
a query with a ``day`` range filter) with an exact cosine search in numpy. It records every
request (method, path, ``api-key`` header), so a test can see what reached "the server".
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


class QdrantStub:
    def __init__(self) -> None:
        self.collections: dict[str, dict] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.required_key: str | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _answer(self, result, status=200):
                body = json.dumps({"result": result, "status": "ok", "time": 0.0}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                path = self.path.split("?")[0]
                stub.requests.append((method, path, self.headers.get("api-key")))
                if stub.required_key is not None and self.headers.get("api-key") != stub.required_key:
                    return self._answer({"error": "Unauthorized"}, 401)
                result = stub.route(method, path, body)
                if result is None:
                    return self._answer({"error": f"no route {method} {path}"}, 404)
                return self._answer(result)

            def do_GET(self):
                self._handle("GET")

            def do_PUT(self):
                self._handle("PUT")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> QdrantStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(self, method: str, path: str, body):
        updated = {"operation_id": 0, "status": "completed"}
        if method == "GET" and path == "/":
            return {"title": "qdrant stub", "version": "1.15.0"}
        match = re.fullmatch(r"/collections/([^/]+)(/.*)?", path)
        if match is None:
            return None
        name, rest = match[1], match[2] or ""
        collection = self.collections.get(name)
        if method == "GET" and rest == "/exists":
            return {"exists": collection is not None}
        if method == "PUT" and rest == "":
            self.collections[name] = {"size": body["vectors"]["size"], "ids": [], "vectors": [], "days": []}
            return True
        if method == "DELETE" and rest == "":
            return self.collections.pop(name, None) is not None
        if collection is None:
            return None
        if method == "PUT" and rest == "/index":
            return updated
        if method == "PUT" and rest == "/points":
            batch = body["batch"]
            collection["ids"] += batch["ids"]
            collection["vectors"] += batch["vectors"]
            collection["days"] += [p["day"] for p in batch["payloads"]]
            return updated
        if method == "POST" and rest == "/points/count":
            return {"count": len(collection["ids"])}
        if method == "POST" and rest == "/points/query":
            return {"points": self._query(collection, body)}
        return None

    @staticmethod
    def _query(collection: dict, body: dict) -> list[dict]:
        vectors = np.asarray(collection["vectors"], dtype=np.float64)
        query = body["query"]
        query = np.asarray(query["nearest"] if isinstance(query, dict) else query, dtype=np.float64)
        sims = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
        days = np.asarray(collection["days"])
        keep = np.ones(len(sims), dtype=bool)
        for condition in (body.get("filter") or {}).get("must", []):
            bounds = condition["range"]
            if bounds.get("gte") is not None:
                keep &= days >= bounds["gte"]
            if bounds.get("lte") is not None:
                keep &= days <= bounds["lte"]
        rows = np.flatnonzero(keep)
        rows = rows[np.lexsort((rows, -sims[rows]))][: body["limit"]]
        return [{"id": int(collection["ids"][r]), "version": 0, "score": float(sims[r])} for r in rows]
