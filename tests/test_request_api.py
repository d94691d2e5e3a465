"""``krait.request`` as scripts see it, over real sockets; request bodies over the size limit.

The scripts answer with JSON of what they saw, so each test compares plain values.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from conftest import Server, free_port, start_server, write_site

import krait
from krait import cookie

INIT = """\
from krait.config import Route
import krait

krait.config.routes = [
    Route("ANY", regex=r"/echo(/.*)?", target="echo.py"),
    Route("ANY"),
]
"""

ECHO = """\
import json
r = krait.request
krait.set_content_type(raw="application/json")
return json.dumps({
    "method": r.http_method,
    "url": r.url,
    "query_string": r.query_string,
    "query": r.query,
    "version": r.http_version,
    "headers": r.headers,
    "body": r.body.hex(),
})
"""

SITE: dict[str, str | bytes] = {
    ".py/init.py": INIT,
    "echo.py": ECHO,
    "form.py": "import json\nreturn json.dumps(krait.request.get_post_form())\n",
    "multipart.py": (
        "import json\n"
        "form = krait.request.get_multipart_form()\n"
        "if form is None:\n"
        "    return 'not a multipart form'\n"
        "return json.dumps([[p.name, p.filename, p.content_type, p.data.decode('latin-1')]\n"
        "                   for p in form])\n"
    ),
    "uploads.py": (
        "import json, hashlib\n"
        "return json.dumps([\n"
        "    [p.name, p.filename, p.size, hashlib.sha256(p.file.read()).hexdigest()]\n"
        "    for p in krait.request.get_uploads()\n"
        "])\n"
    ),
    "text.py": "return str(krait.request)\n",
}

LIMIT = 1000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("request")
    server = start_server(
        write_site(root / "site", SITE), root / "logs", "--max-body-size", str(LIMIT)
    )
    yield server
    server.stop()


def echo(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def raw_exchange(server: Server, data: bytes, shut_write: bool = False) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    return bytes(received)


def multipart(boundary: str, parts: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    """A multipart/form-data body from ``(name, filename, content type, data)`` parts."""
    body = bytearray()
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type is not None:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body)


def test_method_path_and_query_are_decoded(site: Server) -> None:
    seen = echo(requests.get(site.url + "/echo/caf%C3%A9%20x?a=1&b=x+y&a=2&c=p%3Dq=r", timeout=10))
    assert seen["method"] == "GET"
    assert seen["url"] == "/echo/café x"
    assert seen["query_string"] == "a=1&b=x+y&a=2&c=p%3Dq=r"
    assert seen["query"] == {"a": "2", "b": "x y", "c": "p=q=r"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_method_is_the_one_sent(site: Server, method: str) -> None:
    assert echo(requests.request(method, site.url + "/echo", timeout=10))["method"] == method


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_http_version_is_the_one_the_client_sent(site: Server, version: str) -> None:
    raw = raw_exchange(
        site, f"GET /echo {version}\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    seen = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert seen["version"] == version


def test_header_names_are_lower_cased_and_repeats_joined(site: Server) -> None:
    raw = raw_exchange(
        site,
        b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Mixed-Case: One\r\nX-Repeat: a\r\n"
        b"x-repeat: b\r\nConnection: close\r\n\r\n",
    )
    headers = json.loads(raw.partition(b"\r\n\r\n")[2])["headers"]
    assert headers["x-mixed-case"] == "One"
    assert headers["x-repeat"] == "a, b"
    assert all(name == name.lower() for name in headers)


def test_body_is_the_raw_bytes(site: Server) -> None:
    body = bytes(range(256))
    assert echo(requests.post(site.url + "/echo", data=body, timeout=10))["body"] == body.hex()


def test_chunked_body_is_reassembled(site: Server) -> None:
    raw = raw_exchange(
        site,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        b"\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["body"] == b"hello world".hex()


def test_post_form_is_parsed(site: Server) -> None:
    response = requests.post(
        site.url + "/form", data={"name": "Ada Lovelace", "eq": "a=b", "amp": "1&2"}, timeout=10
    )
    assert response.json() == {"name": "Ada Lovelace", "eq": "a=b", "amp": "1&2"}


def test_sloppy_form_is_parsed_leniently(site: Server) -> None:
    response = requests.post(site.url + "/form", data=b"a=%zz&b=\xff&c&&d=1", timeout=10)
    assert response.json() == {"a": "%zz", "b": "\ufffd", "c": "", "d": "1"}


def test_multipart_form_lists_fields_and_files(site: Server) -> None:
    files = {"doc": ("notes.txt", b"line 1\r\nline 2", "text/plain")}
    response = requests.post(site.url + "/multipart", data={"title": "Hi"}, files=files, timeout=10)
    assert response.json() == [
        ["title", None, "text/plain", "Hi"],
        ["doc", "notes.txt", "text/plain", "line 1\r\nline 2"],
    ]


def test_uploads_give_sizes_and_contents(site: Server) -> None:
    body = multipart("b0und", [("a", "a.bin", "application/octet-stream", b"\x00" * 600)])
    response = requests.post(
        site.url + "/uploads",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=b0und"},
        timeout=10,
    )
    assert response.json() == [["a", "a.bin", 600, hashlib.sha256(b"\x00" * 600).hexdigest()]]


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("multipart/form-data; boundary=zz", b"0123456789", "first boundary"),
        ("multipart/form-data; boundary=zz", b"--zz\r\nX: y\r\n\r\ndata\r\n--zz--", "no Content-"),
    ],
)
def test_malformed_multipart_is_a_400_with_the_reason(
    site: Server, content_type: str, body: bytes, reason: str
) -> None:
    response = requests.post(
        site.url + "/multipart", data=body, headers={"Content-Type": content_type}, timeout=10
    )
    assert response.status_code == 400
    assert reason in response.text


@pytest.mark.parametrize(
    "content_type", [None, "multipart/form-data", "text/plain", "application/json"]
)
def test_multipart_form_of_a_request_that_is_not_one_is_none(
    site: Server, content_type: str | None
) -> None:
    """As in the original, sites test ``if form is None`` (missing type, other type, no
    boundary); krait logs why instead of answering 400."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = requests.post(
        site.url + "/multipart", data=b"--zz--\r\n", headers=headers, timeout=10
    )
    assert response.status_code == 200
    assert response.text == "not a multipart form"


