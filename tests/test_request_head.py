"""A request head read in one pass: what is taken whole, and what is left to the line reader."""

from __future__ import annotations

import pytest

from krait._request_head import RequestHead, read_head

LIMITS = {"max_line": 8192, "max_size": 16384, "max_fields": 500}


def read(data: bytes) -> RequestHead | None:
    return read_head(data, **LIMITS)


def test_a_plain_head_is_read_whole_with_where_it_ends() -> None:
    data = b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nNEXT"
    head = read(data)
    assert head == RequestHead(
        b"GET",
        b"/a?b=c",
        b"HTTP/1.1",
        [(b"Host", b"x"), (b"Accept", b"*/*")],
        len(b"GET /a?b=c HTTP/1.1Host: xAccept: */*"),
        len(data) - len(b"NEXT"),
    )


def test_a_head_without_fields_and_an_http_1_0_one_are_read() -> None:
    assert read(b"GET / HTTP/1.0\r\n\r\n") == RequestHead(b"GET", b"/", b"HTTP/1.0", [], 14, 18)


def test_values_lose_the_whitespace_before_them_and_keep_the_rest() -> None:
    head = read(b"GET / HTTP/1.1\r\nA:\t x  y\r\nB:\r\nC:x\r\nd-E: caf\xc3\xa9\x01\x7f\r\n\r\n")
    assert head is not None
    assert head.fields == [
        (b"A", b"x  y"),
        (b"B", b""),
        (b"C", b"x"),
        (b"d-E", b"caf\xc3\xa9\x01\x7f"),
    ]


@pytest.mark.parametrize(
    ("field", "without"),
    [
        (b"A: x ", b"A: x"),
        (b"A: x\t", b"A: x"),
        (b"A: ", b"A:"),
        (b"A:\t", b"A:"),
        (b"A: x \r\nB: y", b"A: x\r\nB: y"),
        (b"B: y\r\nA: x ", b"B: y\r\nA: x"),
    ],
)
def test_a_value_ending_in_whitespace_is_left_to_the_line_reader(
    field: bytes, without: bytes
) -> None:
    # Rare from real clients; twisted.web strips it.
    assert read(b"GET / HTTP/1.1\r\n" + field + b"\r\n\r\n") is None
    assert read(b"GET / HTTP/1.1\r\n" + without + b"\r\n\r\n") is not None


def test_repeated_fields_stay_in_order_as_sent() -> None:
    head = read(
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    assert head is not None
    # Framing is judged afterwards (krait._framing), from every value.
    assert head.fields == [
        (b"Content-Length", b"5"),
        (b"content-length", b"6"),
        (b"Transfer-Encoding", b"chunked"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GET / HTTP/1.1",
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r",
        b"GET / HTTP/1.1\n\n",
    ],
)
def test_a_partial_head_is_left_to_the_line_reader(data: bytes) -> None:
    assert read(data) is None


@pytest.mark.parametrize(
    "data",
    [
        b"\r\nGET / HTTP/1.1\r\n\r\n",  # a stray blank line first (twisted.web eats one)
        b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n folded: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: x\r\n\tfolded\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: x\ny\r\n\r\n",  # bare LF
        b"GET / HTTP/1.1\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: x\ry\r\n\r\n",  # bare CR
        b"GET / HTTP/1.1\r\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: x\x00y\r\n\r\n",  # NUL
        b"GET /\x00 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nA\x00: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nA : x\r\n\r\n",  # space before the colon
        b"GET / HTTP/1.1\r\n: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
        b"GET / HTTP/1.1\r\nCaf\xc3\xa9: x\r\n\r\n",  # non-ASCII name
        b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",  # non-ASCII target
        b"GET  / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1 \r\n\r\n",
        b"GET / extra HTTP/1.1\r\n\r\n",
        b"GET /\tx HTTP/1.1\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b" / HTTP/1.1\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / http/1.1\r\n\r\n",
        b"GET / HTTP/1.10\r\n\r\n",
        b"GET /\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS to a plain port
    ],
)
def test_anything_malformed_is_left_to_the_line_reader(data: bytes) -> None:
    assert read(data) is None


def test_lines_up_to_the_line_limit_are_read_and_longer_ones_left() -> None:
    at_limit = b"GET / HTTP/1.1\r\nA: " + b"x" * (8192 - 3) + b"\r\n\r\n"
    assert read(at_limit) is not None
    assert read(b"GET / HTTP/1.1\r\nA: " + b"x" * (8192 - 2) + b"\r\n\r\n") is None
    target = b"/" + b"a" * (8192 - len(b"GET / HTTP/1.1"))
    assert read(b"GET " + target + b" HTTP/1.1\r\n\r\n") is not None
    assert read(b"GET " + target + b"a HTTP/1.1\r\n\r\n") is None


def test_a_head_up_to_the_size_limit_is_read_and_a_larger_one_left() -> None:
    request_line = b"GET / HTTP/1.1"
    field = b"A: " + b"x" * 997  # 1,000 bytes
    fields = [field] * 16
    last = b"B: " + b"y" * (16384 - len(request_line) - 16 * 1000 - 3)
    at_limit = b"\r\n".join([request_line, *fields, last]) + b"\r\n\r\n"
    head = read(at_limit)
    assert head is not None
    assert head.size == 16384
    assert read(at_limit.replace(b"B: ", b"B: y")) is None


def test_many_fields_up_to_the_count_limit_are_read_and_more_left() -> None:
    fields = b"A: b\r\n" * 500
    head = read(b"GET / HTTP/1.1\r\n" + fields + b"\r\n")
    assert head is not None
    assert len(head.fields) == 500
    assert read(b"GET / HTTP/1.1\r\n" + fields + b"A: b\r\n\r\n") is None


def test_a_huge_buffer_without_a_blank_line_is_not_searched_past_the_limits() -> None:
    # The blank line comes after more than any acceptable head: it is not looked for.
    data = b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * 3000 + b"\r\n"
    assert read(data) is None
    assert read(b"x" * 10_000_000) is None


def test_a_body_and_a_pipelined_request_after_the_head_are_not_read() -> None:
    data = b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    head = read(data)
    assert head is not None
    assert data[head.end :] == b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    assert head.fields == [(b"Content-Length", b"4")]
