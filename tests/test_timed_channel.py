"""The channel's timers and the connection count in process: a StringTransport and a Clock.

The end-to-end counterparts, against a real server and raw sockets, are in
test_slow_clients.py.
"""

from __future__ import annotations

import re
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import ContinuationFrame, HeadersFrame
from shell import Held
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource
from zope.interface import directlyProvides

from krait._connection_refusal import REFUSAL_LINGER, ConnectionRefusal
from krait._deadlines import ClientLimits
from krait._h2 import KraitH2Connection
from krait._http import KraitChannel, KraitSite
from krait._krait_request import KraitRequest
from krait._open_files import ConnectionSlots
from krait._timed_channel import CLOSE_GRACE, Phase

LIMITS = ClientLimits(header_timeout=20, body_timeout=20, body_min_rate=500, keepalive_timeout=60)
ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


class Home(Resource):
    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        return b"home"


class Wire(StringTransport):
    """A transport that records aborts and half-closes, as a TCP one does them."""

    aborted = False
    write_closed = False

    def abortConnection(self) -> None:
        self.aborted = True
        super().abortConnection()

    def loseWriteConnection(self) -> None:
        self.write_closed = True


def make_site(clock: Clock, max_connections: int = 10) -> KraitSite:
    return KraitSite(
        Home(),
        access_log=None,
        reactor=clock,
        client_limits=LIMITS,
        max_connections=max_connections,
    )


def connect(site: KraitSite) -> tuple[Any, Wire]:
    protocol: Any = site.buildProtocol(ADDRESS)
    wire = Wire()
    protocol.makeConnection(wire)
    return protocol, wire


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def site(clock: Clock) -> KraitSite:
    return make_site(clock)


def statuses(wire: Wire) -> list[bytes]:
    """The status codes written so far (a body does not end with a line break)."""
    return re.findall(rb"HTTP/1\.1 (\d{3}) ", wire.value())


def test_head_gets_408_at_its_deadline_not_before(clock: Clock, site: KraitSite) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(b"GET / HTTP/1.1\r\n")
    for _ in range(19):
        clock.advance(1)
        protocol.dataReceived(b"X: y\r\n")  # every byte resets the idle timeout, not this one
    assert wire.value() == b""
    clock.advance(1)
    assert statuses(wire) == [b"408"]
    assert b"\r\nConnection: close\r\n" in wire.value()
    assert wire.disconnecting


def test_first_head_counts_from_the_connection_start(clock: Clock, site: KraitSite) -> None:
    protocol, wire = connect(site)
    clock.advance(15)
    protocol.dataReceived(b"GET / HT")
    clock.advance(5)
    assert statuses(wire) == [b"408"]


def test_connection_that_sends_nothing_is_closed_without_an_answer(
    clock: Clock, site: KraitSite
) -> None:
    _, wire = connect(site)
    clock.advance(20)
    assert wire.value() == b""
    assert wire.disconnecting


def test_keep_alive_wait_belongs_to_the_idle_timeout_and_the_next_head_starts_fresh(
    clock: Clock, site: KraitSite
) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(GET)
    assert statuses(wire) == [b"200"]
    clock.advance(50)  # idle, under the 60 s keep-alive timeout
    assert not wire.disconnecting
    protocol.dataReceived(b"GET / HTTP/1.1\r\n")
    clock.advance(19)
    assert statuses(wire) == [b"200"]
    clock.advance(1)
    assert statuses(wire) == [b"200", b"408"]


def test_next_head_gets_its_whole_deadline_while_an_earlier_heads_timer_runs(
    clock: Clock, site: KraitSite
) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(GET)
    clock.advance(10)
    protocol.dataReceived(b"GET / HTTP/1.1\r\n")  # its deadline: 30 s, not the first's 20
    clock.advance(19)
    assert statuses(wire) == [b"200"]
    clock.advance(1)
    assert statuses(wire) == [b"200", b"408"]


