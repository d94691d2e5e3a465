"""A page's whole answer in one write: the same bytes and the same ending as twisted.web's.

Each page result is answered twice over a real ``KraitChannel`` on a ``StringTransport``:
once by ``send_whole`` (the fast path), once with it refused (twisted.web's ``Request.write``
and ``finish``). Everything the client sees must match, status line and header order
included, apart from the ``Date`` value; so must what the server does after (access-log
record, metrics, keep-alive or close, the next pipelined request, ``notifyFinish``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast
from unittest import mock

import pytest
from shell import Held
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web import http, server

import krait._page_writer as page_writer
from krait._context import RequestState
from krait._cross_origin import Prepared, add_prepared, on_head
from krait._drain import Drainer
from krait._http import KraitSite
from krait._metrics_tally import RequestTally
from krait._page_writer import PageWriter
from krait._pages import PageJob, PageResult
from krait._twisted_compat import prepared_headers
from krait._whole_response import JOIN_LIMIT, head_parts, send_whole, status_line
from krait._workers import WorkerPool

JOB = PageJob(kind="script", base_filename="page.html")
ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)
GET = b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n"
CORS = Prepared(
    access=prepared_headers([(b"Access-Control-Allow-Origin", b"https://app.example")]),
    varies=True,
)


class LoggedSite(KraitSite):
    """A site that remembers what it logged of each finished request."""

    def __init__(self, root: Held) -> None:
        clock = Clock()
        super().__init__(root, access_log=None, reactor=clock, drainer=Drainer(clock))
        self.logged: list[tuple[bytes, int, int]] = []
        self.metrics = RequestTally()

    def log(self, request: http.Request) -> None:
        self.logged.append((request.method, request.code, request.sentLength))
        super().log(request)


@dataclass
class Exchange:
    """One connection: what went out, what the server logged and counted, how it ended."""

    wire: bytes
    logged: list[tuple[bytes, int, int]]
    counted: dict[tuple[int, str], int]
    closed: bool
    in_flight: int
    notified: list[object] = field(default_factory=list)
    fast: list[bool] = field(default_factory=list)


def page(
    status: int = 200, headers: list[tuple[str, str]] | None = None, body: bytes = b"hello"
) -> PageResult:
    return PageResult(status=status, headers=headers or [], body=body, state=RequestState())


def exchange(
    data: bytes,
    pages: list[PageResult],
    fast: bool,
    policy: bytes = b"no-store",
    before_write: Callable[[server.Request], None] | None = None,
) -> Exchange:
    """Send ``data`` on a new connection and answer the requests it makes with ``pages``."""
    root = Held()
    site = LoggedSite(root)
    protocol: Any = site.buildProtocol(ADDRESS)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(data)
    taken: list[bool] = []
    notified: list[object] = []

    def spy(request: server.Request, body: bytes) -> bool:
        taken.append(send_whole(request, body) if fast else False)
        return taken[-1]

    writer = PageWriter(cast(WorkerPool, None))
    with mock.patch.object(page_writer, "send_whole", spy):
        for result in pages:
            request = root.waiting.pop(0)
            request.notifyFinish().addBoth(notified.append)
            assert cast(Drainer, site.drainer).in_flight == 1
            if before_write is not None:
                before_write(request)
            writer.write_page(result, request, JOB, policy)
    assert not root.waiting, "a request was left unanswered"
    return Exchange(
        transport.value(),
        site.logged,
        dict(cast(RequestTally, site.metrics).requests),
        transport.disconnecting,
        cast(Drainer, site.drainer).in_flight,
        notified,
        taken,
    )


def same_date(wire: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", wire)


def assert_same(data: bytes, pages: list[PageResult], **options: Any) -> Exchange:
    """Answer ``data`` both ways; everything but the Date value must match. The fast one."""
    fast = exchange(data, pages, fast=True, **options)
    slow = exchange(data, pages, fast=False, **options)
    assert same_date(fast.wire) == same_date(slow.wire)
    assert fast.logged == slow.logged
    assert fast.counted == slow.counted
    assert fast.closed == slow.closed
    assert fast.in_flight == slow.in_flight == 0
    assert fast.notified == slow.notified == [None] * len(pages)
    return fast


PAGES = {
    "hello": page(),
    "empty body": page(body=b""),
    "page headers, repeats grouped under the first": page(
        headers=[
            ("X-Total-Count", "3"),
            ("set-cookie", "a=1; Path=/"),
            ("x-frame-options", "DENY"),
            ("Set-Cookie", "b=2; HttpOnly"),
        ]
    ),
    "a content type, odd-cased names, framing headers dropped": page(
        headers=[
            ("content-type", "text/csv"),
            ("Content-Length", "999"),
            ("Transfer-Encoding", "chunked"),
            ("Keep-Alive", "timeout=5"),
            ("Cache-Control", "public"),
            ("etag", '"v1"'),
            ("www-authenticate", "Basic"),
        ]
    ),
    "a line break and UTF-8 in values": page(
        headers=[("X-Note", "one\r\ntwo\nthree"), ("X-Name", "Zoë")]
    ),
    "compressed, with Vary": page(
        headers=[("Vary", "Accept-Encoding"), ("Content-Encoding", "gzip")], body=b"\x1f\x8b..."
    ),
    "a redirect": page(302, [("Location", "/elsewhere")], b""),
    "created": page(201, [("Location", "/items/7")], b'{"id": 7}'),
    "not found": page(404, body=b"<h1>404</h1>"),
    "a status without a phrase": page(299),
    "no content drops the body": page(204, body=b"dropped"),
    "not modified": page(304, [("ETag", '"v1"')], b""),
    "a page asking to close": page(headers=[("Connection", "close")]),
    "a body too large to join": page(body=b"x" * (JOIN_LIMIT + 1)),
}


@pytest.mark.parametrize("result", PAGES.values(), ids=PAGES.keys())
@pytest.mark.parametrize(
    "head",
    [
        GET,
        b"HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /page HTTP/1.0\r\nHost: x\r\n\r\n",
        b"GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ],
    ids=["GET", "HEAD", "HTTP/1.0", "client asks to close"],
)
def test_fast_and_twisted_paths_send_the_same_bytes(head: bytes, result: PageResult) -> None:
    fast = assert_same(head, [result])
    assert fast.fast == [True]


@pytest.mark.parametrize("policy", [b"max-age=60", b"no-cache"])
def test_a_cookie_makes_a_cacheable_answer_private_on_both_paths(policy: bytes) -> None:
    fast = assert_same(GET, [page(headers=[("Set-Cookie", "s=1")])], policy=policy)
    assert b"\r\nCache-Control: private" in fast.wire


def test_cors_headers_of_the_head_hook_come_after_the_page_own_on_both_paths() -> None:
    result = page(headers=[("Vary", "Accept-Encoding"), ("X-A", "1")])
    fast = assert_same(GET, [result], before_write=partial(on_head, hook=cors))
    head = fast.wire.split(b"\r\n\r\n")[0]
    assert head.endswith(b"\r\nAccess-Control-Allow-Origin: https://app.example")
    assert b"\r\nVary: Accept-Encoding, Origin\r\n" in head


def cors(request: server.Request) -> None:
    add_prepared(CORS, request)


def test_pipelined_requests_are_answered_in_order_on_one_open_connection() -> None:
    pages = [page(body=b"first"), page(404, body=b"second"), page(body=b"third")]
    head = b"HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n"
    fast = assert_same(GET + head + GET, pages)
    assert fast.fast == [True, True, True]
    assert not fast.closed
    assert re.findall(rb"HTTP/1.1 (\d+)", fast.wire) == [b"200", b"404", b"200"]
    assert fast.wire.endswith(b"\r\n\r\nthird")
    assert b"second" not in fast.wire  # the HEAD's body
    assert fast.logged == [(b"GET", 200, 5), (b"HEAD", 404, 0), (b"GET", 200, 5)]


def test_keep_alive_and_close_follow_the_version_and_the_client() -> None:
    assert not exchange(GET, [page()], fast=True).closed
    assert exchange(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", [page()], fast=True).closed
    closing = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answered = exchange(closing, [page()], fast=True)
    assert answered.closed
    assert b"\r\nConnection: close\r\n" in answered.wire


def test_a_head_answer_has_the_body_length_and_no_body() -> None:
    answered = exchange(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", [page(body=b"12345")], fast=True)
    assert answered.wire.endswith(b"\r\nContent-Length: 5\r\n\r\n")
    assert answered.logged == [(b"HEAD", 200, 0)]


def test_the_access_log_and_metrics_see_the_code_and_the_bytes_sent() -> None:
    answered = exchange(GET, [page(201, body=b"made")], fast=True)
    assert answered.fast == [True]
    assert answered.logged == [(b"GET", 201, 4)]
    assert answered.counted == {(201, "none"): 1}


def unusual_requests() -> Iterator[tuple[str, Callable[[server.Request], None]]]:
    yield "a cookie added the twisted.web way", lambda r: r.addCookie(b"k", b"v")
    yield "an ETag set on the request", lambda r: r.setETag(b'"e"')
    yield "a Last-Modified set on the request", lambda r: r.setLastModified(1_000_000_000)
    yield "a producer", lambda r: r.registerProducer(mock.Mock(), True)


@pytest.mark.parametrize(
    "make_unusual", [how for _, how in unusual_requests()], ids=[n for n, _ in unusual_requests()]
)
def test_an_unusual_request_is_left_to_twisted_web(
    make_unusual: Callable[[server.Request], None],
) -> None:
    answered = exchange(GET, [page()], fast=True, before_write=make_unusual)
    assert answered.fast == [False]
    assert answered.wire.startswith(b"HTTP/1.1 200 OK\r\n")


def test_status_line_and_head_are_laid_out_as_twisted_web_writes_them() -> None:
    line = status_line(b"HTTP/1.1", 404, b"Not Found")
    assert line == b"HTTP/1.1 404 Not Found\r\n"
    table = {b"Date": [b"d"], b"Set-Cookie": [b"a=1", b"b=2"]}
    assert b"".join(head_parts(line, table)) == (
        b"HTTP/1.1 404 Not Found\r\nDate: d\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
    )
