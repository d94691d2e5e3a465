"""A request head read whole makes the same request, and gets the same answer, as one read a
line at a time by twisted.web; and heads that come in pieces are read all the same."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.web import server
from twisted.web.resource import Resource

from krait._channel import KraitChannel
from krait._http import KraitSite
from krait._twisted_compat import http_channel_of


class _Recorder(Resource):
    """Answers every request with its body, and notes what request the channel made; one to
    ``/held`` waits for :meth:`release`."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, ...]] = []
        self.held: list[server.Request] = []

    def render(self, request: server.Request) -> Any:
        assert request.content is not None
        body = request.content.read()
        headers = [
            (name, list(values)) for name, values in request.requestHeaders.getAllRawHeaders()
        ]
        self.seen.append((request.method, request.uri, request.clientproto, headers, body))
        if request.uri == b"/held":
            self.held.append(request)
            return server.NOT_DONE_YET
        return b"body=" + body

    def release(self) -> None:
        for request in self.held:
            request.write(b"released")
            request.finish()
        self.held = []


class _Connection:
    """One connection to a krait site, in process."""

    def __init__(self) -> None:
        self.resource = _Recorder()
        site = KraitSite(self.resource, access_log=None, reactor=MemoryReactorClock())
        self.protocol = site.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def send(self, *pieces: bytes) -> _Connection:
        for piece in pieces:
            self.protocol.dataReceived(piece)
        return self

    def state(self) -> tuple[Any, ...]:
        """Everything the test compares: the answers (their dates aside), the requests made,
        and where the channel stands."""
        answer = re.sub(rb"Date: [^\r]*", b"Date: -", self.transport.value())
        channel = http_channel_of(self.protocol)
        return (
            answer,
            self.resource.seen,
            channel.phase,
            bool(self.transport.disconnecting),
            [request.uri for request in channel.requests],
        )


