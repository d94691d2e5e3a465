"""The tutorial runs as written: each step's files, written on top of the earlier steps', make
a site that starts without a warning and does what the step says, over real HTTP and a real
WebSocket. Every code block is a file of the site or a command; nothing is left unchecked.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import websocket
from conftest import REPO, Server, start_server
from doc_sites import NOT_FILES, Section, blocks_of, sections_of, write_files

TUTORIAL = REPO / "docs" / "tutorial.md"
MARKDOWN = TUTORIAL.read_text()
STEPS = [section for section in sections_of(MARKDOWN) if section.title.startswith("Step ")]


def check_first_page(server: Server) -> None:
    answer = requests.get(server.url + "/", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Welcome to mysite</h1>" in answer.text


def check_template(server: Server) -> None:
    assert "<h1>Hello, Ada!</h1>" in requests.get(server.url + "/hello?name=Ada", timeout=10).text
    assert "<h1>Hello, stranger!</h1>" in requests.get(server.url + "/hello", timeout=10).text
    escaped = requests.get(server.url + "/hello", params={"name": "<b>Bob</b>"}, timeout=10)
    assert "Hello, &lt;b&gt;Bob&lt;/b&gt;!" in escaped.text


def check_form_redirects(server: Server) -> None:
    posted = requests.post(
        server.url + "/guestbook",
        data={"name": "Ada", "message": "Hi <there>"},
        allow_redirects=False,
        timeout=10,
    )
    assert posted.status_code == 302
    assert posted.headers["location"] == "/guestbook"
    page = requests.get(server.url + "/guestbook", timeout=10)
    assert "<li><strong>Ada</strong>: Hi &lt;there&gt;</li>" in page.text
    assert '<form method="post" action="/guestbook">' in page.text
    # A GET of the script itself stores nothing and goes back to the page.
    assert requests.get(server.url + "/sign", allow_redirects=False, timeout=10).status_code == 302
    assert requests.get(server.url + "/guestbook", timeout=10).text.count("<li>") == 1


def check_cookie(server: Server) -> None:
    with requests.Session() as browser:
        first = browser.get(server.url + "/guestbook", timeout=10)
        assert "Welcome back" not in first.text
        posted = browser.post(
            server.url + "/guestbook",
            data={"name": "Ada Lovelace", "message": "Hello"},
            allow_redirects=False,
            timeout=10,
        )
        set_cookie = posted.headers["set-cookie"]
        assert set_cookie.startswith("name=Ada%20Lovelace;")
        assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
        assert "max-age=2592000" in set_cookie.lower()
        page = browser.get(server.url + "/guestbook", timeout=10)
        assert "<p>You signed 1 time(s) from this browser.</p>" in page.text
        session_cookie = posted.cookies["krait_session"]
        browser.post(
            server.url + "/guestbook", data={"name": "Ada", "message": "Again"}, timeout=10
        )
        assert (
            "<p>You signed 2 time(s) from this browser.</p>"
            in browser.get(server.url + "/guestbook", timeout=10).text
        )
    assert "<p>Welcome back, Ada Lovelace.</p>" in page.text
    assert 'value="Ada Lovelace"' in page.text
    assert session_cookie
    stranger = requests.get(server.url + "/guestbook", timeout=10).text
    assert "from this browser" not in stranger
    forged = requests.get(
        server.url + "/guestbook",
        cookies={"krait_session": session_cookie[:-4] + "AAAA"},
        timeout=10,
    ).text
    assert "from this browser" not in forged


def check_controller(server: Server) -> None:
    home = requests.get(server.url + "/", timeout=10)
    assert home.status_code == 200
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert "<p>The guestbook has 0 signatures.</p>" in home.text
    requests.post(server.url + "/guestbook", data={"name": "Ada", "message": "Hi"}, timeout=10)
    home = requests.get(server.url + "/", timeout=10)
    assert "<p>The guestbook has 1 signature.</p>" in home.text
    assert "Welcome to mysite" in requests.get(server.url + "/index", timeout=10).text


def check_chat(server: Server) -> None:
    page = requests.get(server.url + "/chat", timeout=10)
    assert page.status_code == 200
    assert "new WebSocket" in page.text
    url = f"ws://127.0.0.1:{server.port}/chat/socket"
    ann = websocket.create_connection(url, timeout=10)
    bob = websocket.create_connection(url, timeout=10)
    try:
        ann.send("hello from Ann")
        assert bob.recv() == "hello from Ann"
        assert ann.recv() == "hello from Ann"
    finally:
        ann.close()
        bob.close()
    assert requests.get(server.url + "/chat_socket", timeout=10).status_code == 400


def check_error_page(server: Server) -> None:
    missing = requests.get(server.url + "/nothing/here", timeout=10)
    assert missing.status_code == 404
    assert "<h1>Nothing at /nothing/here</h1>" in missing.text
    hostile = requests.get(server.url + "/%3Cscript%3Ealert(1)%3C/script%3E", timeout=10)
    assert hostile.status_code == 404
    assert "<h1>Nothing at /&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in hostile.text
    assert requests.get(server.url + "/", timeout=10).status_code == 200


CHECKS: dict[str, Callable[[Server], None]] = {
    "Step 1": check_first_page,
    "Step 2": check_template,
    "Step 3": check_form_redirects,
    "Step 4": check_cookie,
    "Step 5": check_controller,
    "Step 6": check_chat,
    "Step 7": check_error_page,
}


def step_key(section: Section) -> str:
    return section.title.split(":", 1)[0]


@pytest.mark.parametrize("page", ["tutorial.md", "getting-started.md"])
def test_every_code_block_is_a_file_of_the_site_or_a_command(page: str) -> None:
    unchecked = [
        block.text.splitlines()[0] if block.text else "(empty)"
        for block in blocks_of((REPO / "docs" / page).read_text())
        if block.path is None and block.language not in NOT_FILES
    ]
    assert unchecked == [], "blocks neither written into the site nor marked as commands"


def test_every_step_has_a_check() -> None:
    assert [step_key(step) for step in STEPS] == list(CHECKS)


@pytest.mark.parametrize("number", range(len(STEPS)), ids=[step_key(step) for step in STEPS])
def test_the_site_of_each_step_does_what_the_step_says(number: int, tmp_path: Path) -> None:
    site = tmp_path / "mysite"
    site.mkdir()
    for step in STEPS[: number + 1]:
        write_files(site, step.files())
    # Step 4 onwards reads the session's key from the environment, as the tutorial says.
    secret = {"MYSITE_SECRET_KEY": secrets.token_urlsafe(32)}
    server = start_server(site, tmp_path / "logs", env=secret)
    try:
        CHECKS[step_key(STEPS[number])](server)
    finally:
        server.stop()
    log = server.stderr()
    assert "#warn]" not in log and "#error]" not in log, log
