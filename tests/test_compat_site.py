"""A site written for the original Krait 1.0 runs on krait unchanged.

``tests/compat_site/`` is modelled on the original's demo site and written in its style: a
bare ``import krait``, ``class X(object)`` controllers routed by decorators and rendered
through ``@import-ctrl``, a guestbook in sqlite behind a POST/redirect/GET, cookies with
``expires``, and a threaded ticker on a WebSocket. These tests drive it the way its users
did, over HTTP and HTTPS (its certificate named in ``init.py``, as in the original): with an
HTTP client, a WebSocket client and headless Chromium.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import re
import shutil
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
import websocket
from conftest import CHROMIUM, Server, free_port, start_server, wait_for, wait_for_port
from cryptography.hazmat.primitives import serialization

try:
    from playwright import sync_api
except ImportError:  # only the browser tests need it
    sync_api = None

SITE = Path(__file__).resolve().parent / "compat_site"
PASSPHRASE = "a passphrase kept in .private"

# (path, <title>, id of the header item marked active)
PAGES = [
    ("/", "Welcome to Krait!", "header-li-home"),
    ("/db", "DB Access", "header-li-db-access"),
    ("/http", "Your HTTP request", "header-li-your-request"),
    ("/ws", "Websockets Test", "header-li-websockets"),
    ("/about", "About", "header-li-about"),
]
# The body of krait.ResponseBadRequest(), with the original's typo: the site's own answer.
SITE_BAD_REQUEST = b"<h1>404 Bad Request</h1>"

BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sync_api is None, reason="Playwright is not installed: pip install '.[test]'"
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no {CHROMIUM}: .ci/run installs it (apt chromium)"
    ),
]


@dataclass(frozen=True)
class CompatServer:
    """The compat site served on a plain and on an HTTPS port."""

    server: Server
    site: Path
    https_port: int
    ca_file: Path


@dataclass(frozen=True)
class Origin:
    """One way into the site: its base URL, and what a client needs to trust it."""

    url: str
    ca_file: Path | None

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws_socket"

    @property
    def verify(self) -> str | bool:
        return str(self.ca_file) if self.ca_file else True

    def get(self, path: str, **options: Any) -> requests.Response:
        return requests.get(self.url + path, verify=self.verify, timeout=10, **options)

    def post(self, path: str, **options: Any) -> requests.Response:
        return requests.post(self.url + path, verify=self.verify, timeout=10, **options)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = self.verify
        session.trust_env = False  # else REQUESTS_CA_BUNDLE would override ``verify``
        return session

    def ticker(self, **options: Any) -> websocket.WebSocket:
        """A WebSocket connection to the site's ticker, offering its subprotocol."""
        sslopt = {"ca_certs": str(self.ca_file)} if self.ca_file else None
        options.setdefault("subprotocols", ["ticker"])
        return websocket.create_connection(self.ws_url, timeout=10, sslopt=sslopt, **options)

    def info(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.get("/info").json()
        return answer


def install_certificate(site: Path, authority: trustme.CA) -> None:
    """Put a certificate and an encrypted key where the site's init.py looks for them."""
    cert = authority.issue_cert("127.0.0.1", "localhost")
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    ssl_dir = site / ".private" / "ssl"
    ssl_dir.mkdir(parents=True)
    (ssl_dir / "cert.pem").write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    (ssl_dir / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        )
    )
    (ssl_dir / "pk_passphrase").write_text(PASSPHRASE + "\n")


@pytest.fixture(scope="module")
def compat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CompatServer]:
    """The compat site, copied so that its database starts empty, on HTTP and HTTPS."""
    root = tmp_path_factory.mktemp("compat")
    site = root / "site"
    # Without what a run by hand may have left in .private/: the database and certificates.
    shutil.copytree(SITE, site, ignore=shutil.ignore_patterns("__pycache__", "db", "ssl"))
    authority = trustme.CA()
    install_certificate(site, authority)
    ca_file = root / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    https_port = free_port()
    server = start_server(site, root / "logs", "--https", str(https_port), "--no-access-log")
    try:
        wait_for_port(https_port, server.process)
        yield CompatServer(server, site, https_port, ca_file)
    finally:
        assert server.stop() == 0, server.stderr()


