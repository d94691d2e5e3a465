"""CORS on the wire: ``python -m krait`` with ``krait.config.cors``, spoken to by requests and
curl as a browser would (preflight, then the call), and by an origin it does not allow."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import REPO, Server, start_server, write_site

A = "http://a.example"
"""The origin the site allows (credentials included) under /api/."""
B = "http://b.example"
"""An origin the site does not allow."""

INIT = f"""
from krait.config import Cors, Route

krait.config.routes = [
    Route("PATCH", url="/api/items/{{id}}", target="api/item.py"),
    Route("ANY", url="/api/any", target="api/any.py"),
    Route(url="/api/old", target="api/old.py"),
    Route(url="/api/fail", target="api/fail.py"),
    Route(url="/api/own", target="api/own.py"),
    Route(),
]
krait.config.cors = [
    Cors(
        [{A!r}],
        allow_headers=["Content-Type", "X-Token"],
        expose_headers=["X-Count"],
        allow_credentials=True,
        max_age=600,
        paths=[r"/api/.*"],
    ),
    Cors("*", paths=[r"/public/.*"]),
    Cors(["https://*.c.example"], allow_credentials=True, paths=[r"/wild/.*"]),
]
"""

SITE = {
    ".py/init.py": INIT,
    "api/item.py": (
        "body = krait.request.get_json()\n"
        "krait.response = krait.ResponseJson({'id': krait.request.params['id'], 'body': body,\n"
        "    'token': krait.request.headers.get('x-token')})\n"
        "krait.response.headers.append(('X-Count', '1'))\n"
    ),
    "api/any.py": "krait.response = krait.Response('HTTP/1.1', 200, [('X-Ran', 'yes')], 'ran')\n",
    "api/old.py": "krait.response = krait.ResponseRedirect('/api/data.txt')\n",
    "api/fail.py": "raise ValueError('broken on purpose')\n",
    "api/own.py": (
        "krait.response = krait.Response(\n"
        "    'HTTP/1.1', 200, [('Access-Control-Allow-Origin', 'https://own')], 'own')\n"
    ),
    "api/data.txt": "data\n",
    "api/style.css": "body { color: red; }\n" * 200,
    "public/info.txt": "public\n",
    "wild/info.txt": "wild\n",
    "index.html": "<p>home</p>",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    site = write_site(tmp_path_factory.mktemp("cors") / "site", SITE)
    started = start_server(site, tmp_path_factory.mktemp("cors-logs"))
    yield started
    started.stop()


def preflight(
    server: Server, path: str, origin: str, method: str, headers: str = ""
) -> requests.Response:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return requests.options(server.url + path, headers=asked, timeout=10)


def test_preflight_from_an_allowed_origin_gets_204_and_the_settings(server: Server) -> None:
    answer = preflight(server, "/api/items/7", A, "PATCH", "content-type, x-token")
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == A
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    # Route() serves GET and HEAD of every path, the first route PATCH.
    assert answer.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS, PATCH"
    assert answer.headers["Access-Control-Allow-Headers"] == "Content-Type, X-Token"
    assert answer.headers["Access-Control-Max-Age"] == "600"
    assert answer.headers["Vary"] == "Origin"
    assert answer.content == b""
    assert "Content-Length" not in answer.headers


def test_preflight_is_answered_without_running_the_page(server: Server) -> None:
    answer = preflight(server, "/api/any", A, "DELETE")
    assert answer.status_code == 204
    assert "X-Ran" not in answer.headers
    assert "DELETE" in answer.headers["Access-Control-Allow-Methods"]


def test_options_without_request_method_runs_the_route_and_gets_cors(server: Server) -> None:
    answer = requests.options(server.url + "/api/any", headers={"Origin": A}, timeout=10)
    assert answer.headers["X-Ran"] == "yes"
    assert answer.headers["Access-Control-Allow-Origin"] == A


def test_the_call_itself_gets_the_origin_credentials_and_exposed_headers(server: Server) -> None:
    answer = requests.patch(
        server.url + "/api/items/7",
        json={"done": True},
        headers={"Origin": A, "X-Token": "t0k"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json() == {"id": "7", "body": {"done": True}, "token": "t0k"}
    assert answer.headers["Access-Control-Allow-Origin"] == A
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert answer.headers["Access-Control-Expose-Headers"] == "X-Count"
    assert answer.headers["Vary"] == "Origin"


def test_an_origin_not_allowed_gets_a_plain_options_answer(server: Server) -> None:
    answer = preflight(server, "/api/items/7", B, "PATCH", "x-token")
    assert answer.status_code == 204
    assert answer.headers["Allow"] == "GET, HEAD, OPTIONS, PATCH"
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]


def test_an_origin_not_allowed_gets_the_answer_without_cors_but_with_vary(server: Server) -> None:
    answer = requests.get(server.url + "/api/data.txt", headers={"Origin": B}, timeout=10)
    assert answer.text == "data\n"
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert answer.headers["Vary"] == "Origin"


def test_a_request_without_origin_still_says_vary_origin(server: Server) -> None:
    answer = requests.get(server.url + "/api/data.txt", timeout=10)
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert answer.headers["Vary"] == "Origin"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/data.txt", 200),
        ("GET", "/api/missing", 404),
        ("GET", "/api/fail", 500),
        ("POST", "/api/items/7", 405),
    ],
)
def test_files_and_errors_carry_the_cors_headers(
    server: Server, method: str, path: str, status: int
) -> None:
    answer = requests.request(method, server.url + path, headers={"Origin": A}, timeout=10)
    assert answer.status_code == status
    assert answer.headers["Access-Control-Allow-Origin"] == A
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"


def test_a_redirect_carries_the_cors_headers(server: Server) -> None:
    answer = requests.get(
        server.url + "/api/old", headers={"Origin": A}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    assert answer.headers["Access-Control-Allow-Origin"] == A


def test_a_not_modified_answer_carries_the_cors_headers(server: Server) -> None:
    first = requests.get(server.url + "/api/data.txt", timeout=10)
    answer = requests.get(
        server.url + "/api/data.txt",
        headers={"Origin": A, "If-None-Match": first.headers["ETag"]},
        timeout=10,
    )
    assert answer.status_code == 304
    assert answer.headers["Access-Control-Allow-Origin"] == A


def test_gzip_and_cors_both_appear_in_vary(server: Server) -> None:
    for _ in range(2):  # the second answer comes from krait's memory of the gzip form
        answer = requests.get(
            server.url + "/api/style.css",
            headers={"Origin": A, "Accept-Encoding": "gzip"},
            timeout=10,
        )
        assert answer.headers["Content-Encoding"] == "gzip"
        assert answer.headers["Vary"] == "Accept-Encoding, Origin"
        assert answer.headers["Access-Control-Allow-Origin"] == A


def test_head_gets_the_cors_headers(server: Server) -> None:
    answer = requests.head(server.url + "/api/data.txt", headers={"Origin": A}, timeout=10)
    assert answer.headers["Access-Control-Allow-Origin"] == A


def test_a_page_that_sets_its_own_allow_origin_keeps_it(server: Server) -> None:
    answer = requests.get(server.url + "/api/own", headers={"Origin": A}, timeout=10)
    assert answer.headers["Access-Control-Allow-Origin"] == "https://own"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert answer.headers["Vary"] == "Origin"


def test_star_settings_allow_every_origin_without_vary(server: Server) -> None:
    for headers in ({"Origin": B}, {}):
        answer = requests.get(server.url + "/public/info.txt", headers=headers, timeout=10)
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "Vary" not in answer.headers
        assert "Access-Control-Allow-Credentials" not in answer.headers


def test_paths_outside_the_settings_get_no_cors(server: Server) -> None:
    answer = requests.get(server.url + "/", headers={"Origin": A}, timeout=10)
    assert answer.text == "<p>home</p>"
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Vary" not in answer.headers
    options = preflight(server, "/", A, "GET")
    assert options.status_code == 204
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert "Access-Control-Allow-Origin" not in options.headers


CURL = ("curl", "-s", "-i", "--max-time", "20")


def test_curl_preflight_and_call(server: Server) -> None:
    asked = ("-H", f"Origin: {A}", "-H", "Access-Control-Request-Method: PATCH")
    head = subprocess.run(
        [*CURL, "-X", "OPTIONS", *asked, server.url + "/api/items/1"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    assert head.startswith(b"HTTP/1.1 204")
    assert f"Access-Control-Allow-Origin: {A}\r\n".encode() in head
    sent = ("-H", f"Origin: {A}", "-H", "Content-Type: application/json", "--data", '{"n": 1}')
    call = subprocess.run(
        [*CURL, "-X", "PATCH", *sent, server.url + "/api/items/1"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    assert call.startswith(b"HTTP/1.1 200")
    assert f"Access-Control-Allow-Origin: {A}\r\n".encode() in call
    assert call.endswith(b'{"id":"1","body":{"n":1},"token":null}')


def test_a_site_without_cors_answers_options_with_204_and_allow(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "hi"})
    plain = start_server(site, tmp_path / "logs")
    try:
        answer = requests.options(
            plain.url + "/",
            headers={"Origin": A, "Access-Control-Request-Method": "GET"},
            timeout=10,
        )
    finally:
        plain.stop()
    assert answer.status_code == 204
    assert answer.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
    assert "Vary" not in answer.headers


@pytest.mark.parametrize(
    ("init", "says"),
    [
        (
            "import krait\n\nkrait.config.cors = krait.config.Cors('*', allow_credentials=True)\n",
            ["init.py:3", "cannot go with allow_origins='*'", "fix: list the origins"],
        ),
        (
            "import krait\nkrait.config.cors = krait.config.Cors('*', max_agee=5)\n",
            ["init.py:2", "unexpected keyword argument 'max_agee'"],
        ),
        (
            "import krait\nkrait.config.cors = {'allow_origins': '*'}\n",
            ["init.py:2", "must be a krait.config.Cors", "fix:"],
        ),
    ],
)
def test_bad_cors_settings_stop_the_start_up_naming_the_line(
    tmp_path: Path, init: str, says: list[str]
) -> None:
    site = write_site(tmp_path / "site", {".py/init.py": init})
    done = subprocess.run(
        [sys.executable, "-m", "krait", str(site), "--listen", "tcp:0:interface=127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    for needle in says:
        assert needle in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.c.example", True),
        ("https://a.b.c.example", True),
        ("HTTPS://APP.C.EXAMPLE", True),
        ("https://c.example.evil.net", False),
        ("https://evilc.example", False),
        ("https://c.example", False),
        ("https://.c.example", False),
        ("https://app.c.example:8443", False),
        ("http://app.c.example", False),
        ("null", False),
        ("https://app.c.example, https://evil.net", False),
    ],
)
def test_hostile_origins_get_no_access_against_a_wildcard_with_credentials(
    server: Server, origin: str, allowed: bool
) -> None:
    asked = preflight(server, "/wild/info.txt", origin, "PUT")
    call = requests.get(server.url + "/wild/info.txt", headers={"Origin": origin}, timeout=10)
    for answer in (asked, call):
        assert answer.headers.get("access-control-allow-origin") == (origin if allowed else None)
        assert ("access-control-allow-credentials" in answer.headers) is allowed
        assert "Origin" in answer.headers["vary"]
