"""Pages answered in one write, over a real socket: pipelining, HEAD, HTTP/1.0, cookies, close.

The byte-for-byte comparison with twisted.web's own write is in test_whole_response.py;
these check what only a real TCP transport and server show: answers in order on one
connection, bodies joined to their head or written beside it, the connection closed when
it should be, and the access log's sizes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import Server, raw_exchange, start_server, wait_for, write_site

BIG = 100_000  # above _whole_response.JOIN_LIMIT: written beside its head

SITE = {
    "hello.py": 'return "hello"\n',
    "big.py": f'return "x" * {BIG}\n',
    "cookies.py": (
        'krait.extra_headers.append(("Set-Cookie", "a=1; Path=/"))\n'
        'krait.extra_headers.append(("X-Trace", "7"))\n'
        'krait.extra_headers.append(("set-cookie", "b=2; HttpOnly"))\n'
        'return "baked"\n'
    ),
    "small.txt": "kept in memory\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("whole")
    logs = root / "logs"
    server = start_server(
        write_site(root / "site", SITE), logs, "--access-log", str(logs / "access.log")
    )
    yield server
    server.stop()


def request(method: str, path: str, version: str = "1.1", close: bool = False) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return f"{method} {path} HTTP/{version}\r\nHost: x\r\n{extra}\r\n".encode()


def answers(wire: bytes, methods: list[str]) -> list[tuple[bytes, bytes]]:
    """Split ``wire`` into (head, body) per answer, by Content-Length; nothing may follow."""
    split = []
    rest = wire
    for method in methods:
        head, rest = rest.split(b"\r\n\r\n", 1)
        found = re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n")
        assert found is not None, head
        length = 0 if method == "HEAD" else int(found.group(1))
        split.append((head, rest[:length]))
        rest = rest[length:]
    assert rest == b""
    return split


def test_pipelined_answers_come_in_order_and_the_last_closes(site: Server) -> None:
    methods = ["GET", "HEAD", "GET", "GET"]
    wire = raw_exchange(
        site.port,
        request("GET", "/hello")
        + request("HEAD", "/hello")
        + request("GET", "/big")
        + request("GET", "/cookies", close=True),
    )
    (hello, hello_body), (head, head_body), (big, big_body), (baked, baked_body) = answers(
        wire, methods
    )
    assert hello.startswith(b"HTTP/1.1 200 OK\r\n")
    assert hello_body == b"hello"
    assert b"\r\nContent-Length: 5" in head
    assert head_body == b""
    assert b"\r\nContent-Length: %d" % BIG in big
    assert big_body == b"x" * BIG
    assert baked_body == b"baked"
    assert b"\r\nConnection: close\r\n" in baked + b"\r\n"
    cookies = re.findall(rb"\r\nSet-Cookie: ([^\r]*)", baked)
    assert cookies == [b"a=1; Path=/", b"b=2; HttpOnly"]
    # Both under the first Set-Cookie, as twisted.web groups a header's values.
    assert baked.index(b"X-Trace") > baked.rindex(b"Set-Cookie")
    assert b"\r\nCache-Control: no-cache, no-store, must-revalidate\r\n" in baked


def test_kept_static_answers_and_page_answers_keep_their_order_on_one_connection(
    site: Server,
) -> None:
    # A kept file's answer waits in the transport's buffer, a page's goes to the socket at
    # once when nothing waits before it: interleaved, they must still come in order.
    methods = ["GET", "GET", "HEAD", "GET", "GET"]
    wire = raw_exchange(
        site.port,
        request("GET", "/small.txt")
        + request("GET", "/hello")
        + request("HEAD", "/small.txt")
        + request("GET", "/small.txt")
        + request("GET", "/hello", close=True),
    )
    got = answers(wire, methods)
    assert [body for _, body in got] == [
        b"kept in memory\n",
        b"hello",
        b"",
        b"kept in memory\n",
        b"hello",
    ]
    for head, _ in (got[0], got[2], got[3]):
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nContent-Length: 15\r\n" in head + b"\r\n"
        assert b"\r\nETag: " in head


def test_an_http_1_0_answer_has_its_length_and_the_connection_closes(site: Server) -> None:
    wire = raw_exchange(site.port, request("GET", "/hello", version="1.0"))
    ((head, body),) = answers(wire, ["GET"])  # raw_exchange returned: the server closed
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"Transfer-Encoding" not in head
    assert body == b"hello"


def test_the_access_log_has_each_answer_with_the_bytes_sent(site: Server) -> None:
    raw_exchange(
        site.port,
        request("HEAD", "/big") + request("GET", "/big") + request("GET", "/hello", close=True),
    )
    lines = [
        '"HEAD /big HTTP/1.1" 200 - ',  # no body sent
        f'"GET /big HTTP/1.1" 200 {BIG} ',
        '"GET /hello HTTP/1.1" 200 5 ',
    ]
    access_log = site.log_dir / "access.log"
    assert wait_for(lambda: all(line in access_log.read_text() for line in lines)), (
        access_log.read_text()
    )