@pytest.fixture(params=["http", "https"])
def origin(request: pytest.FixtureRequest, compat: CompatServer) -> Origin:
    if request.param == "http":
        return Origin(compat.server.url, None)
    return Origin(f"https://127.0.0.1:{compat.https_port}", compat.ca_file)


# Pages, MVC and templates


@pytest.mark.parametrize(("path", "title", "active_item"), PAGES)
def test_every_page_renders_its_view_inside_the_shared_header(
    origin: Origin, path: str, title: str, active_item: str
) -> None:
    response = origin.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    page = response.text
    assert f"<title>{title}</title>" in page
    assert '<h3 id="project-name">Krait Compat</h3>' in page
    assert f'<li class="active" id="{active_item}">' in page
    assert page.count('class="active"') == 1


@pytest.mark.parametrize("path", ["/", "/db"])
def test_pages_embed_the_comment_counter_controller_with_import_ctrl(
    origin: Origin, path: str
) -> None:
    page = origin.get(path, cookies={"comment_count": "4"}).text
    assert '<p id="comment-count">You left 4 comment(s) in the last minute.</p>' in page


def test_a_route_builds_its_controller_with_any_callable(origin: Origin) -> None:
    page = origin.get("/simple").text
    assert '<h1 id="greeting">Hello from a SimpleCtrl</h1>' in page


def test_head_of_a_page_has_the_length_of_its_get_and_no_body(origin: Origin) -> None:
    head = requests.head(origin.url + "/about", verify=origin.verify, timeout=10)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["Content-Length"]) == len(origin.get("/about").content)


def test_a_script_hands_its_controller_to_set_init_ctrl(origin: Origin) -> None:
    page = origin.get("/about").text
    assert re.search(r'running on Python <span id="python-version">3\.\d+</span>', page)


def test_the_request_page_shows_the_decoded_request(origin: Origin) -> None:
    page = origin.get("/http?b=2&a=x%20y", headers={"User-Agent": "<compat>"}).text
    shown = re.search(r'<pre id="request">(.*?)</pre>', page, re.DOTALL)
    assert shown is not None
    lines = shown.group(1).split("\n")
    assert lines[0] == "GET /http?a=x y&amp;b=2 HTTP/1.1"
    assert "user-agent: &lt;compat&gt;" in lines


def test_stacked_decorators_route_a_url_and_a_regex_to_one_controller(origin: Origin) -> None:
    page = origin.get("/http+more").text
    assert '<pre id="request">GET /http+more HTTP/1.1' in page
    assert origin.get("/httpmore").status_code == 404


def test_module_globals_are_shared_by_every_connection(origin: Origin) -> None:
    """krait serves from one process: a counter in a site module counts every request
    (the original forked a process per connection, which forgot it)."""
    first = origin.get("/").text
    second = origin.get("/").text
    number = re.compile(r'<span id="view-number">(\d+)</span>')
    first_match, second_match = number.search(first), number.search(second)
    assert first_match is not None and second_match is not None
    assert int(second_match.group(1)) > int(first_match.group(1))
    assert origin.info()["page_views"] >= int(second_match.group(1))


# Scripts: krait.site_root, get_full_path, extra_headers, set_content_type, forms


def test_a_script_sees_the_site_root_and_sets_headers_and_content_type(
    origin: Origin, compat: CompatServer
) -> None:
    response = origin.get("/info")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Project-Name"] == "Krait Compat"
    info = json.loads(response.text)
    assert info["site_root"] == str(compat.site)
    assert info["index_view"] == str(compat.site / ".view" / "index.html")
    assert info["index_view_exists"] is True


def messages_of(page: str, name: str) -> list[str]:
    """The messages the guestbook page lists for ``name``, oldest first, as HTML."""
    return re.findall(rf'<li class="message"><b>{name}</b> says: <span>(.*?)</span></li>', page)


