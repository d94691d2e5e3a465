"""The demo's chat in a real browser: Debian's headless Chromium, driven by Playwright, sends
through krait's WebSocket from one tab and shows the message in another.

``.ci/run`` installs Chromium with apt; the test is skipped only where it or Playwright is
missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, REPO, Server, start_server

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install '.[test]'"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no {CHROMIUM}: .ci/run installs it (apt chromium)"
    ),
]

Tab = sync_api.Page


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(REPO / "site_demo", tmp_path_factory.mktemp("browser-chat-logs"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_chat(demo: Server, browser: sync_api.Browser) -> Iterator[Callable[[], Tab]]:
    """A function that opens /chat in a new browser context (a tab with its own cookies and
    storage) and waits until its socket is open; the test fails on any script error."""
    contexts: list[sync_api.BrowserContext] = []
    errors: list[str] = []

    def _open_chat() -> Tab:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(demo.url + "/chat")
        sync_api.expect(page.locator("#chat")).to_have_attribute("data-state", "open")
        return page

    yield _open_chat
    for context in contexts:
        context.close()
    assert errors == []


def send(page: Tab, name: str, text: str) -> None:
    page.fill("#chat-name", name)
    page.fill("#chat-text", text)
    page.click("#chat-form button")


def last_message(page: Tab) -> sync_api.Locator:
    return page.locator("#chat-messages li").last


def test_a_message_sent_in_one_tab_appears_in_both(open_chat: Callable[[], Tab]) -> None:
    ann, bob = open_chat(), open_chat()
    send(ann, "Ann", "hello from Ann")
    sync_api.expect(last_message(bob)).to_have_text("Ann: hello from Ann")
    sync_api.expect(last_message(ann)).to_have_text("Ann: hello from Ann")
    sync_api.expect(ann.locator("#chat-text")).to_have_value("")
    send(bob, "Bob", "hi Ann")
    sync_api.expect(last_message(ann)).to_have_text("Bob: hi Ann")


def test_markup_in_a_message_is_shown_as_text(open_chat: Callable[[], Tab]) -> None:
    ann, bob = open_chat(), open_chat()
    send(ann, "<i>Ann</i>", "<b>x</b>")
    for page in (bob, ann):
        sync_api.expect(last_message(page)).to_have_text("<i>Ann</i>: <b>x</b>")
        assert page.locator("#chat-messages b, #chat-messages i").count() == 0
