"""Malformed and oversized request heads get a status with a reason, never a silent close."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, raw_exchange, start_server, status_of, write_site
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.web.resource import Resource
from twisted.web.server import Request

from krait._host import host_problem
from krait._http import KraitSite


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("limits")
    site = write_site(root / "site", {"index.html": "home"})
    running = start_server(site, root / "log")
    yield running
    running.stop()


def exchange(server: Server, data: bytes) -> bytes:
    return raw_exchange(server.port, data)


def test_garbage_request_line_gets_400_with_a_reason(server: Server) -> None:
    answer = exchange(server, b"GARBAGE\r\n\r\n")
    assert status_of(answer) == 400
    assert answer.endswith(b"malformed\n")


def test_bad_header_line_gets_400(server: Server) -> None:
    assert status_of(exchange(server, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")) == 400


def test_request_line_over_8_kib_gets_414(server: Server) -> None:
    answer = exchange(server, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(answer) == 414


def test_single_huge_header_gets_431(server: Server) -> None:
    answer = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n")
    assert status_of(answer) == 431


def test_many_headers_over_16_kib_get_431(server: Server) -> None:
    headers = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 100) for i in range(200))
    answer = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert status_of(answer) == 431


def test_server_keeps_serving_after_refusals(server: Server) -> None:
    exchange(server, b"GARBAGE\r\n\r\n")
    answer = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 200
    assert answer.endswith(b"home")


def test_http_1_0_request_is_answered_in_kind(server: Server, tmp_path: Path) -> None:
    answer = exchange(server, b"GET / HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 200")


@pytest.mark.parametrize(
    "hosts",
    [
        [b"Host: x", b"Host: y"],  # RFC 9112 §3.2: more than one Host
        [b"Host: a b/c"],  # not a host[:port]
        [b"Host: x:80x"],
    ],
)
def test_repeated_or_invalid_host_gets_400(server: Server, hosts: list[bytes]) -> None:
    head = b"GET / HTTP/1.1\r\n" + b"\r\n".join(hosts) + b"\r\nConnection: close\r\n\r\n"
    assert status_of(exchange(server, head)) == 400


@pytest.mark.parametrize("host", [b"example.com:8080", b"127.0.0.1", b"[::1]:80", b""])
def test_valid_host_is_served(server: Server, host: bytes) -> None:
    answer = exchange(server, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 200


def test_options_star_lists_the_methods_in_allow(server: Server) -> None:
    answer = exchange(server, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 204
    assert b"\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS" in answer


def test_absolute_form_scheme_is_case_insensitive(server: Server) -> None:
    answer = exchange(server, b"GET HTTP://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 200
    assert answer.endswith(b"home")


@pytest.mark.parametrize(
    "request_head",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n",
    ],
)
def test_refusals_carry_a_date(server: Server, request_head: bytes) -> None:
    head = exchange(server, request_head).split(b"\r\n\r\n", 1)[0]
    assert b"\r\nDate: " in head


def test_http_1_0_request_with_transfer_encoding_gets_400(server: Server) -> None:
    answer = exchange(
        server,
        b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    assert status_of(answer) == 400


def test_host_rules_as_plain_values() -> None:
    assert host_problem([b"example.com"], b"HTTP/1.1") is None
    assert host_problem(None, b"HTTP/1.0") is None
    assert host_problem(None, b"HTTP/1.1") is not None
    assert host_problem([b"a", b"b"], b"HTTP/1.1") is not None
    assert host_problem([b"a", b"a"], b"HTTP/2") is None  # :authority and Host alike
    assert host_problem([b"a", b"b"], b"HTTP/2") is not None


def test_a_host_value_seen_valid_still_counts_when_repeated() -> None:
    """Remembering valid Host values must not let two Host headers through."""
    assert host_problem([b"seen.example"], b"HTTP/1.1") is None
    assert host_problem([b"seen.example"], b"HTTP/1.1") is None
    assert host_problem([b"seen.example", b"seen.example"], b"HTTP/1.1") is not None
    assert host_problem([b"not a host"], b"HTTP/1.1") is not None
    assert host_problem([b"not a host"], b"HTTP/1.1") is not None


def test_transfer_encoding_identity_does_not_smuggle_the_body_in_as_a_request(
    server: Server,
) -> None:
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = exchange(
        server,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n"
        b"Content-Type: text/plain\r\n\r\n" + smuggled,
    )
    assert status_of(answer) == 400
    assert answer.count(b"HTTP/1.1 ") == 1


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        ([b"gzip", b"chunked"], 501),  # RFC 9112 §6.1: a coding krait does not understand
        ([b"chunked", b"identity"], 400),  # the final coding is not chunked
        ([b"chunked", b"chunked"], 400),
    ],
)
def test_transfer_encoding_split_over_lines_is_read_as_one_list(
    server: Server, lines: list[bytes], status: int
) -> None:
    head = b"".join(b"Transfer-Encoding: " + line + b"\r\n" for line in lines)
    answer = exchange(
        server, b"POST / HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    )
    assert status_of(answer) == status
    assert answer.count(b"HTTP/1.1 ") == 1


@pytest.mark.parametrize(
    "content_length",
    [
        [b"1" * 4400],  # int() refuses over 4,300 digits
        [b"1" * 19],
        [b"+5"],
        [b"5", b"6"],
    ],
)
def test_bad_content_length_gets_400_and_one_log_line_without_traceback(
    server: Server, content_length: list[bytes]
) -> None:
    before = server.stderr()
    head = b"".join(b"Content-Length: " + value + b"\r\n" for value in content_length)
    answer = exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\n" + head + b"\r\nhello")
    assert status_of(answer) == 400
    for _ in range(50):  # the log is written by the server process, a moment later
        logged = server.stderr()[len(before) :]
        if "Content-Length" in logged:
            break
        time.sleep(0.05)
    assert len(logged.splitlines()) == 1, logged
    assert "refused a request head with 400: Content-Length" in logged


def test_repeated_equal_content_lengths_are_one_length(server: Server) -> None:
    answer = exchange(
        server,
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status_of(answer) == 200


class _EchoBody(Resource):
    isLeaf = True

    def render_POST(self, request: Request) -> bytes:
        assert request.content is not None
        return b"body=" + request.content.read()


def _answer_in_process(data: bytes) -> bytes:
    """What krait's channel writes back for ``data``, without a socket or a reactor loop."""
    site = KraitSite(_EchoBody(), access_log=None, reactor=MemoryReactorClock())
    protocol = site.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(data)
    return bytes(transport.value())


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        (b"Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n"),
        (b"Transfer-Encoding: ,CHUNKED", b"5\r\nhello\r\n0\r\n\r\n"),
        (b"Content-Length: 5", b"hello"),
        (b"Content-Length: 5, 5", b"hello"),
    ],
)
def test_channel_reads_a_well_framed_body(framing: bytes, body: bytes) -> None:
    answer = _answer_in_process(
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + framing + b"\r\n\r\n" + body
    )
    assert status_of(answer) == 200
    assert answer.endswith(b"\r\n\r\nbody=hello")