def test_a_comment_is_stored_then_redirected_to_the_list_and_counted_in_a_cookie(
    origin: Origin,
) -> None:
    name = f"Ada {uuid.uuid4().hex[:8]}"
    with origin.session() as browser_like:
        posted = browser_like.post(
            origin.url + "/comment",
            data={"name": name, "text": "<b>hi</b> & bye"},
            allow_redirects=False,
        )
        assert (posted.status_code, posted.reason) == (302, "Found")
        assert posted.headers["Location"] == "/db"
        cookie = posted.headers["Set-Cookie"]
        expires = re.fullmatch(r"comment_count=1; expires=([^;]+); HttpOnly", cookie)
        assert expires is not None, cookie
        now = datetime.datetime.now(datetime.UTC)
        lifetime = email.utils.parsedate_to_datetime(expires.group(1)) - now
        assert datetime.timedelta(seconds=50) < lifetime <= datetime.timedelta(seconds=61)

        listed = browser_like.get(origin.url + "/db").text
        assert messages_of(listed, name) == ["&lt;b&gt;hi&lt;/b&gt; &amp; bye"]
        assert "You left 1 comment(s)" in listed

        followed = browser_like.post(origin.url + "/comment", data={"name": name, "text": "again"})
        assert [step.status_code for step in followed.history] == [302]
        assert followed.url == origin.url + "/db"
        assert messages_of(followed.text, name) == ["&lt;b&gt;hi&lt;/b&gt; &amp; bye", "again"]
        assert "You left 2 comment(s)" in followed.text


@pytest.mark.parametrize(
    "content",
    [
        {"data": {"name": "x"}},
        {"data": b"raw", "headers": {"Content-Type": "text/plain"}},
        {"data": b"", "headers": {"Content-Type": "multipart/form-data"}},
    ],
    ids=["urlencoded", "text", "multipart-without-boundary"],
)
def test_get_multipart_form_is_none_for_a_post_that_is_not_multipart(
    origin: Origin, content: dict[str, Any]
) -> None:
    response = origin.post("/upload", **content)
    assert response.status_code == 400
    assert SITE_BAD_REQUEST in response.content


def test_a_multipart_upload_lists_its_parts_as_raw_text_plain(origin: Origin) -> None:
    response = origin.post(
        "/upload",
        data={"field": "value"},
        files={"file": ("notes.txt", b"\x00\x01binary", "application/octet-stream")},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain"
    assert response.text.split("\n") == [
        "field None text/plain 5",
        "file notes.txt application/octet-stream 8",
    ]


# Static files and what is never served


@pytest.mark.parametrize("path", ["/css/site.css", "/js/ticker.js"])
def test_static_files_follow_the_long_term_cache_rule_and_revalidate(
    origin: Origin, path: str
) -> None:
    response = origin.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "max-age=86400, must-revalidate"
    again = origin.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path", ["/.py/init.py", "/.private/db", "/.private/ssl/key.pem", "/.view/index.html"]
)
def test_hidden_folders_are_never_served(origin: Origin, path: str) -> None:
    assert origin.get(path).status_code == 404


def test_a_plain_get_of_the_socket_url_gets_the_scripts_bad_request(origin: Origin) -> None:
    response = origin.get("/ws_socket")
    assert response.status_code == 400
    assert SITE_BAD_REQUEST in response.content


