"""The Autobahn protocol shell, in process: what reaches the transport, and when it closes."""

from __future__ import annotations

import struct

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from krait._workers import WorkerPool
from krait._ws.handshake import WebsocketsSettings
from krait._ws.hub import WebsocketsHub
from krait._ws.protocol import KraitWebSocketProtocol

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
CLOSE_999 = bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack("!H", 999)  # zero mask: as is


class _Transport(StringTransport):
    aborted = False

    def abortConnection(self) -> None:
        self.aborted = True
        super().loseConnection()


class _Protocol(KraitWebSocketProtocol):
    closed: tuple[int | None, str | None] | None = None

    def connection_opened(self) -> None:
        pass

    def message_received(self, message: str | bytes) -> None:
        pass

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
