"""The Autobahn protocol shell, in process: what reaches the transport, when it closes, and
how much of one read it parses per reactor pass (the read budget)."""

from __future__ import annotations

import struct
from typing import Any

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from krait._workers import WorkerPool
from krait._ws.handshake import WebsocketsSettings
from krait._ws.hub import WebsocketsHub
from krait._ws.protocol import READ_BUDGET_FRAMES, KraitWebSocketProtocol

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
CLOSE_999 = bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack("!H", 999)  # zero mask: as is
CLOSE_1000 = bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack("!H", 1000)


def text_frames(first: int, count: int) -> bytes:
    """Masked (with a zero key) text frames "first", "first + 1", ...: one read's worth."""
    frames = []
    for number in range(first, first + count):
        payload = str(number).encode()
        frames.append(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
    return b"".join(frames)


def numbers(first: int, count: int) -> list[str | bytes]:
    return [str(number) for number in range(first, first + count)]


def one_pass(reactor: MemoryReactorClock) -> None:
    """Run the calls due now, as one pass of a real reactor does: not the ones they add
    (``advance(0)`` would run those too)."""
    due = [call for call in reactor.getDelayedCalls() if call.getTime() <= reactor.seconds()]
    for call in due:
        if call.active():
            reactor.calls.remove(call)
            call.called = 1
            call.func(*call.args, **call.kw)


class _Transport(StringTransport):
    aborted = False

    def abortConnection(self) -> None:
        self.aborted = True
        super().loseConnection()


class _Protocol(KraitWebSocketProtocol):
    closed: tuple[int | None, str | None] | None = None

    def connection_opened(self) -> None:
        self.received: list[str | bytes] = []

    def message_received(self, message: str | bytes) -> None:
        self.received.append(message)

    def connection_closed(self, code: int | None, reason: str | None) -> None:
        self.closed = (code, reason)


def _open_connection() -> tuple[_Protocol, _Transport, MemoryReactorClock]:
    reactor = MemoryReactorClock()
    pool = WorkerPool(reactor, 1, "unused")
    protocol = _Protocol(WebsocketsHub(reactor, WebsocketsSettings(), pool, pool), None)
    transport = _Transport()
    protocol.makeConnection(transport)
    protocol.dataReceived(UPGRADE)
    assert transport.value().startswith(b"HTTP/1.1 101 ")
    transport.clear()
    return protocol, transport, reactor


def test_malformed_close_is_answered_with_1002_and_closed_gracefully_not_aborted() -> None:
    protocol, transport, _reactor = _open_connection()
    protocol.dataReceived(CLOSE_999)
    assert transport.value() == b"\x88\x18\x03\xea" + b"invalid close code 999"
    assert transport.disconnecting
    assert not transport.aborted


def test_peer_that_does_not_take_the_close_is_aborted_after_the_close_timeout() -> None:
    protocol, transport, reactor = _open_connection()
    protocol.dataReceived(CLOSE_999)
    reactor.advance(WebsocketsSettings().close_handshake_timeout)
    assert transport.aborted


def test_abort_is_cancelled_once_the_connection_is_gone() -> None:
    protocol, _transport, reactor = _open_connection()
    protocol.dataReceived(CLOSE_999)
    protocol.connectionLost(Failure(ConnectionError("closed")))
    assert protocol.closed is not None
    assert reactor.getDelayedCalls() == []


def test_one_read_of_many_frames_is_parsed_one_budget_per_reactor_pass() -> None:
    """Meanwhile the connection reads nothing more, so one read is all it ever buffers."""
    protocol, transport, reactor = _open_connection()
    protocol.dataReceived(text_frames(0, 2 * READ_BUDGET_FRAMES + 5))
    assert protocol.received == numbers(0, READ_BUDGET_FRAMES)
    assert transport.producerState == "paused"
    one_pass(reactor)
    assert protocol.received == numbers(0, 2 * READ_BUDGET_FRAMES)
    assert transport.producerState == "paused"
    one_pass(reactor)
    assert protocol.received == numbers(0, 2 * READ_BUDGET_FRAMES + 5)
    assert transport.producerState == "producing"
    assert reactor.getDelayedCalls() == []


def test_a_read_within_the_budget_is_parsed_at_once_without_pausing() -> None:
    protocol, transport, reactor = _open_connection()
    protocol.dataReceived(text_frames(0, READ_BUDGET_FRAMES))
    assert protocol.received == numbers(0, READ_BUDGET_FRAMES)
    assert transport.producerState == "producing"
    assert reactor.getDelayedCalls() == []


def test_the_budget_counts_frames_so_a_large_message_is_never_held_back() -> None:
    protocol, transport, _reactor = _open_connection()
    payload = b"x" * 60_000
    frame = bytes([0x82, 0x80 | 126]) + struct.pack("!H", len(payload)) + b"\0\0\0\0" + payload
    protocol.dataReceived(frame)
    assert protocol.received == [payload]
    assert transport.producerState == "producing"


def test_data_read_while_frames_are_held_back_waits_behind_them() -> None:
    """A TLS transport may deliver more of one network read after the pause."""
    protocol, _transport, reactor = _open_connection()
    protocol.dataReceived(text_frames(0, READ_BUDGET_FRAMES + 1))
    protocol.dataReceived(text_frames(READ_BUDGET_FRAMES + 1, 3))
    assert protocol.received == numbers(0, READ_BUDGET_FRAMES)
    one_pass(reactor)
    assert protocol.received == numbers(0, READ_BUDGET_FRAMES + 4)


def test_nothing_is_parsed_while_krait_does_not_read() -> None:
    protocol, transport, reactor = _open_connection()
    protocol.set_reading(False)
    protocol.dataReceived(text_frames(0, 3))
    one_pass(reactor)
    assert protocol.received == []
    protocol.set_reading(True)
    assert transport.producerState == "paused"  # until the held frames are parsed
    one_pass(reactor)
    assert protocol.received == numbers(0, 3)
    assert transport.producerState == "producing"


def test_a_pause_while_frames_are_held_back_stops_parsing_until_reading_resumes() -> None:
    protocol, transport, reactor = _open_connection()
    protocol.dataReceived(text_frames(0, READ_BUDGET_FRAMES + 3))
    protocol.set_reading(False)
    one_pass(reactor)
    assert protocol.received == numbers(0, READ_BUDGET_FRAMES)
    assert transport.producerState == "paused"
    protocol.set_reading(True)
    one_pass(reactor)
    assert protocol.received == numbers(0, READ_BUDGET_FRAMES + 3)
    assert transport.producerState == "producing"


def test_a_close_behind_held_back_frames_still_closes_after_them() -> None:
    protocol, transport, reactor = _open_connection()
    protocol.dataReceived(text_frames(0, READ_BUDGET_FRAMES + 2) + CLOSE_1000)
    assert protocol.closed is None
    one_pass(reactor)
    assert protocol.received == numbers(0, READ_BUDGET_FRAMES + 2)
    assert transport.value().startswith(b"\x88\x02\x03\xe8")  # the Close answered
    protocol.connectionLost(Failure(ConnectionError("closed")))
    assert protocol.closed is not None and protocol.closed[0] == 1000


def test_a_connection_lost_with_frames_held_back_leaves_no_call_behind() -> None:
    protocol, _transport, reactor = _open_connection()
    protocol.dataReceived(text_frames(0, READ_BUDGET_FRAMES + 2))
    protocol.connectionLost(Failure(ConnectionError("gone")))
    assert reactor.getDelayedCalls() == []
    assert protocol.received == numbers(0, READ_BUDGET_FRAMES)


def test_a_ping_timeout_waits_while_frames_are_held_back() -> None:
    """The pong may be among the held frames: krait's delay is not the peer's fault."""
    protocol, transport, reactor = _open_connection()
    protocol.dataReceived(text_frames(0, READ_BUDGET_FRAMES + 1))
    protocol.onAutoPingTimeout()
    assert not transport.disconnecting
    one_pass(reactor)
    protocol.onAutoPingTimeout()  # nothing held any more: a silent peer is dropped
    assert transport.disconnecting


def test_a_message_listener_still_hears_every_message_beside_the_controller() -> None:
    """The per-message fast path skips Autobahn's "message" event only while nobody listens."""
    protocol, _transport, _reactor = _open_connection()
    heard: list[bytes] = []
    autobahn: Any = protocol
    autobahn.on("message", lambda payload, is_binary: heard.append(payload))
    protocol.dataReceived(text_frames(0, 3))
    assert protocol.received == numbers(0, 3)
    assert heard == [b"0", b"1", b"2"]


def test_a_send_is_written_at_once_and_counted_in_the_traffic_stats() -> None:
    protocol, transport, _reactor = _open_connection()
    autobahn: Any = protocol
    before = autobahn.trafficStats.outgoingOctetsWireLevel
    protocol.send("hi")
    assert transport.value() == b"\x81\x02hi"
    assert autobahn.trafficStats.outgoingOctetsWireLevel == before + 4


def test_a_send_behind_queued_data_keeps_its_order() -> None:
    """With Autobahn's send queue in use (a chopped write), a send goes behind it."""
    protocol, transport, _reactor = _open_connection()
    autobahn: Any = protocol
    autobahn.sendData(b"first", chopsize=2)  # queued: written piece by piece on later passes
    protocol.send("hi")
    assert transport.value() == b"fi"
    assert [data for data, _sync in autobahn.send_queue] == [b"rs", b"t", b"\x81\x02hi"]
