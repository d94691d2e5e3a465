"""The demo's chat in a real browser: Debian's headless Chromium, driven by Playwright, joins
under a name (kept in the session), sends through krait's WebSocket from one tab and shows the
message in another, under the sender's name.

``.ci/run`` installs Chromium with apt; the test is skipped only where it or Playwright is
missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

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

Tab = sync_api.Page


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(REPO / "site_demo", tmp_path_factory.mktemp("browser-chat-logs"))
    yield server
    server.stop()


@pytest.fixture
def open_chat(demo: Server, browser: sync_api.Browser) -> Iterator[Callable[[str], Tab]]:
    """A function that opens /chat in a new browser context (a tab with its own cookies and
    storage), joins under a name and waits until its socket is open; the test fails on any
    script error."""
    contexts: list[sync_api.BrowserContext] = []
    errors: list[str] = []

    def _open_chat(name: str) -> Tab:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(demo.url + "/chat")
        assert page.locator("#chat").count() == 0, "the room before a name was chosen"
        page.fill("#name-field", name)
        with page.expect_navigation():
            page.click("#name-form button")
        sync_api.expect(page.locator("#chat")).to_have_attribute("data-state", "open")
        return page

    yield _open_chat
    for context in contexts:
        context.close()
    assert errors == []


def send(page: Tab, text: str) -> None:
    page.fill("#chat-text", text)
    page.click("#chat-form button")


def last_message(page: Tab) -> sync_api.Locator:
    return page.locator("#chat-messages li").last


def test_a_message_sent_in_one_tab_appears_in_both_under_the_sender_s_name(
    open_chat: Callable[[str], Tab],
) -> None:
    ann, bob = open_chat("Ann"), open_chat("Bob")
    send(ann, "hello from Ann")
    sync_api.expect(last_message(bob)).to_have_text("Ann: hello from Ann")
    sync_api.expect(last_message(ann)).to_have_text("Ann: hello from Ann")
    sync_api.expect(ann.locator("#chat-text")).to_have_value("")
    send(bob, "hi Ann")
    sync_api.expect(last_message(ann)).to_have_text("Bob: hi Ann")


def test_markup_in_a_name_or_message_is_shown_as_text(open_chat: Callable[[str], Tab]) -> None:
    ann, bob = open_chat("<i>Ann</i>"), open_chat("Bob")
    sync_api.expect(ann.locator("#chat-you")).to_have_text("You are <i>Ann</i>.")
    send(ann, "<b>x</b>")
    for page in (bob, ann):
        sync_api.expect(last_message(page)).to_have_text("<i>Ann</i>: <b>x</b>")
        assert page.locator("#chat-messages b, #chat-messages i, #chat-you i").count() == 0
