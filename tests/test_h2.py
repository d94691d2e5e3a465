"""KraitH2Connection in process: its settings, limits, how it ends, and is_abandoned.

A client built with the ``h2`` library talks to the connection over a ``StringTransport``; the
end-to-end counterparts, over TLS to a real server, are in test_h2_hardening.py.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import ContinuationFrame, HeadersFrame, PriorityFrame, RstStreamFrame
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web import http, server
from twisted.web._http2 import H2Connection
from twisted.web.resource import Resource

from krait._h2 import GOAWAY_FLUSH_DEADLINE, KraitH2Connection, ProtocolSwitch
from krait._h2_limits import MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE
from krait._http import KraitChannel, KraitSite
from krait._krait_request import KraitRequest
from krait._twisted_compat import is_abandoned

REQUEST = [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "x")]


class Held(Resource):
    """Keeps every request unanswered, as a page waiting for its worker thread does."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[server.Request] = []

    def render(self, request: server.Request) -> int:
        self.requests.append(request)
        return server.NOT_DONE_YET


@dataclass
class Peer:
    """A KraitH2Connection and the h2 client on the other end of its StringTransport."""

    connection: KraitH2Connection
    transport: StringTransport
    clock: Clock
    resource: Held
    client: h2.connection.H2Connection = field(
        default_factory=lambda: h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
    )

    def send(self, data: bytes) -> list[h2.events.Event]:
        """Give ``data`` to the server; the events of what the server wrote back."""
        self.connection.dataReceived(data)
        return self.receive()

    def flush(self) -> list[h2.events.Event]:
        return self.send(self.client.data_to_send())

    def receive(self) -> list[h2.events.Event]:
        written = self.transport.value()
        self.transport.clear()
        return self.client.receive_data(written) if written else []


@pytest.fixture
def peer() -> Iterator[Peer]:
    clock = Clock()
    resource = Held()
    connection = KraitH2Connection(clock)
    connection.site = connection.factory = KraitSite(resource, access_log=None, reactor=clock)
    connection.requestFactory = KraitRequest
    transport = StringTransport()
    connection.makeConnection(transport)
    peer = Peer(connection, transport, clock, resource)
    peer.client.initiate_connection()
    peer.flush()
    yield peer
    connection.connectionLost(Failure(ConnectionError("test over")))


def goaway(events: list[h2.events.Event]) -> h2.events.ConnectionTerminated:
    ended = [event for event in events if isinstance(event, h2.events.ConnectionTerminated)]
    assert ended, f"no GOAWAY in {events}"
    return ended[0]


def test_settings_announce_krait_limits(peer: Peer) -> None:
    settings = peer.client.remote_settings
    assert settings.max_concurrent_streams == MAX_CONCURRENT_STREAMS == 100
    assert settings.max_header_list_size == MAX_HEADER_LIST_SIZE == 16_384
    assert settings.max_frame_size == MAX_FRAME_SIZE


def test_a_request_is_served(peer: Peer) -> None:
    peer.client.send_headers(1, REQUEST, end_stream=True)
    peer.flush()
    [request] = peer.resource.requests
    request.write(b"hello")
    request.finish()
    peer.clock.advance(0)
    events = peer.receive()
    assert b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived)) == b"hello"
    assert not peer.transport.disconnecting


def test_a_continuation_flood_ends_the_connection_with_goaway_and_closes(peer: Peer) -> None:
    start = HeadersFrame(1, data=peer.client.encoder.encode(REQUEST))
    peer.send(start.serialize())
    events: list[h2.events.Event] = []
    for _ in range(8):
        events += peer.send(ContinuationFrame(1, data=b"\x00" * 16_384).serialize())
        if peer.transport.disconnecting:
            break
    assert goaway(events).error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert b"header block" in (goaway(events).additional_data or b"")
    assert peer.transport.disconnecting


