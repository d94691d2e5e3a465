"""Malformed and oversized request heads get a status with a reason, never a silent close."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, raw_exchange, start_server, status_of, write_site

from krait._http import host_problem


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
    assert b"\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS" in answer


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
