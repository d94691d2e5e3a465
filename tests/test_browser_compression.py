"""Compression seen by a real browser: Debian's headless Chromium, driven by Playwright,
loads the demo's home page and stylesheet over http://127.0.0.1, gets them compressed, and
renders them; with ``--ws-deflate`` its chat socket agrees on permessage-deflate and works.

Chromium advertises ``gzip, deflate, br, zstd`` over plain HTTP as well (checked here), so
krait answers it in Brotli. ``.ci/run`` installs Chromium with apt; the test is skipped only
where it or Playwright is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import CHROMIUM, REPO, Server, start_server

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install '.[test]'"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no {CHROMIUM}: .ci/run installs it (apt chromium)"
    ),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(REPO / "site_demo", tmp_path_factory.mktemp("browser-gzip-logs"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deflate_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    logs = tmp_path_factory.mktemp("browser-deflate-logs")
    server = start_server(REPO / "site_demo", logs, "--ws-deflate")
    yield server
    server.stop()


def test_chromium_gets_the_page_and_stylesheet_in_brotli_and_renders_them(
    demo: Server, browser: sync_api.Browser
) -> None:
    context = browser.new_context()
    try:
        tab = context.new_page()
        answers: dict[str, sync_api.Response] = {}
        tab.on("response", lambda response: answers.setdefault(response.url, response))
        tab.goto(demo.url + "/")
        sync_api.expect(tab.locator("header")).to_be_visible()
        page, sheet = answers[demo.url + "/"], answers[demo.url + "/css/site.css"]
        assert "br" in page.request.all_headers()["accept-encoding"]
        for answer in (page, sheet):
            headers = answer.all_headers()
            assert answer.status == 200
            assert headers["content-encoding"] == "br", answer.url
            assert headers["vary"] == "Accept-Encoding"
        # The decoded stylesheet is the file, and the browser applied it.
        assert sheet.body() == (REPO / "site_demo" / "css" / "site.css").read_bytes()
        header_colour = tab.locator("header").evaluate("e => getComputedStyle(e).backgroundColor")
        assert header_colour == "rgb(29, 35, 48)"
    finally:
        context.close()


def test_chromium_chats_over_a_permessage_deflate_socket(
    deflate_demo: Server, browser: sync_api.Browser
) -> None:
    context = browser.new_context()
    try:
        tab = context.new_page()
        # The 101's headers are visible through the DevTools protocol only.
        devtools = context.new_cdp_session(tab)
        devtools.send("Network.enable")
        handshakes: list[dict[str, str]] = []
        devtools.on(
            "Network.webSocketHandshakeResponseReceived",
            lambda event: handshakes.append(event["response"]["headers"]),
        )
        tab.goto(deflate_demo.url + "/chat")
        tab.fill("#name-field", "Ann")
        with tab.expect_navigation():
            tab.click("#name-form button")
        sync_api.expect(tab.locator("#chat")).to_have_attribute("data-state", "open")
        text = "compressed both ways " * 20
        tab.fill("#chat-text", text)
        tab.click("#chat-form button")
        sync_api.expect(tab.locator("#chat-messages li").last).to_have_text(f"Ann: {text}")
        extensions = {name.lower(): value for name, value in handshakes[0].items()}
        assert extensions["sec-websocket-extensions"].startswith("permessage-deflate")
    finally:
        context.close()