def test_uploads_of_a_request_that_is_not_multipart_is_a_400_with_the_reason(site: Server) -> None:
    response = requests.post(
        site.url + "/uploads", data=b"hello", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert response.status_code == 400
    assert "not &#x27;multipart/form-data&#x27;" in response.text


def test_request_as_text(site: Server) -> None:
    response = requests.post(
        site.url + "/text?x=1", data=b"body!", headers={"X-A": "b"}, timeout=10
    )
    head, _, body = response.text.partition("\r\n\r\n")
    assert head.startswith("POST /text?x=1 HTTP/1.1\r\n")
    assert "\r\nx-a: b" in head
    assert body == "body!"


def test_body_at_the_limit_is_accepted(site: Server) -> None:
    body = b"x" * LIMIT
    assert echo(requests.post(site.url + "/echo", data=body, timeout=10))["body"] == body.hex()


def test_declared_length_over_the_limit_is_refused_before_the_body_is_sent(site: Server) -> None:
    """The 413 arrives while the client has sent only a few of the declared bytes."""
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nfirst bytes"
        )
        answer = bytearray()
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
    assert b"Connection: close" in answer


def test_over_the_limit_with_expect_continue_never_invites_the_body(site: Server) -> None:
    raw = raw_exchange(
        site,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
        shut_write=True,
    )
    assert raw.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in raw


def test_within_the_limit_expect_continue_is_answered(site: Server) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"abc")
        answer = bytearray()
        while chunk := sock.recv(65536):
            answer += chunk
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["body"] == b"abc".hex()


def test_chunked_body_over_the_limit_is_refused_while_it_arrives(site: Server) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            sock.sendall(b"200\r\n" + b"x" * 0x200 + b"\r\n")
        answer = bytearray()
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 Content Too Large\r\n")


def test_complete_chunked_body_over_the_limit_is_refused(site: Server) -> None:
    chunk = b"400\r\n" + b"x" * 0x400 + b"\r\n"
    raw = raw_exchange(
        site,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunk
        + b"0\r\n\r\n",
    )
    assert raw.startswith(b"HTTP/1.1 413 ")
    assert requests.get(site.url + "/echo", timeout=10).status_code == 200


def _curl_with_http2() -> str | None:
    curl = shutil.which("curl")
    if curl is None:
        return None
    version = subprocess.run([curl, "-V"], capture_output=True, text=True, check=False).stdout
    return curl if "HTTP2" in version else None


@pytest.mark.skipif(_curl_with_http2() is None, reason="needs curl with HTTP/2")
def test_http2_body_over_the_limit_is_a_413(tmp_path: Path) -> None:
    authority = trustme.CA()
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "server.pem")
    )
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = free_port()
    pem = tmp_path / "server.pem"
    listen = f"ssl:{port}:interface=127.0.0.1:privateKey={pem}:certKey={pem}"
    root = write_site(tmp_path / "site", SITE)
    server = start_server(
        root,
        tmp_path / "logs",
        "--listen",
        listen,
        "--max-body-size",
        "1000",
        listen=False,
        port=port,
    )
    curl = [str(_curl_with_http2()), "-s", "--http2", "--cacert", str(tmp_path / "ca.pem")]
    try:
        over = subprocess.run(
            [
                *curl,
                "-w",
                " %{http_version} %{http_code}",
                "--data-binary",
                "x" * 5000,
                f"https://127.0.0.1:{port}/echo",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        within = subprocess.run(
            [
                *curl,
                "-w",
                " %{http_version} %{http_code}",
                "--data-binary",
                "small",
                f"https://127.0.0.1:{port}/echo",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        server.stop()
    assert over.stdout.startswith("413 Content Too Large")
    assert over.stdout.endswith(" 2 413")
    assert within.stdout.endswith(" 2 200")


def test_request_state_outside_a_request_reads_as_the_original_defaults() -> None:
    assert (krait.request, krait.response, krait.extra_headers) == (None, None, [])
    assert hasattr(krait, "request")
    assert {"request", "response", "extra_headers"} <= set(dir(krait))
    krait.extra_headers.append(("X-Lost", "1"))  # a fresh list each time: nothing leaks
    assert krait.extra_headers == []


def test_star_import_of_krait_works_outside_a_request() -> None:
    names: dict[str, object] = {}
    exec("from krait import *", names)
    assert names["response"] is None
    assert names["Request"] is krait.Request


def _set_response() -> None:
    krait.response = krait.ResponseNotFound()


@pytest.mark.parametrize(
    "act",
    [_set_response, lambda: krait.set_content_type(ext="json"), cookie.get_cookies],
)
def test_acting_on_request_state_outside_a_request_raises_no_active_request_error(
    act: Any,
) -> None:
    with pytest.raises(krait.NoActiveRequestError, match="only while a request is handled"):
        act()


def test_no_active_request_error_is_a_runtime_error() -> None:
    assert issubclass(krait.NoActiveRequestError, RuntimeError)
