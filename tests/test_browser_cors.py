"""CORS in a real browser: a page from one krait calls another krait's API with ``fetch``.

Debian's headless Chromium, driven by Playwright, opens a page of the *page server* (two
ports, so two origins) and calls the *API server*, whose ``krait.config.cors`` allows only
the first origin. Chromium sends the preflight and enforces the answer: the allowed page
reads the JSON and an exposed header; the other origin's call, and a call with a header the
API does not allow, are blocked by the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import CHROMIUM, Server, free_port, start_server, write_site

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install '.[test]'"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no {CHROMIUM}: .ci/run installs it (apt chromium)"
    ),
]

API_INIT = """
from krait.config import Cors, Route

krait.config.routes = [
    Route("PATCH", url="/api/items/{{id}}", target="item.py"),
    Route("PATCH", url="/strict/items/{{id}}", target="item.py"),
    Route(),
]
krait.config.cors = [
    Cors([{allowed!r}], allow_headers=["Content-Type", "X-Token"], expose_headers=["X-Count"],
         allow_credentials=True, max_age=0, paths=[r"/api/.*"]),
    Cors([{allowed!r}], allow_headers=["Content-Type"], paths=[r"/strict/.*"]),
]
"""

ITEM = """
body = krait.request.get_json()
krait.response = krait.ResponseJson({
    "id": krait.request.params["id"],
    "done": body["done"],
    "token": krait.request.headers.get("x-token"),
})
krait.response.headers.append(("X-Count", "3"))
"""

CALL = """async ([url, headers, credentials]) => {
    try {
        const answer = await fetch(url, {
            method: "PATCH",
            headers: {"Content-Type": "application/json", ...headers},
            body: JSON.stringify({done: true}),
            credentials,
        });
        return {ok: true, json: await answer.json(), count: answer.headers.get("X-Count")};
    } catch (error) {
        return {ok: false, error: String(error)};
    }
}"""


@dataclass
class Origins:
    """The page server's two origins and the API server."""

    allowed: str
    other: str
    api: Server


@pytest.fixture(scope="module")
def origins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origins]:
    root = tmp_path_factory.mktemp("browser-cors")
    page_port, other_port = free_port(), free_port()
    allowed = f"http://127.0.0.1:{page_port}"
    pages = write_site(root / "pages", {"index.html": "<!doctype html><title>caller</title>"})
    page_server = start_server(
        pages,
        root / "page-logs",
        "--listen",
        f"tcp:{other_port}:interface=127.0.0.1",
        port=page_port,
    )
    api_site = write_site(
        root / "api", {".py/init.py": API_INIT.format(allowed=allowed), "item.py": ITEM}
    )
    api = start_server(api_site, root / "api-logs")
    yield Origins(allowed, f"http://127.0.0.1:{other_port}", api)
    api.stop()
    page_server.stop()


def call_from(
    browser: Any, origin: str, url: str, headers: dict[str, str], credentials: str = "include"
) -> dict[str, Any]:
    """Open a page of ``origin`` in a fresh context and PATCH ``url`` from it with fetch."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(origin + "/")
        result: dict[str, Any] = page.evaluate(CALL, [url, headers, credentials])
        return result
    finally:
        context.close()


def test_a_page_of_an_allowed_origin_patches_json_with_a_custom_header(
    origins: Origins, browser: Any
) -> None:
    result = call_from(
        browser, origins.allowed, origins.api.url + "/api/items/7", {"X-Token": "t0k"}
    )
    assert result == {
        "ok": True,
        "json": {"id": "7", "done": True, "token": "t0k"},
        "count": "3",
    }


def test_a_page_of_another_origin_is_blocked_by_the_browser(origins: Origins, browser: Any) -> None:
    result = call_from(browser, origins.other, origins.api.url + "/api/items/7", {"X-Token": "t"})
    assert result["ok"] is False
    assert "Failed to fetch" in result["error"]


def test_a_header_the_api_does_not_allow_is_blocked_by_the_browser(
    origins: Origins, browser: Any
) -> None:
    url = origins.api.url + "/strict/items/7"
    allowed = call_from(browser, origins.allowed, url, {}, credentials="omit")
    assert allowed["ok"] is True
    assert allowed["count"] is None  # not exposed under /strict/
    refused = call_from(browser, origins.allowed, url, {"X-Token": "t"}, credentials="omit")
    assert refused["ok"] is False