@pytest.fixture
def heads_whole(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Counts the heads read whole (their request targets)."""
    taken: list[bytes] = []
    take = KraitChannel._take_head

    def counted(channel: KraitChannel, head: Any) -> None:
        taken.append(head.target)
        take(channel, head)

    monkeypatch.setattr(KraitChannel, "_take_head", counted)
    yield taken


def by_lines(monkeypatch: pytest.MonkeyPatch, *pieces: bytes) -> tuple[Any, ...]:
    """The state after ``pieces`` read only by twisted.web's line reader."""
    with monkeypatch.context() as patch:
        patch.setattr(KraitChannel, "_whole_heads", False)
        return _Connection().send(*pieces).state()


HOST = b"Host: x\r\n"
HEADS_READ_WHOLE = {
    "plain GET": b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
    "HTTP/1.0 without Host": b"GET /old HTTP/1.0\r\n\r\n",
    "HTTP/1.0 keep-alive": b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "Connection: close": b"GET / HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n",
    "names in any case, repeated, specially cased": b"GET / HTTP/1.1\r\nhOsT: x\r\n"
    b"accept: a\r\nACCEPT: b\r\nx-xss-protection: 1\r\ndnt: 1\r\nte: trailers\r\n"
    b"www-authenticate: x\r\ncookie: a=1\r\nCookie: b=2\r\n\r\n",
    "odd values": b"GET / HTTP/1.1\r\nHost: x\r\nA:\r\nB: \t y\r\nC: caf\xc3\xa9\x01\x7f\r\n\r\n",
    "content-length body": b"POST /p HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhello",
    "chunked body": b"POST /p HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    "100-continue": b"POST /p HTTP/1.1\r\n" + HOST + b"Expect: 100-continue\r\n"
    b"Content-Length: 2\r\n\r\nhi",
    "body still to come": b"POST /p HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhe",
    "equal content lengths": b"POST /p HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\n"
    b"content-length: 2\r\n\r\nhi",
    "differing content lengths": b"POST /p HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\n"
    b"Content-Length: 3\r\n\r\nhi!",
    "bad content length": b"POST /p HTTP/1.1\r\n" + HOST + b"Content-Length: +2\r\n\r\nhi",
    "TE and CL": b"POST /p HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
    b"Content-Length: 5\r\n\r\n0\r\n\r\n",
    "TE identity": b"POST /p HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: identity\r\n\r\n",
    "TE gzip, chunked": b"POST /p HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip, chunked\r\n"
    b"\r\n0\r\n\r\n",
    "TE in HTTP/1.0": b"POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "no Host in HTTP/1.1": b"GET / HTTP/1.1\r\n\r\n",
    "two Hosts": b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    "a bad Host": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
    b"POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n!GET /4 HTTP/1.1\r\n",
    "after HTTP/1.0": b"GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
    "500 fields": b"GET / HTTP/1.1\r\n" + HOST + b"A: b\r\n" * 499 + b"\r\n",
    "OPTIONS *": b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n",
    "absolute form": b"GET http://x/a HTTP/1.1\r\n" + HOST + b"\r\n",
    "a large head, then blank lines": b"GET / HTTP/1.1\r\nHost: x\r\nA: "
    + b"b" * 5000
    + b"\r\n" * 4,
}
HEADS_READ_BY_LINES = {
    "trailing whitespace": b"GET / HTTP/1.1\r\nHost: x \r\nA: b\t\r\nC: \r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n  c\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare LF in a value": b"GET / HTTP/1.1\r\nHost: x\r\nA: b\nc\r\n\r\n",
    "bare CR": b"GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n",
    "NUL in a value": b"GET / HTTP/1.1\r\nHost: x\r\nA: b\x00c\r\n\r\n",
    "NUL in a name": b"GET / HTTP/1.1\r\nHost: x\r\nA\x00: b\r\n\r\n",
    "space before a colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "no colon": b"GET / HTTP/1.1\r\nHost: x\r\nnothing\r\n\r\n",
    "non-ASCII name": b"GET / HTTP/1.1\r\nHost: x\r\nCaf\xc3\xa9: b\r\n\r\n",
    "non-ASCII target": b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad method": b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "HTTP/2.0": b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "double space": b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
    "stray blank line first": b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "a long request line": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "a long field": b"GET / HTTP/1.1\r\nHost: x\r\nA: " + b"b" * 9000 + b"\r\n\r\n",
    "too large a head": b"GET / HTTP/1.1\r\nHost: x\r\n"
    + (b"A: " + b"b" * 5000 + b"\r\n") * 4
    + b"\r\n",
    "501 fields": b"GET / HTTP/1.1\r\n" + HOST + b"A: b\r\n" * 500 + b"\r\n",
    "partial": b"GET / HTTP/1.1\r\nHost: x\r\n",
    "TLS": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
}


@pytest.mark.parametrize("data", HEADS_READ_WHOLE.values(), ids=HEADS_READ_WHOLE.keys())
def test_a_head_read_whole_makes_what_the_line_reader_makes(
    data: bytes, heads_whole: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _Connection().send(data).state()
    assert heads_whole, "the head was read a line at a time"
    assert whole == by_lines(monkeypatch, data)


@pytest.mark.parametrize("data", HEADS_READ_BY_LINES.values(), ids=HEADS_READ_BY_LINES.keys())
def test_a_head_not_read_whole_is_answered_by_the_line_reader(
    data: bytes, heads_whole: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _Connection().send(data).state()
    assert heads_whole == []
    assert state == by_lines(monkeypatch, data)


def test_refusals_keep_their_status_and_reason(heads_whole: list[bytes]) -> None:
    def status(data: bytes) -> bytes:
        return bytes(_Connection().send(data).transport.value().split(b"\r\n", 1)[0])

    assert status(HEADS_READ_BY_LINES["a long request line"]) == b"HTTP/1.1 414 URI Too Long"
    assert status(HEADS_READ_BY_LINES["a long field"]).startswith(b"HTTP/1.1 431 ")
    assert status(HEADS_READ_BY_LINES["too large a head"]).startswith(b"HTTP/1.1 431 ")
    assert status(HEADS_READ_BY_LINES["501 fields"]).startswith(b"HTTP/1.1 400 ")
    assert status(HEADS_READ_WHOLE["TE and CL"]).startswith(b"HTTP/1.1 400 ")
    assert status(HEADS_READ_WHOLE["TE gzip, chunked"]).startswith(b"HTTP/1.1 501 ")


@pytest.mark.parametrize(
    ("data", "some_read_whole"),
    [
        (HEADS_READ_WHOLE["plain GET"], True),
        (HEADS_READ_WHOLE["chunked body"], True),
        (HEADS_READ_WHOLE["pipelined"], True),
        (HEADS_READ_BY_LINES["obs-fold"], False),
    ],
    ids=["plain GET", "chunked body", "pipelined", "obs-fold"],
)
def test_a_head_in_pieces_is_read_as_if_it_came_whole(
    data: bytes, some_read_whole: bool, heads_whole: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = by_lines(monkeypatch, data)
    assert _Connection().send(*[data[i : i + 1] for i in range(len(data))]).state() == expected
    for cut in range(1, len(data)):
        assert _Connection().send(data[:cut], data[cut:]).state() == expected, cut
    assert _Connection().send(data[:3], data[3:20], data[20:]).state() == expected
    # Cut within its request line, a head is read whole once the rest comes.
    assert bool(heads_whole) is some_read_whole


def test_pipelined_heads_wait_for_the_answer_then_are_read_whole(
    heads_whole: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (
        b"GET /held HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /held HTTP/1.1\r\nHost: x\r\n\r\nGET /4 HTTP/1.1\r\n"
    )
    connection = _Connection().send(data)
    assert connection.resource.seen[-1][1] == b"/held"
    connection.resource.release()
    assert connection.resource.seen[-1][1] == b"/held"
    connection.resource.release()
    connection.send(b"Host: x\r\n\r\n")
    assert heads_whole == [b"/held", b"/2", b"/held"]

    with monkeypatch.context() as patch:
        patch.setattr(KraitChannel, "_whole_heads", False)
        by_line = _Connection().send(data)
        by_line.resource.release()
        by_line.resource.release()
        by_line.send(b"Host: x\r\n\r\n")
    assert connection.state() == by_line.state()
    assert [seen[1] for seen in connection.resource.seen] == [b"/held", b"/2", b"/held", b"/4"]
