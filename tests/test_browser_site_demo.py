"""Every page of the demo in a real browser, at a phone's width and a desktop's: nothing
overflows sideways, every page has the viewport meta, the favicon is there (no 404 in any
page view), and the error pages are the demo's own. Screenshots land in pytest's temporary
folder, to look at.

``.ci/run`` installs Chromium with apt; the test is skipped only where it or Playwright is
missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from conftest import CHROMIUM, REPO, Server, start_server

from krait._answers import error_body

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install '.[test]'"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no {CHROMIUM}: .ci/run installs it (apt chromium)"
    ),
]

VIEWPORTS = {"phone": (375, 812), "desktop": (1280, 800)}

# (name, path, status): what each page view must answer.
PAGES = [
    ("home", "/", 200),
    ("about", "/about", 200),
    ("features", "/features", 200),
    ("guestbook", "/guestbook", 200),
    ("upload", "/upload", 200),
    ("counter", "/counter", 200),
    ("chat", "/chat", 200),
    ("not-found", "/no/such/page-with-a-rather-long-name-that-must-wrap-somewhere", 404),
    ("server-error", "/oops", 500),
]

# A name and a message without any space: the layout must break them, not widen the page.
LONG_NAME = "a-very-long-file-name-without-any-space-" * 3 + ".txt"
LONG_MESSAGE = "Supercalifragilisticexpialidocious" * 6


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A copy: the upload page writes into the site.
    root = tmp_path_factory.mktemp("demo") / "site_demo"
    shutil.copytree(REPO / "site_demo", root, ignore=shutil.ignore_patterns(".uploads"))
    server = start_server(root, tmp_path_factory.mktemp("browser-demo-logs"))
    requests.post(
        server.url + "/guestbook", data={"name": "Ada", "message": LONG_MESSAGE}, timeout=10
    )
    yield server
    server.stop()


@dataclass
class Tab:
    """A browser page and the failed requests it made besides the page itself."""

    page: sync_api.Page
    width: int
    failed: list[str] = field(default_factory=list)

    def note(self, response: sync_api.Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.failed.append(f"{response.status} {response.url}")


@pytest.fixture(params=list(VIEWPORTS))
def tab(request: pytest.FixtureRequest, browser: sync_api.Browser) -> Iterator[Tab]:
    """A page of a phone's or a desktop's viewport."""
    width, height = VIEWPORTS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    tab = Tab(context.new_page(), width)
    tab.page.on("response", tab.note)
    yield tab
    context.close()


def check_page(tab: Tab, shots: Path, name: str) -> None:
    """Screenshot the page, then check it has the viewport meta, no sideways overflow and no
    failed request (the favicon's, say)."""
    page = tab.page
    page.screenshot(path=str(shots / f"{name}-{tab.width}.png"), full_page=True)
    assert page.locator('meta[name="viewport"]').count() == 1, f"{name}: no viewport meta"
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width, f"{name} at {tab.width} px is {scroll_width} px wide"
    assert tab.failed == [], f"{name}: {tab.failed}"
    # Headless Chromium fetches no favicon itself: ask for each icon the page names.
    icons = page.eval_on_selector_all('link[rel="icon"]', "links => links.map(l => l.href)")
    assert icons, f"{name}: no favicon link"
    for icon in icons:
        assert page.request.get(icon).status == 200, f"{name}: {icon} is missing"


@pytest.mark.parametrize(("name", "path", "status"), PAGES, ids=[p[0] for p in PAGES])
def test_page_fits_the_screen_with_viewport_meta_and_favicon(
    demo: Server, tab: Tab, tmp_path: Path, name: str, path: str, status: int
) -> None:
    answer = tab.page.goto(demo.url + path, wait_until="load")
    assert answer is not None and answer.status == status
    assert tab.page.locator("header nav a").count() >= 5, f"{name} is not in the demo's look"
    check_page(tab, tmp_path, name)


def test_upload_result_with_long_names_and_hashes_fits(
    demo: Server, tab: Tab, tmp_path: Path
) -> None:
    upload = tmp_path / LONG_NAME
    upload.write_bytes(b"hello, krait\n" * 100)
    page = tab.page
    page.goto(demo.url + "/upload")
    page.set_input_files('input[type="file"]', str(upload))
    with page.expect_navigation():
        page.click('form button[type="submit"]')
    sync_api.expect(page.locator("table.stored")).to_contain_text(LONG_NAME)
    check_page(tab, tmp_path, "upload-result")


def test_chat_room_with_a_long_name_and_message_fits(
    demo: Server, tab: Tab, tmp_path: Path
) -> None:
    page = tab.page
    page.goto(demo.url + "/chat")
    page.fill("#name-field", LONG_NAME[:40])
    with page.expect_navigation():
        page.click("#name-form button")
    sync_api.expect(page.locator("#chat")).to_have_attribute("data-state", "open")
    page.fill("#chat-text", LONG_MESSAGE)
    page.click("#chat-form button")
    sync_api.expect(page.locator("#chat-messages li").last).to_contain_text(LONG_MESSAGE)
    check_page(tab, tmp_path, "chat-room")


def test_the_favicon_is_an_icon(demo: Server) -> None:
    answer = requests.get(demo.url + "/favicon.ico", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/vnd.microsoft.icon"
    assert answer.content[:4] == b"\0\0\1\0"


@pytest.mark.parametrize("detail", ["", "a-reason-without-any-space-" * 8])
def test_krait_s_own_error_page_fits_the_screen(tab: Tab, tmp_path: Path, detail: str) -> None:
    """The built-in page, as a site without error pages of its own sends it."""
    tab.page.set_content(error_body(404, detail).decode())
    tab.page.screenshot(path=str(tmp_path / f"built-in-404-{tab.width}.png"), full_page=True)
    scroll_width, inner_width = tab.page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width
    assert tab.page.locator('meta[name="viewport"]').count() == 1
