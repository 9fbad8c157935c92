"""The web app: JSON routes, one-line 4xx errors, and a real headless browser on the page."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.analytics.conftest import FORTUNE

CHROMIUM = Path("/usr/bin/chromium-headless-shell")


@pytest.fixture(scope="module")
def service(index_dir):
    from reliant.analytics.config import ServeConfig
    from reliant.analytics.server import build_service

    return build_service(ServeConfig(index=index_dir, table=FORTUNE if FORTUNE.exists() else None,
                                     as_of="2008-12-31", topics=3))


@pytest.fixture(scope="module")
def client(service):
    from fastapi.testclient import TestClient

    from reliant.analytics.server import create_app

    return TestClient(create_app(service))


def _one_line_error(response, status):
    assert response.status_code == status, response.text
    assert "\n" not in response.text
    return response.json()["error"]


def test_routes_and_errors(client):
    page = client.get("/")
    assert page.status_code == 200 and "48 articles" in page.text and "cdn" not in page.text.lower()
    assert client.get("/api/article/ID109612").json()["date"] == "2008-07-12"
    assert "no article with id" in _one_line_error(client.get("/api/article/nope"), 404)
    assert "question is empty" in _one_line_error(client.post("/api/ask", json={"question": " "}), 400)
    assert "as_of" in _one_line_error(client.post("/api/ask", json={"question": "oil", "as_of": "soon"}), 400)
    assert "field 'question'" in _one_line_error(client.post("/api/ask", json={"as_of": "2008-01-01"}), 422)
    assert "field 'body'" in _one_line_error(client.post("/api/ask", content=b"{bad", headers={
        "content-type": "application/json"}), 422)
    if FORTUNE.exists():
        assert "unknown column 'profit'" in _one_line_error(client.post("/api/chart", json={
            "request": "profit by year"}), 400)
        chart = client.post("/api/chart", json={"request": "total revenue by year"}).json()
        assert chart["spec_valid"] and chart["svg"].startswith("<svg")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists() and shutil.which("chromium-headless-shell") is None,
                    reason="Debian's chromium-headless-shell is not installed (apt-get install -y chromium-headless-shell)")
def test_browser_asks_and_follows_a_citation(service, tmp_path):
    import uvicorn
    from playwright.sync_api import sync_playwright

    from reliant.analytics.server import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM if CHROMIUM.exists() else
                                                            shutil.which("chromium-headless-shell")))
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#trend-chart svg", timeout=120_000)
            page.fill("#question", "What happened to IndyMac Bank in July 2008?")
            page.click("#ask-button")
            page.wait_for_selector("#answer[data-done=yes]", timeout=120_000)
            links = page.query_selector_all("#answer a.cite")
            assert links
            expected = service.ask("What happened to IndyMac Bank in July 2008?")
            cited = [c["id"] for part in expected["parts"] for s in part["sentences"] for c in s["citations"]]
            assert [link.get_attribute("data-id") for link in links] == cited
            assert "ID109612" in cited
            for link in links:
                assert link.get_attribute("href") == f"/article/{link.get_attribute('data-id')}"
                assert link.get_attribute("data-date").startswith("2008-07")
            page.wait_for_selector("#timeline svg")
            if FORTUNE.exists():
                page.fill("#chart-request", "line chart of revenue for Walmart and Apple from 2000 to 2021")
                page.click("#chart-button")
                page.wait_for_selector("#chart svg", timeout=60_000)
                assert "Walmart" in page.inner_text("#chart")
            page.screenshot(path=str(tmp_path / "analytics-page.png"), full_page=True)
            article = browser.new_page()
            article.goto(f"http://127.0.0.1:{port}{links[0].get_attribute('href')}")
            assert article.get_attribute("#meta", "data-id") == cited[0]
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    screenshot = tmp_path / "analytics-page.png"
    assert screenshot.stat().st_size > 10_000
    keep = Path(__import__("os").environ.get("RELIANT_SCREENSHOT_DIR", "")) if __import__("os").environ.get(
        "RELIANT_SCREENSHOT_DIR") else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, keep / screenshot.name)