class CountingClock(Clock):
    """A Clock that remembers the name of every function it was asked to call later."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduled: list[str] = []

    def callLater(self, delay: float, f: Any, *args: Any, **kw: Any) -> Any:
        self.scheduled.append(getattr(f, "__name__", ""))
        return super().callLater(delay, f, *args, **kw)


@pytest.mark.parametrize("timer", ["_check_head", "__timedOut"], ids=["head", "idle"])
def test_a_request_arms_no_timer_of_its_own_on_a_busy_connection(timer: str) -> None:
    """One head timer and one idle timer serve every request of a connection: the head
    deadline re-arms itself, and the idle timeout waits while each request is answered; none
    is made and cancelled per request (a profile showed that cost)."""
    clock = CountingClock()
    protocol, wire = connect(make_site(clock))
    for _ in range(6):
        protocol.dataReceived(GET)
    assert statuses(wire) == [b"200"] * 6
    assert clock.scheduled.count(timer) == 1


class CountingWire(Wire):
    """A transport that counts how often it is asked for its addresses."""

    asked = 0

    def getPeer(self) -> Any:
        self.asked += 1
        return super().getPeer()

    def getHost(self) -> Any:
        self.asked += 1
        return super().getHost()


def test_requests_of_a_connection_share_addresses_asked_of_the_transport_once() -> None:
    protocol: Any = make_site(Clock()).buildProtocol(ADDRESS)
    wire = CountingWire()
    protocol.makeConnection(wire)
    for _ in range(4):
        protocol.dataReceived(GET)
    assert statuses(wire) == [b"200"] * 4
    assert wire.asked == 2  # the peer and the host, once each


def test_idle_timeout_waits_for_a_slow_answer_then_counts_from_it(clock: Clock) -> None:
    held = Held()
    site = KraitSite(held, access_log=None, reactor=clock, client_limits=LIMITS)
    protocol, wire = connect(site)
    protocol.dataReceived(GET)
    clock.advance(200)  # the idle timer fires while the page is being made: no effect
    assert not wire.disconnecting
    held.waiting[0].write(b"late")
    held.waiting[0].finish()
    clock.advance(59)
    assert not wire.disconnecting
    clock.advance(1)
    assert wire.disconnecting
    assert statuses(wire) == [b"200"]


def test_idle_keep_alive_connection_closes_at_the_keepalive_timeout(
    clock: Clock, site: KraitSite
) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(GET)
    clock.advance(59)
    assert not wire.disconnecting
    clock.advance(1)
    assert wire.disconnecting
    assert statuses(wire) == [b"200"]


def test_pipelined_head_is_timed_from_when_it_is_read(clock: Clock, site: KraitSite) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(GET + GET)
    assert statuses(wire) == [b"200", b"200"]
    assert protocol._channel.phase is Phase.WAITING


def body_trickle(protocol: Any, clock: Clock, per_second: int, seconds: int) -> None:
    for _ in range(seconds):
        protocol.dataReceived(b"x" * per_second)
        clock.advance(1)


def test_body_below_the_min_rate_gets_408_once_its_credit_runs_out(
    clock: Clock, site: KraitSite
) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    body_trickle(protocol, clock, per_second=100, seconds=24)  # 20 s + 2,400 B / 500 B/s
    assert wire.value() == b""
    body_trickle(protocol, clock, per_second=100, seconds=2)
    assert statuses(wire) == [b"408"]
    assert b"the request body arrived slower than 500 bytes/s" in wire.value()


def test_body_above_the_min_rate_is_read_whole(clock: Clock, site: KraitSite) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n")
    body_trickle(protocol, clock, per_second=600, seconds=100)
    assert statuses(wire) == [b"200"]


def test_chunked_body_is_timed_too(clock: Clock, site: KraitSite) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    clock.advance(20)
    assert statuses(wire) == [b"408"]


def test_client_that_does_not_let_go_is_aborted_after_the_grace(
    clock: Clock, site: KraitSite
) -> None:
    _, wire = connect(site)
    clock.advance(20)
    assert not wire.aborted
    clock.advance(CLOSE_GRACE)
    assert wire.aborted


def test_refused_head_gets_one_answer_only(clock: Clock, site: KraitSite) -> None:
    protocol, wire = connect(site)
    protocol.dataReceived(b"GET / HTTP/1.1\r\nX: " + b"v" * 9000 + b"\r\n")
    clock.advance(60)
    assert statuses(wire) == [b"431"]


def test_zero_limits_time_nothing(clock: Clock) -> None:
    site = KraitSite(
        Home(),
        access_log=None,
        reactor=clock,
        client_limits=ClientLimits(header_timeout=0, body_min_rate=0, keepalive_timeout=0),
    )
    protocol, wire = connect(site)
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    clock.advance(3600)
    assert wire.value() == b""
    assert not wire.disconnecting


def test_connections_over_the_limit_get_503_with_retry_after(clock: Clock) -> None:
    site = make_site(clock, max_connections=2)
    first, _ = connect(site)
    connect(site)
    refused, wire = connect(site)
    assert isinstance(refused, ConnectionRefusal)
    assert statuses(wire) == [b"503"]
    assert b"\r\nRetry-After: 1\r\n" in wire.value()
    assert b"\r\nConnection: close\r\n" in wire.value()
    assert wire.write_closed  # the client may still send; it reads the 503 first
    clock.advance(REFUSAL_LINGER)
    assert wire.aborted
    refused.connectionLost(Failure(Exception("aborted")))
    first.connectionLost(Failure(Exception("closed")))
    assert site.connection_slots.open == 1
    assert not isinstance(connect(site)[0], ConnectionRefusal)


def test_tls_connection_over_the_limit_is_closed_without_an_answer(clock: Clock) -> None:
    site = make_site(clock, max_connections=1)
    connect(site)
    refused: Any = site.buildProtocol(ADDRESS)
    wire = Wire()
    directlyProvides(wire, ISSLTransport)
    refused.makeConnection(wire)
    assert wire.value() == b""
    assert wire.aborted


def test_handing_the_connection_over_stops_the_timers_and_passes_the_slot() -> None:
    clock = Clock()
    slots = ConnectionSlots(5)
    channel = KraitChannel(LIMITS, clock, slots.take())
    channel.makeConnection(Wire())
    slot = channel.hand_over()
    assert slot is not None
    clock.advance(60)
    assert channel.transport is not None
    assert channel.transport.value() == b""
    channel.connectionLost(Failure(Exception("taken over")))
    assert slots.open == 1  # the new protocol holds it
    slot.release()
    assert slots.open == 0


def test_http2_connection_gives_its_slot_back_when_lost() -> None:
    slots = ConnectionSlots(5)
    connection = KraitH2Connection(Clock())
    connection.connection_slot = slots.take()
    connection.makeConnection(StringTransport())
    connection.connectionLost(Failure(Exception("closed")))
    assert slots.open == 0


def h2_peer(
    clock: Clock, header_timeout: float = 0
) -> tuple[KraitH2Connection, StringTransport, Any]:
    """A KraitH2Connection of a site with LIMITS, and an h2 client that has greeted it."""
    connection = KraitH2Connection(clock, header_timeout)
    connection.site = connection.factory = make_site(clock)
    connection.requestFactory = KraitRequest
    transport = StringTransport()
    connection.makeConnection(transport)
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    connection.dataReceived(client.data_to_send())
    return connection, transport, client


def h2_events(transport: StringTransport, client: Any) -> list[h2.events.Event]:
    written = transport.value()
    transport.clear()
    return list(client.receive_data(written))


H2_POST = [(":method", "POST"), (":path", "/"), (":scheme", "https"), (":authority", "x")]


def test_http2_stream_body_below_the_min_rate_is_reset(clock: Clock) -> None:
    connection, transport, client = h2_peer(clock)
    client.send_headers(1, H2_POST)
    connection.dataReceived(client.data_to_send())
    for _ in range(21):
        client.send_data(1, b"x" * 10)
        connection.dataReceived(client.data_to_send())
        clock.advance(1)
    resets = [e for e in h2_events(transport, client) if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(1, ErrorCodes.CANCEL)]
    assert not transport.disconnecting  # the other streams go on
    connection.connectionLost(Failure(Exception("test over")))


def test_http2_stream_body_above_the_min_rate_is_served(clock: Clock) -> None:
    connection, transport, client = h2_peer(clock)
    client.send_headers(1, H2_POST)
    for _ in range(30):
        client.send_data(1, b"x" * 600)
        connection.dataReceived(client.data_to_send())
        clock.advance(1)
    client.end_stream(1)
    connection.dataReceived(client.data_to_send())
    clock.advance(0)
    events = h2_events(transport, client)
    assert not [e for e in events if isinstance(e, h2.events.StreamReset)]
    [response] = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
    assert (b":status", b"200") in response.headers
    connection.connectionLost(Failure(Exception("test over")))


def test_http2_frame_trickled_past_the_header_timeout_ends_the_connection(clock: Clock) -> None:
    connection, transport, client = h2_peer(clock, header_timeout=20)
    client.send_headers(1, [*H2_POST, ("x-slow", "a" * 60)], end_stream=True)
    frame = client.data_to_send()
    for byte in range(len(frame) - 1):
        connection.dataReceived(frame[byte : byte + 1])
        clock.advance(1)
        if transport.disconnecting:
            break
    [ended] = [
        e for e in h2_events(transport, client) if isinstance(e, h2.events.ConnectionTerminated)
    ]
    assert ended.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert ended.additional_data == b"a frame took over 20 s to arrive (see --header-timeout)"
    assert clock.seconds() == 20


def test_http2_header_block_left_open_past_the_header_timeout_ends_the_connection(
    clock: Clock,
) -> None:
    connection, transport, client = h2_peer(clock, header_timeout=20)
    block = client.encoder.encode(H2_POST)
    connection.dataReceived(HeadersFrame(1, data=block[:5]).serialize())
    for _ in range(25):
        clock.advance(1)
        connection.dataReceived(ContinuationFrame(1, data=b"").serialize())
        if transport.disconnecting:
            break
    assert transport.disconnecting
    assert b"a header block took over 20 s" in transport.value()
    assert clock.seconds() == 20


def test_http2_frames_arriving_whole_are_never_cut(clock: Clock) -> None:
    connection, transport, client = h2_peer(clock, header_timeout=20)
    for _ in range(100):
        client.ping(b"12345678")
        connection.dataReceived(client.data_to_send())
        clock.advance(5)
    assert not transport.disconnecting
    connection.connectionLost(Failure(Exception("test over")))
