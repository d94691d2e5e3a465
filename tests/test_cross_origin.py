"""``CrossOrigin`` in process: preflights answered on the spot, and the CORS headers of other
answers added once, just before the head is written, on top of what the answer set."""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events
from shell import make_request
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource
from twisted.web.test.requesthelper import DummyChannel

from krait._cors import compile_cors
from krait._cross_origin import CrossOrigin
from krait._h2 import KraitH2Connection
from krait._http import KraitSite
from krait._krait_request import KraitRequest
from krait._routing import compile_routes
from krait.config import Cors, Route

A = "https://a.example"


def cross_origin(**settings: object) -> CrossOrigin:
    policies = compile_cors(Cors([A], paths=[r"/api/.*"], **settings))  # type: ignore[arg-type]
    return CrossOrigin(policies, compile_routes([Route("PATCH", url="/api/x"), Route()]))


def krait_request(method: bytes, uri: bytes, **headers: str) -> tuple[KraitRequest, DummyChannel]:
    channel = DummyChannel()
    request = KraitRequest(channel)
    request.method = method
    request.uri = request.path = uri
    request.clientproto = b"HTTP/1.1"
    for name, value in headers.items():
        request.requestHeaders.setRawHeaders(name.replace("_", "-"), [value])
    return request, channel


def test_a_preflight_is_finished_with_204_and_no_body() -> None:
    request, channel = krait_request(
        b"OPTIONS", b"/api/x", origin=A, access_control_request_method="PATCH"
    )
    assert cross_origin().handle(request, "/api/x") is not None
    wire = channel.transport.written.getvalue()
    assert wire.startswith(b"HTTP/1.1 204 ")
    assert b"Access-Control-Allow-Methods: GET, HEAD, OPTIONS, PATCH\r\n" in wire
    assert wire.endswith(b"\r\n\r\n")


def test_the_headers_wait_for_the_head_and_extend_the_vary_set_meanwhile() -> None:
    request, channel = krait_request(b"GET", b"/api/x", origin=A)
    assert cross_origin().handle(request, "/api/x") is None
    assert not request.responseHeaders.hasHeader(b"access-control-allow-origin")
    request.responseHeaders.setRawHeaders(b"vary", [b"Accept-Encoding"])  # as static files do
    request.write(b"body")
    request.write(b"more")
    wire = channel.transport.written.getvalue()
    assert b"Access-Control-Allow-Origin: https://a.example\r\n" in wire
    assert b"Vary: Accept-Encoding, Origin\r\n" in wire
    assert wire.count(b"Vary:") == 1


def test_an_answer_replaced_before_its_head_still_gets_the_headers() -> None:
    request, channel = krait_request(b"GET", b"/api/x", origin=A)
    cross_origin().handle(request, "/api/x")
    request.responseHeaders = type(request.responseHeaders)()  # a stream's 500 starts over
    request.setResponseCode(500)
    request.write(b"")
    assert (
        b"Access-Control-Allow-Origin: https://a.example\r\n"
        in channel.transport.written.getvalue()
    )


def test_a_request_of_plain_twisted_gets_the_headers_at_once() -> None:
    request = make_request(b"GET", b"/api/x", origin=A)
    cross_origin().handle(request, "/api/x")
    assert request.responseHeaders.getRawHeaders(b"access-control-allow-origin") == [A.encode()]


def test_paths_outside_the_settings_are_left_alone() -> None:
    request, _ = krait_request(b"OPTIONS", b"/x", origin=A, access_control_request_method="GET")
    assert cross_origin().handle(request, "/x") is None
    assert request.head_hook is None


class Sharing(Resource):
    """Hands each request to ``CrossOrigin`` and answers what it leaves with "hi"."""

    isLeaf = True

    def render(self, request: server.Request) -> bytes | int:
        answered = cross_origin().handle(request, request.path.decode())
        return b"hi" if answered is None else answered


def test_an_http2_answer_gets_the_headers_too() -> None:
    clock = Clock()
    connection = KraitH2Connection(clock)
    connection.site = connection.factory = KraitSite(Sharing(), access_log=None, reactor=clock)
    connection.requestFactory = KraitRequest
    transport = StringTransport()
    connection.makeConnection(transport)
    client = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    client.initiate_connection()
    asked = [(":method", "GET"), (":path", "/api/x"), (":scheme", "https"), (":authority", "x")]
    client.send_headers(1, [*asked, ("origin", A)], end_stream=True)
    connection.dataReceived(client.data_to_send())
    clock.advance(0)
    try:
        events = client.receive_data(transport.value())
    finally:
        connection.connectionLost(Failure(ConnectionError("test over")))
    [answer] = [event for event in events if isinstance(event, h2.events.ResponseReceived)]
    headers = dict(answer.headers)
    assert headers[":status"] == "200"
    assert headers["access-control-allow-origin"] == A
    assert headers["vary"] == "Origin"