def test_data_on_stream_0_ends_the_connection_and_what_follows_is_not_parsed(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = peer.send(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
    assert goaway(events).error_code == ErrorCodes.PROTOCOL_ERROR
    assert peer.transport.disconnecting
    parsed: list[bytes] = []
    monkeypatch.setattr(peer.connection.conn, "receive_data", parsed.append)
    for _ in range(100):
        peer.connection.dataReceived(b"\x00" * 16_384)
    assert parsed == []
    assert peer.transport.value() == b""


def test_an_ended_connection_is_aborted_if_it_cannot_write_its_goaway(peer: Peer) -> None:
    peer.send(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
    assert not peer.transport.disconnected
    peer.clock.advance(GOAWAY_FLUSH_DEADLINE)
    assert peer.transport.disconnected


def test_a_header_list_over_16_kib_ends_the_connection(peer: Peer) -> None:
    big = [*REQUEST, ("x-big", "v" * 10_000), ("x-bigger", "w" * 10_000)]
    block = h2.connection.H2Connection().encoder.encode(big, huffman=False)
    first = HeadersFrame(1, data=block[:16_000])
    first.flags.add("END_STREAM")
    rest = ContinuationFrame(1, data=block[16_000:])
    rest.flags.add("END_HEADERS")
    events = peer.send(first.serialize() + rest.serialize())
    assert goaway(events).error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert peer.resource.requests == []


def test_a_stream_over_the_concurrency_limit_ends_the_connection(peer: Peer) -> None:
    def opening(stream_id: int) -> bytes:
        flags = {"END_HEADERS", "END_STREAM"}
        block = peer.client.encoder.encode(REQUEST)
        return bytes(HeadersFrame(stream_id, data=block, flags=flags).serialize())

    peer.send(b"".join(opening(2 * n + 1) for n in range(MAX_CONCURRENT_STREAMS)))
    assert len(peer.resource.requests) == MAX_CONCURRENT_STREAMS
    events = peer.send(opening(2 * MAX_CONCURRENT_STREAMS + 1))
    assert goaway(events).error_code == ErrorCodes.PROTOCOL_ERROR
    assert all(is_abandoned(request) for request in peer.resource.requests)


def test_priority_frames_for_a_thousand_idle_streams_end_the_connection(peer: Peer) -> None:
    frames = b"".join(
        PriorityFrame(2 * n + 1, depends_on=0, stream_weight=16).serialize() for n in range(1001)
    )
    assert goaway(peer.send(frames)).error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert peer.transport.disconnecting


def test_a_rapid_reset_flood_ends_the_connection(peer: Peer) -> None:
    """Twisted's token bucket (burst 1000, 33/s; CVE-2023-44487), which krait relies on."""
    pairs = b""
    for n in range(1001):
        flags = {"END_HEADERS", "END_STREAM"}
        block = peer.client.encoder.encode(REQUEST)
        pairs += HeadersFrame(2 * n + 1, data=block, flags=flags).serialize()
        pairs += RstStreamFrame(2 * n + 1, error_code=ErrorCodes.CANCEL).serialize()
    assert goaway(peer.send(pairs)).error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert peer.transport.disconnecting
    assert all(is_abandoned(request) for request in peer.resource.requests)


def test_the_idle_timeout_ends_the_connection_at_once(peer: Peer) -> None:
    peer.connection.callLater = peer.clock.callLater
    peer.connection.setTimeout(5)
    peer.clock.advance(5)
    assert goaway(peer.receive()).error_code == ErrorCodes.NO_ERROR
    parsed: list[bytes] = []
    peer.connection.conn.receive_data = parsed.append  # type: ignore[method-assign]
    peer.connection.dataReceived(b"\x00" * 100)
    assert parsed == []
    assert peer.transport.disconnecting


def test_a_reset_stream_abandons_its_request(peer: Peer) -> None:
    peer.client.send_headers(1, REQUEST, end_stream=True)
    peer.client.send_headers(3, REQUEST, end_stream=True)
    peer.flush()
    reset, kept = peer.resource.requests
    assert not is_abandoned(reset)
    peer.client.reset_stream(1)
    peer.flush()
    assert is_abandoned(reset)
    assert not is_abandoned(kept)


def test_a_lost_connection_abandons_its_http2_requests(peer: Peer) -> None:
    peer.client.send_headers(1, REQUEST, end_stream=True)
    peer.flush()
    [request] = peer.resource.requests
    peer.connection.connectionLost(Failure(ConnectionError("gone")))
    assert is_abandoned(request)


def test_a_finished_request_is_abandoned(peer: Peer) -> None:
    peer.client.send_headers(1, REQUEST, end_stream=True)
    peer.flush()
    [request] = peer.resource.requests
    request.finish()
    assert is_abandoned(request)


def test_a_lost_http1_connection_abandons_its_request() -> None:
    resource = Held()
    site = KraitSite(resource, access_log=None, reactor=Clock())
    channel = site.buildProtocol(None)
    channel.makeConnection(StringTransport())
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    [request] = resource.requests
    assert not is_abandoned(request)
    channel.connectionLost(Failure(ConnectionError("gone")))
    assert is_abandoned(request)


class NegotiatingTransport(StringTransport):
    negotiatedProtocol: bytes | None = None


@pytest.mark.parametrize(("alpn", "kind"), [(b"h2", KraitH2Connection), (None, KraitChannel)])
def test_the_protocol_switch_picks_krait_channel_by_alpn(alpn: bytes | None, kind: type) -> None:
    clock = Clock()
    site = KraitSite(Held(), access_log=None, reactor=clock)
    protocol = site.buildProtocol(None)
    assert isinstance(protocol, ProtocolSwitch)
    transport = NegotiatingTransport()
    transport.negotiatedProtocol = alpn
    protocol.makeConnection(transport)
    protocol.dataReceived(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" if alpn else b"GET / HTTP/1.1\r\n")
    channel = protocol._channel
    assert isinstance(channel, kind)
    if alpn:
        assert channel._clock is clock
    assert channel.site is site
    assert channel.requestFactory is KraitRequest
    protocol.connectionLost(Failure(ConnectionError("test over")))


def test_the_twisted_private_names_krait_relies_on_are_there() -> None:
    """krait._h2 repeats twisted.web's switch to HTTP/2 and extends its H2Connection."""
    generic = http._GenericHTTPChannelProtocol
    for name in ("_negotiatedProtocol", "_requestFactory", "_site", "_factory", "_timeOut"):
        assert hasattr(generic, name), name
    assert hasattr(generic, "_callLater")
    channel = http.HTTPChannel()
    channel.makeConnection(StringTransport())
    assert hasattr(channel, "_networkProducer")
    assert generic(channel)._channel is channel
    assert "_cancelTimeouts" in inspect.signature(H2Connection.connectionLost).parameters
    assert "reactor" in inspect.signature(H2Connection.__init__).parameters
    assert hasattr(h2.connection.H2Connection(), "decoder")  # h2's, undocumented
    switch = inspect.getsource(generic.dataReceived)
    assert "H2Connection()" in switch, "twisted.web changed how it switches to HTTP/2"


@pytest.mark.parametrize(
    ("http2", "offered"), [(True, [b"h2", b"http/1.1"]), (False, [b"http/1.1"])]
)
def test_the_site_offers_http2_by_alpn_unless_told_not_to(
    http2: bool, offered: list[bytes]
) -> None:
    """Twisted offers the Site's protocols besides the TLS options' own (--no-http2)."""
    site = KraitSite(Held(), access_log=None, reactor=Clock(), http2=http2)
    assert site.acceptableProtocols() == offered
