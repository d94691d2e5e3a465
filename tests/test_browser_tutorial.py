"""The tutorial's finished site in a real browser (Debian's headless Chromium, driven by
Playwright): the guestbook form posts, redirects and remembers the name in its cookie, and the
chat page's script talks through the WebSocket between two tabs.

``.ci/run`` installs Chromium with apt; the test is skipped only where it or Playwright is
missing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from conftest import CHROMIUM, REPO, Server, start_server
from doc_sites import sections_of, write_files

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
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("tutorial") / "mysite"
    root.mkdir()
    for section in sections_of((REPO / "docs" / "tutorial.md").read_text()):
        write_files(root, section.files())
    secret = {"MYSITE_SECRET_KEY": secrets.token_urlsafe(32)}  # as the tutorial's step 4 says
    server = start_server(root, tmp_path_factory.mktemp("tutorial-logs"), env=secret)
    yield server
    server.stop()


@pytest.fixture
def context(browser: sync_api.Browser) -> Iterator[sync_api.BrowserContext]:
    """A browser profile of its own (cookies included); the test fails on a script error."""
    errors: list[str] = []
    context = browser.new_context()
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    context.close()
    assert errors == []


def test_signing_the_guestbook_redirects_back_and_remembers_the_name(
    site: Server, context: sync_api.BrowserContext
) -> None:
    page = context.new_page()
    page.goto(site.url + "/guestbook")
    page.fill('input[name="name"]', "Ada")
    page.fill('input[name="message"]', "What a site")
    with page.expect_navigation():
        page.click('button[type="submit"]')
    assert page.url == site.url + "/guestbook"
    sync_api.expect(page.locator("li")).to_have_text(["Ada: What a site"])
    sync_api.expect(page.locator("p").first).to_have_text("Welcome back, Ada.")
    sync_api.expect(page.locator('input[name="name"]')).to_have_value("Ada")
    page.goto(site.url + "/")
    sync_api.expect(page.locator("body")).to_contain_text("The guestbook has 1 signature.")


def test_a_chat_message_from_one_tab_shows_in_both(
    site: Server, context: sync_api.BrowserContext
) -> None:
    ann, bob = context.new_page(), context.new_page()
    for tab in (ann, bob):
        tab.goto(site.url + "/chat")
        # The page's script keeps its socket in a global `socket`: wait until it is open.
        tab.wait_for_function("() => socket.readyState === WebSocket.OPEN")
    ann.fill("#text", "hello from Ann")
    ann.click("#send button")
    sync_api.expect(bob.locator("#messages li")).to_have_text(["hello from Ann"])
    sync_api.expect(ann.locator("#messages li")).to_have_text(["hello from Ann"])
