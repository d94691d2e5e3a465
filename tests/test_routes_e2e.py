"""Routes, target probing and error answers on the wire.

Two servers for the module: one whose ``init.py`` lists explicit routes (and no catch-all, so
that unknown paths and methods show), and one with no routes at all, which gets the default
``[Route()]`` and with it the original Krait's index and extension probing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from conftest import Server, raw_exchange, start_server, status_of, write_site

ROUTES_INIT = """\
from krait.config import Route
import krait

krait.config.routes = [
    Route(url="/exact", target="pages/exact.txt"),
    Route(regex=r"/re/[0-9]+", target="pages/regex.txt"),
    Route(url="/renamed", target="pages/new-name.json"),
    Route("POST", url="/submit", target="pages/submit.py"),
    Route("ANY", url="/any", target="pages/any.py"),
    Route("WEBSOCKET", url="/ws", target="pages/ws.py"),
    Route(url="/first", target="pages/first.txt"),
    Route(url="/first", target="pages/second.txt"),
    Route(regex=r"/files/.*"),
    Route("POST", url="/post-static", target="pages/exact.txt"),
]
"""

ROUTES_SITE: dict[str, str | bytes] = {
    ".py/init.py": ROUTES_INIT,
    "exact.txt": "the file at the URL, which the route hides\n",
    "pages/exact.txt": "exact route\n",
    "pages/regex.txt": "regex route\n",
    "pages/new-name.json": '{"renamed": true}\n',
    "pages/first.txt": "first route wins\n",
    "pages/second.txt": "second route\n",
    "pages/submit.py": (
        'krait.response = krait.Response("HTTP/1.1", 200, [], '
        '"posted " + krait.request.body.decode())\n'
    ),
    "pages/any.py": (
        'krait.response = krait.Response("HTTP/1.1", 200, [], "any " + krait.request.http_method)\n'
    ),
    "pages/ws.py": "pass\n",
    "files/a.txt": "served by a regex route without target\n",
}

DEFAULT_SITE: dict[str, str | bytes] = {
    "index.html": "<h1>home</h1>\n",
    "about.html": "<h1>about</h1>\n",
    "dir/index.html": "<h1>dir index</h1>\n",
    "old.htm": "<p>only an .htm exists</p>\n",
    "new.html": "<p>only an .html exists</p>\n",
    "both.html": "<p>the .html</p>\n",
    "both.htm": "<p>the .htm</p>\n",
    "hello.py": 'krait.response = krait.Response("HTTP/1.1", 200, [], "hello from a script")\n',
    "noindex/other.txt": "a directory without an index\n",
    "plain.txt": "plain\n",
}


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("routes")
    server = start_server(write_site(root / "site", ROUTES_SITE), root / "logs")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("default")
    server = start_server(write_site(root / "site", DEFAULT_SITE), root / "logs")
    yield server
    server.stop()


def test_url_route_serves_its_target(routed: Server, http: requests.Session) -> None:
    response = http.get(routed.url + "/exact")
    assert response.status_code == 200
    assert response.text == "exact route\n"


def test_url_route_matches_the_path_exactly(routed: Server, http: requests.Session) -> None:
    assert http.get(routed.url + "/exact/").status_code == 404
    assert http.get(routed.url + "/EXACT").status_code == 404


def test_url_route_ignores_the_query(routed: Server, http: requests.Session) -> None:
    assert http.get(routed.url + "/exact?x=1").text == "exact route\n"


@pytest.mark.parametrize(("path", "status"), [("/re/42", 200), ("/re/42x", 404), ("/a/re/42", 404)])
def test_regex_route_must_match_the_whole_path(
    routed: Server, http: requests.Session, path: str, status: int
) -> None:
    response = http.get(routed.url + path)
    assert response.status_code == status
    if status == 200:
        assert response.text == "regex route\n"


def test_route_target_decides_file_and_content_type(routed: Server, http: requests.Session) -> None:
    response = http.get(routed.url + "/renamed")
    assert response.json() == {"renamed": True}
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_first_matching_route_wins(routed: Server, http: requests.Session) -> None:
    assert http.get(routed.url + "/first").text == "first route wins\n"


def test_regex_route_without_target_serves_the_path(routed: Server, http: requests.Session) -> None:
    response = http.get(routed.url + "/files/a.txt")
    assert response.text == "served by a regex route without target\n"


def test_files_no_route_reaches_are_not_found(routed: Server, http: requests.Session) -> None:
    assert http.get(routed.url + "/pages/exact.txt").status_code == 404
    assert http.get(routed.url + "/exact.txt").status_code == 404


def test_post_route_runs_its_script(routed: Server, http: requests.Session) -> None:
    response = http.post(routed.url + "/submit", data=b"a=1")
    assert response.status_code == 200
    assert response.text == "posted a=1"


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_wrong_method_on_a_routed_path_is_not_allowed(
    routed: Server, http: requests.Session, method: str
) -> None:
    response = http.request(method, routed.url + "/submit")
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"


def test_method_not_allowed_on_a_get_route_lists_get_and_head(
    routed: Server, http: requests.Session
) -> None:
    response = http.post(routed.url + "/exact")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_options_on_a_routed_path_answers_allow(routed: Server) -> None:
    raw = raw_exchange(
        routed.port, b"OPTIONS /submit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert status_of(raw) == 204
    assert b"\r\nAllow: OPTIONS, POST\r\n" in head + b"\r\n"
    assert body == b""


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS"])
def test_any_route_takes_every_method(routed: Server, http: requests.Session, method: str) -> None:
    response = http.request(method, routed.url + "/any")
    assert response.status_code == 200
    assert response.text == f"any {method}"


def test_plain_get_on_a_websocket_route_requires_an_upgrade(
    routed: Server, http: requests.Session
) -> None:
    response = http.get(routed.url + "/ws")
    assert response.status_code == 426
    assert response.headers["Upgrade"].lower() == "websocket"
    assert "GET" in response.headers["Allow"]


def test_unknown_path_is_an_html_not_found(routed: Server, http: requests.Session) -> None:
    response = http.get(routed.url + "/nowhere")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "404 Not Found" in response.text


def test_method_not_allowed_page_is_html(routed: Server, http: requests.Session) -> None:
    response = http.put(routed.url + "/exact")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "405 Method Not Allowed" in response.text


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/", "<h1>home</h1>\n"),
        ("/index", "<h1>home</h1>\n"),
        ("/about", "<h1>about</h1>\n"),
        ("/about.html", "<h1>about</h1>\n"),
        ("/dir/", "<h1>dir index</h1>\n"),
        ("/dir", "<h1>dir index</h1>\n"),
        ("/old.html", "<p>only an .htm exists</p>\n"),
        ("/new.htm", "<p>only an .html exists</p>\n"),
        ("/both", "<p>the .html</p>\n"),
        ("/both.htm", "<p>the .htm</p>\n"),
        ("/hello", "hello from a script"),
        ("/hello.py", "hello from a script"),
    ],
)
def test_default_route_probes_index_and_extensions(
    default: Server, http: requests.Session, path: str, text: str
) -> None:
    response = http.get(default.url + path)
    assert response.status_code == 200
    assert response.text == text


@pytest.mark.parametrize("path", ["/noindex/", "/noindex", "/about/", "/plain.txt/", "/missing"])
def test_default_route_without_a_file_is_not_found(
    default: Server, http: requests.Session, path: str
) -> None:
    response = http.get(default.url + path)
    assert response.status_code == 404
    assert "404 Not Found" in response.text


def test_default_route_serves_only_get_and_head(default: Server, http: requests.Session) -> None:
    assert http.head(default.url + "/about").status_code == 200
    response = http.post(default.url + "/about")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    ],
    ids=["garbage", "no-version", "extra-token", "bad-header", "control-in-method", "bad-length"],
)
def test_malformed_request_gets_a_bad_request_answer(default: Server, request_bytes: bytes) -> None:
    raw = raw_exchange(default.port, request_bytes)
    assert raw.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("path", ["/%ff", "/a%zz", "/%c0%ae", "/%ed%a0%80", "/a%0ab"])
def test_undecodable_path_is_a_bad_request(default: Server, path: str) -> None:
    raw = raw_exchange(
        default.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert status_of(raw) == 400
    assert b"<h1>400 Bad Request</h1>" in raw


def test_server_keeps_serving_after_a_bad_request(default: Server, http: requests.Session) -> None:
    raw_exchange(default.port, b"GARBAGE\r\n\r\n")
    assert http.get(default.url + "/about").status_code == 200


def test_absolute_form_request_target_is_served(default: Server) -> None:
    raw = raw_exchange(
        default.port, b"GET http://x/about HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status_of(raw) == 200
    assert raw.endswith(b"<h1>about</h1>\n")


def test_http11_request_without_host_is_a_bad_request(default: Server) -> None:
    raw = raw_exchange(default.port, b"GET /about HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 400


def test_request_target_without_leading_slash_is_a_bad_request(default: Server) -> None:
    raw = raw_exchange(default.port, b"GET about HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 400


def test_post_route_to_a_static_file_serves_it(routed: Server, http: requests.Session) -> None:
    response = http.post(routed.url + "/post-static", data=b"x")
    assert response.status_code == 200
    assert response.text == "exact route\n"
