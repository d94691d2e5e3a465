"""``write_now``: an answer goes to a plain TCP socket at once when nothing waits before it,
and through the transport's own buffer otherwise, in order, with nothing lost.

The transports are Twisted's real ``tcp.Server`` around one end of a socket pair, on a
``MemoryReactor`` (which records the descriptors registered for writing); the other end is
read as a client would.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Protocol
from twisted.internet.tcp import Server
from twisted.internet.testing import MemoryReactor, StringTransport

from krait._twisted_compat import DIRECT_WRITE_TRANSPORT_NAMES, write_now
from krait._ws.lean import LeanServerProtocol


class Connected:
    """A ``tcp.Server`` on one end of a socket pair, and the peer's end."""

    def __init__(self, send_buffer: int | None = None) -> None:
        self.reactor = MemoryReactor()
        ours, self.peer = socket.socketpair()
        if send_buffer is not None:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
            self.peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, send_buffer)
        ours.setblocking(False)
        self.peer.settimeout(5)
        self.transport = Server(ours, Protocol(), ("127.0.0.1", 40000), None, 1, self.reactor)

    def is_waiting_to_write(self) -> bool:
        return self.transport in self.reactor.getWriters()

    def received(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.peer.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def close(self) -> None:
        self.peer.close()
        self.transport.socket.close()


@pytest.fixture
def connected() -> Iterator[Connected]:
    pair = Connected()
    yield pair
    pair.close()


def test_a_tcp_server_connection_has_every_name_write_now_reads(connected: Connected) -> None:
    for name in DIRECT_WRITE_TRANSPORT_NAMES:
        assert hasattr(connected.transport, name), (
            f"Twisted's tcp.Server no longer has {name}: update krait._twisted_compat.write_now"
        )


def test_an_answer_on_an_idle_connection_reaches_the_socket_before_the_reactor_turns(
    connected: Connected,
) -> None:
    write_now(connected.transport, b"HTTP/1.1 200 OK\r\n\r\nhello")
    assert connected.received(24) == b"HTTP/1.1 200 OK\r\n\r\nhello"
    assert not connected.is_waiting_to_write()
    assert connected.transport.dataBuffer == b""
    assert connected.transport._tempDataLen == 0


def test_bytes_already_buffered_go_first_and_the_answer_waits_behind_them(
    connected: Connected,
) -> None:
    connected.transport.write(b"first ")
    write_now(connected.transport, b"second")
    assert connected.is_waiting_to_write()
    connected.transport.doWrite()
    assert connected.received(12) == b"first second"


def test_what_a_full_socket_does_not_take_is_buffered_and_sent_in_order() -> None:
    pair = Connected(send_buffer=4096)
    try:
        answer = bytes(range(256)) * 4096  # 1 MiB: more than the socket buffers hold
        write_now(pair.transport, answer)
        assert pair.is_waiting_to_write()
        buffered = len(pair.transport.dataBuffer) + pair.transport._tempDataLen
        assert 0 < buffered < len(answer)
        got = b""
        while len(got) < len(answer):
            pair.transport.doWrite()
            got += pair.peer.recv(65536)
        assert got == answer
    finally:
        pair.close()


def test_a_send_error_leaves_the_answer_to_the_transport_which_reports_the_lost_connection(
    connected: Connected,
) -> None:
    connected.peer.close()
    write_now(connected.transport, b"x" * 100)  # EPIPE: no exception reaches the caller
    assert connected.is_waiting_to_write()
    assert connected.transport._tempDataLen == 100
    assert isinstance(connected.transport.doWrite(), ConnectionLost)


def test_a_closing_connection_gets_the_answer_through_its_own_write(
    connected: Connected,
) -> None:
    connected.transport.disconnecting = True
    write_now(connected.transport, b"late")
    assert connected.transport._tempDataLen == 4


@pytest.mark.parametrize("kind", ["string", "tls"])
def test_other_transports_get_their_own_write(kind: str, connected: Connected) -> None:
    transport: Any
    if kind == "string":
        transport = StringTransport()
    else:
        transport = connected.transport
        written: list[bytes] = []
        transport.TLS = True
        transport.protocol = type("TLSLayer", (), {"write": written.append})()
    write_now(transport, b"answer")
    if kind == "string":
        assert transport.value() == b"answer"
    else:
        assert written == [b"answer"]
        assert connected.transport.dataBuffer == b""


def test_a_websocket_frame_on_an_idle_connection_reaches_the_socket_at_once(
    connected: Connected,
) -> None:
    protocol = LeanServerProtocol()
    protocol.transport = connected.transport
    protocol.state = WebSocketProtocol.STATE_OPEN
    protocol.send_queue = []
    protocol.logOctets = False
    protocol.trafficStats = type("Stats", (), {"outgoingOctetsWireLevel": 0})()
    protocol.sendData(b"\x81\x02hi")
    assert connected.received(4) == b"\x81\x02hi"
    assert not connected.is_waiting_to_write()
    assert protocol.trafficStats.outgoingOctetsWireLevel == 4