def test_a_method_no_route_takes_is_405_with_allow(origin: Origin) -> None:
    """The original answered 500 to a request no route took."""
    response = origin.post("/db", data={"name": "x"})
    assert (response.status_code, response.reason) == (405, "Method Not Allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


# The WebSocket ticker


def receive_until(ws: websocket.WebSocket, wanted: str, limit: int = 20) -> list[str]:
    """Read messages up to and including ``wanted``; fail after ``limit`` others."""
    received: list[str] = []
    while not received or received[-1] != wanted:
        assert len(received) < limit, f"no {wanted!r} in {received!r}"
        received.append(ws.recv())
    return received


def test_the_ticker_ticks_every_100_ms_and_answers_messages(origin: Origin) -> None:
    ws = origin.ticker()
    try:
        assert ws.getsubprotocol() == "ticker"
        started = time.monotonic()
        assert [ws.recv() for _ in range(4)] == ["TICK 1", "TICK 2", "TICK 3", "TICK 4"]
        assert time.monotonic() - started >= 0.25
        ws.send("hello")
        assert all(m.startswith("TICK ") for m in receive_until(ws, "PONG: hello")[:-1])
        ws.send("reset")
        receive_until(ws, "PONG: reset")
        assert ws.recv() == "TICK 1"
    finally:
        ws.close()


@pytest.mark.parametrize("goodbye", ["close", "drop"])
def test_the_ticker_thread_ends_when_its_client_goes(origin: Origin, goodbye: str) -> None:
    """``on_stop`` ends the loop also when the network connection just drops (the original
    never called it then, and the thread ticked on)."""
    ws = origin.ticker()
    try:
        assert ws.recv() == "TICK 1"
        assert origin.info()["tickers_running"] >= 1
    finally:
        if goodbye == "close":
            ws.close()
        else:
            ws.sock.shutdown(socket.SHUT_RDWR)
            ws.sock.close()
    assert wait_for(lambda: origin.info()["tickers_running"] == 0)


def test_an_upgrade_without_the_ticker_subprotocol_is_refused(origin: Origin) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        origin.ticker(subprotocols=[])
    assert refused.value.status_code == 400


def test_https_serves_the_certificate_named_in_init_py(compat: CompatServer) -> None:
    context = ssl.create_default_context(cafile=str(compat.ca_file))
    with (
        socket.create_connection(("127.0.0.1", compat.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


# In a browser


@pytest.fixture
def tab(browser: Any, origin: Origin) -> Iterator[Any]:
    """A page in a fresh browser context (its own cookies) that trusts the site's
    certificate; the test fails on any script error or failed request."""
    context = browser.new_context(ignore_https_errors=True, base_url=origin.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    yield page
    context.close()
    assert problems == []


class TestInABrowser:
    """Headless Chromium loads the pages, posts the form and runs the page's WebSocket code."""

    pytestmark = BROWSER_MARKS

    def test_every_page_shows_with_its_styles(self, tab: Any) -> None:
        for path, title, active_item in PAGES:
            response = tab.goto(path)
            assert response.status == 200, path
            sync_api.expect(tab).to_have_title(title)
            sync_api.expect(tab.locator(f"#{active_item}")).to_have_class("active")
            link = f"#{active_item} a"
            weight = tab.eval_on_selector(link, "a => getComputedStyle(a).fontWeight")
            assert weight == "700", f"{path}: /css/site.css was not applied"

    def test_the_guestbook_form_adds_an_entry_and_counts_it(self, tab: Any) -> None:
        name = f"Bea {uuid.uuid4().hex[:8]}"
        tab.goto("/db")
        sync_api.expect(tab.locator("#comment-count")).to_contain_text("You left 0 comment(s)")
        tab.fill("#name", name)
        tab.fill("#text", "written in <i>a browser</i>")
        with tab.expect_navigation():
            tab.click("#comment-form button")
        assert tab.url.endswith("/db")
        entry = tab.locator("#messages li", has_text=name)
        sync_api.expect(entry).to_have_text(f"{name} says: written in <i>a browser</i>")
        sync_api.expect(tab.locator("#comment-count")).to_contain_text("You left 1 comment(s)")

    def test_the_ticker_page_shows_the_ticks_and_the_answer_to_a_message(self, tab: Any) -> None:
        tab.goto("/ws")
        sync_api.expect(tab.locator("#ticker")).to_have_attribute("data-state", "open")
        tab.wait_for_function("Number(document.getElementById('tick-count').textContent) >= 3")
        sync_api.expect(tab.locator("#last-tick")).to_have_text(re.compile(r"TICK \d+"))
        tab.fill("#ws-text", "hello from the browser")
        tab.click("#ws-form button")
        sync_api.expect(tab.locator("#ws-log li")).to_have_text(["PONG: hello from the browser"])
        ticks = int(tab.text_content("#tick-count"))
        tab.wait_for_function(
            f"Number(document.getElementById('tick-count').textContent) > {ticks}"
        )
