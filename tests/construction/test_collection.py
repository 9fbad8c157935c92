"""Collection backends: folder tree, manifest, and the HTTP search adapter against a fake server
on 127.0.0.1 (timeouts, retries, rate limit, garbage answers)."""

from __future__ import annotations

import json
import time

import pytest

from reliant.construction.backends import get_backend
from reliant.construction.backends.http_client import FetchError, PoliteClient
from reliant.construction.config import CollectConfig
from reliant.core.config import resolve_config
from reliant.core.errors import DataError


def test_folder_backend_lists_classes_and_skips_non_images(tmp_path, digit_tree):
    import shutil

    root = tmp_path / "tree"
    shutil.copytree(digit_tree, root)
    (root / "digit1" / "notes.txt").write_text("a note")
    (root / "loose.png").write_bytes(b"")
    plan = get_backend("folder").plan(resolve_config(CollectConfig, root=str(root)))
    assert plan.classes == ["digit0", "digit1", "digit2"]
    assert len(plan.items) == 60
    assert {s["reason"] for s in plan.skipped} == {"not an image file (.txt)", "not inside a class folder"}


def test_manifest_backend_maps_integer_labels_through_the_design(tmp_path, design_file, digit_tree):
    image = next((digit_tree / "digit0").glob("*.png"))
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{image},0\n{image},blue\n")
    config = resolve_config(CollectConfig, backend="manifest", manifest=str(manifest), design=str(design_file))
    plan = get_backend("manifest").plan(config)
    assert [i.label for i in plan.items] == ["red", "blue"] and plan.classes == ["red", "blue"]
    manifest.write_text(f"path,label\n{image},0\n{image},5\n")
    with pytest.raises(DataError, match=r"m.csv:3: field 'label': label 5 out of range"):
        get_backend("manifest").plan(config)


def test_http_backend_collects_queries_and_skips_bad_results(search_server, design_file):
    config = resolve_config(CollectConfig, backend="http", design=str(design_file), rate_limit=0,
                            url_template=search_server.url + "/search?q={query}&page={page}",
                            results_key="data.results", retries=1)
    plan = get_backend("http").plan(config)
    assert plan.classes == ["red", "blue"]
    # 3 good per query, the broken URL once (the same URL from two queries is collected once), the
    # flaky one; the result without a URL skipped (once per query)
    assert len(plan.items) == 3 * 3 + 1 + 1 and len(plan.skipped) == 3
    assert {i.label for i in plan.items if "flaky" in i.url} == {"red"}


@pytest.mark.parametrize("mode, expected", [("garbage", "not JSON"), ("wrong-key", "has no list at")])
def test_http_backend_answering_garbage_is_one_data_error(search_server, design_file, mode, expected):
    search_server.mode = mode
    config = resolve_config(CollectConfig, backend="http", design=str(design_file), rate_limit=0,
                            url_template=search_server.url + "/search?q={query}")
    with pytest.raises(DataError, match=expected):
        get_backend("http").plan(config)


def test_client_retries_then_succeeds_and_keeps_the_rate_limit(search_server):
    started = time.monotonic()
    with PoliteClient(retries=1, backoff=0.01, rate_limit=20) as client:
        assert client.get_bytes(search_server.url + "/flaky/1.png").startswith(b"\x89PNG")
        assert search_server.hits["/flaky/1.png"] == 2
        for k in range(4):
            client.get_bytes(search_server.url + f"/img/{k}.png")
        assert client.requests == 6
    # 20 requests/s: six requests need at least five 50 ms gaps (measured at the client, whose
    # clock the limit keeps; arrival times at the server jitter under load)
    assert time.monotonic() - started >= 5 * 0.05 - 0.005
    with PoliteClient(retries=0) as client, pytest.raises(FetchError, match="HTTP 404"):
        client.get_bytes(search_server.url + "/nothing")


def test_client_times_out(tmp_path):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    threading.Thread(target=lambda: listener.accept(), daemon=True).start()  # accepts, never answers
    started = time.monotonic()
    with PoliteClient(timeout=0.2, retries=1, backoff=0.01) as client, pytest.raises(FetchError, match="timed out"):
        client.get_bytes(f"http://127.0.0.1:{listener.getsockname()[1]}/x")
    assert time.monotonic() - started < 3
    listener.close()


def test_collect_command_over_http_writes_a_manifest(search_server, design_file, tmp_path):
    from reliant.construction.workflows import run_collect

    config = resolve_config(CollectConfig, backend="http", design=str(design_file), rate_limit=0, retries=1,
                            url_template=search_server.url + "/search?q={query}", results_key="data.results")
    folder, _ = run_collect(config, tmp_path / "out")
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    problems = [json.loads(line) for line in (folder / "unreadable.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and len(problems) == 1  # the broken image reported and skipped; flaky one retried
    assert all((folder / r["path"]).is_file() for r in rows)
    assert json.loads((folder / "classes.json").read_text()) == ["red", "blue"]