def test_channel_refuses_unknown_coding_with_501_and_reads_no_body() -> None:
    answer = _answer_in_process(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
    )
    assert status_of(answer) == 501
    assert answer.endswith(b"no transfer coding but chunked\n")
    assert b"body=" not in answer


def test_pipelined_requests_with_bodies_in_one_send_are_all_answered_in_order(
    server: Server,
) -> None:
    # Heads that come whole are read in one pass (krait._request_head); the bodies after them,
    # and the requests after the bodies, must still be framed exactly.
    answer = exchange(
        server,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]
    assert len(statuses) == 4
    assert statuses[0] == statuses[3] == 200
    assert statuses[1] == statuses[2]
    assert answer.endswith(b"home")


@pytest.mark.parametrize(
    ("length", "in_memory"), [(0, True), (99_999, True), (100_000, False), (None, False)]
)
def test_small_bodies_are_kept_in_memory_and_large_or_unsized_ones_in_a_file(
    length: int | None, in_memory: bool
) -> None:
    site = KraitSite(Resource(), access_log=None, reactor=MemoryReactorClock())
    content = site.getContentFile(length)
    try:
        assert isinstance(content, io.BytesIO) is in_memory
        content.write(b"body")
        content.seek(0)
        assert content.read() == b"body"
    finally:
        content.close()
