"""HTTP/2 connections that a hostile client cannot make the server hold on to.

twisted.web serves HTTP/2 with ``H2Connection`` over the ``h2`` library. After a connection
error (``h2`` raises ``ProtocolError`` and queues a GOAWAY) it calls the TLS transport's
``loseConnection()``, which waits for the client's TLS close_notify and goes on reading
meanwhile; every chunk then reaches ``h2`` again, which, its connection closed, takes one frame
out of its buffer per chunk and keeps the rest. A client that sends HEADERS without END_HEADERS
followed by endless CONTINUATION frames, or DATA on stream 0, and keeps sending, grew a server
by gigabytes in seconds, and its connection was only dropped by the idle timeout (60 s, then 15
s more).

:class:`KraitH2Connection` discards everything that arrives once the connection has ended,
stops reading from the socket at once, closes it as soon as the GOAWAY is written, and aborts
it if that takes longer than :data:`GOAWAY_FLUSH_DEADLINE`. It also announces and enforces the
limits of :mod:`krait._h2_limits` as bytes arrive, before ``h2`` buffers them.

Private Twisted names this module relies on, each pinned by tests/test_h2.py, are marked
``# twisted private:`` (and the one undocumented ``h2`` attribute ``# h2 undocumented:``).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, cast

from h2.errors import ErrorCodes
from h2.settings import SettingCodes, Settings
from priority import TooManyStreamsError  # type: ignore[import-untyped]
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IReactorTime, ISSLTransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web._http2 import H2Connection  # twisted private: twisted.web._http2

from krait._h2_limits import (
    MAX_CONCURRENT_STREAMS,
    MAX_FRAME_SIZE,
    MAX_HEADER_LIST_SIZE,
    FrameLimitExceeded,
    FrameMeter,
)
from krait._open_files import ConnectionSlot

__all__ = ["GOAWAY_FLUSH_DEADLINE", "KraitH2Connection", "ProtocolSwitch"]

log = Logger(namespace="krait")

GOAWAY_FLUSH_DEADLINE = 1.0
"""Seconds an ended connection gets to write its GOAWAY before it is aborted: only a client
that does not even read 100 bytes needs them, as nothing it sends is read any more."""


class _Lifecycle(Enum):
    OPEN = "open"
    ENDED = "ended"


class KraitH2Connection(H2Connection):
    """Twisted's HTTP/2 connection with krait's limits, ending at once on a connection error.

    Args:
        reactor: the reactor (its clock) for the abort deadline and Twisted's send loop.
        header_timeout: seconds a frame, and a header block, may take to arrive whole once
            begun (``--header-timeout``); 0: no limit. A slowloris client trickling a frame
            gets a GOAWAY; a connection that only idles is the idle timeout's.
    """

    def __init__(self, reactor: IReactorTime | None = None, header_timeout: float = 0) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = cast(IReactorTime, default_reactor)
        cast(Any, super()).__init__(reactor)
        self._clock: Any = reactor
        self._lifecycle = _Lifecycle.OPEN
        self.connection_slot: ConnectionSlot | None = None
        """The connection's place among the site's --max-connections, from its HTTP/1.1
        channel; given back once the connection ends."""
        self._meter = FrameMeter(MAX_FRAME_SIZE)
        self._header_timeout = header_timeout
        self._frame_timer: Any = None
        self._block_timer: Any = None
        # Sent with the first SETTINGS frame, when the connection is made.
        self.conn.local_settings = Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
                SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
                SettingCodes.MAX_FRAME_SIZE: MAX_FRAME_SIZE,
            },
        )
        self.conn.max_inbound_frame_size = MAX_FRAME_SIZE
        # h2 gives its HPACK decoder the setting only once the client acknowledges it.
        # h2 undocumented: H2Connection.decoder (pinned by tests/test_h2.py)
        self.conn.decoder.max_header_list_size = MAX_HEADER_LIST_SIZE

    def dataReceived(self, data: bytes) -> None:
        if self._lifecycle is _Lifecycle.ENDED:
            return
        frames_before = self._meter.frames_started
        try:
            self._meter.feed(data)
        except FrameLimitExceeded as exceeded:
            self._refuse(exceeded.error_code, str(exceeded))
            return
        if self._header_timeout:
            self._watch_frames(frames_before)
        try:
            cast(Any, super()).dataReceived(data)
        except TooManyStreamsError as error:
            # PRIORITY frames for over 1000 streams never opened: Twisted's priority tree
            # refuses them, and the exception would otherwise reach the reactor.
            self._refuse(ErrorCodes.ENHANCE_YOUR_CALM, f"PRIORITY frames: {error}")

    def _watch_frames(self, frames_before: int) -> None:
        """Time the frame being received from its start, and the header block being received."""
        meter = self._meter
        if not meter.frame_open or meter.frames_started != frames_before:
            _cancel(self._frame_timer)
            self._frame_timer = None
        if meter.frame_open and self._frame_timer is None:
            self._frame_timer = self._clock.callLater(
                self._header_timeout, self._too_slow, "a frame"
            )
        if not meter.header_block_open:
            _cancel(self._block_timer)
            self._block_timer = None
        elif self._block_timer is None:
            self._block_timer = self._clock.callLater(
                self._header_timeout, self._too_slow, "a header block"
            )

    def _too_slow(self, what: str) -> None:
        self._frame_timer = self._block_timer = None
        self._refuse(
            ErrorCodes.ENHANCE_YOUR_CALM,
            f"{what} took over {self._header_timeout:g} s to arrive (see --header-timeout)",
        )

    def timeoutConnection(self) -> None:
        cast(Any, super()).timeoutConnection()
        self._end()

    def connectionLost(  # type: ignore[override]
        self,
        reason: Failure,
        _cancelTimeouts: bool = True,  # twisted private: connectionLost(_cancelTimeouts)
    ) -> None:
        # Twisted calls this itself when it ends the connection (a protocol error, a reset
        # flood, the client's GOAWAY), while the transport still reads.
        cast(Any, super()).connectionLost(reason, _cancelTimeouts=_cancelTimeouts)
        self._end()
        if self.connection_slot is not None:
            self.connection_slot.release()

    def _refuse(self, error_code: int, problem: str) -> None:
        """End the connection with a GOAWAY naming the limit the client broke."""
        transport: Any = self.transport
        log.info(
            "HTTP/2 connection from {client} ended: {problem}",
            client=transport.getPeer(),
            problem=problem,
        )
        self.conn.close_connection(error_code=error_code, additional_data=problem.encode())
        transport.write(self.conn.data_to_send())
        self.connectionLost(Failure(ConnectionLost(problem)))

    def _end(self) -> None:
        """Read nothing more, close once the GOAWAY is written, abort past the deadline."""
        if self._lifecycle is _Lifecycle.ENDED:
            return
        self._lifecycle = _Lifecycle.ENDED
        _cancel(self._frame_timer)
        _cancel(self._block_timer)
        self._frame_timer = self._block_timer = None
        transport: Any = self.transport
        network = _socket_transport(transport)
        if getattr(network, "disconnected", False):
            return
        # The TLS layer's own loseConnection() would wait for the client's close_notify, and
        # read on meanwhile: its flush writes the GOAWAY, the socket's closes without waiting.
        transport.loseConnection()
        network.loseConnection()
        self._clock.callLater(GOAWAY_FLUSH_DEADLINE, _abort, network)


def _cancel(timer: Any) -> None:
    """Cancel ``timer`` if it is still pending."""
    if timer is not None and timer.active():
        timer.cancel()


def _abort(transport: Any) -> None:
    if not getattr(transport, "disconnected", False):
        transport.abortConnection()


def _socket_transport(transport: Any) -> Any:
    """The transport that reads the socket: the one under a TLS layer, or ``transport``."""
    inner = getattr(transport, "transport", None)
    return inner if ISSLTransport.providedBy(transport) and inner is not None else transport


_SWITCH_BASE: Any = http._GenericHTTPChannelProtocol


class ProtocolSwitch(http._GenericHTTPChannelProtocol):
    """An HTTP/1.1 channel that becomes a :class:`KraitH2Connection` when ALPN chose h2.

    twisted private: twisted.web.http._GenericHTTPChannelProtocol does the same with a plain
    ``H2Connection`` it names itself; this repeats its switch with krait's connection.
    """

    def dataReceived(self, data: bytes) -> None:
        if self._negotiatedProtocol is None:  # twisted private: _negotiatedProtocol
            channel = self._channel  # twisted private: _channel
            if getattr(channel.transport, "negotiatedProtocol", None) == b"h2":
                self._switch_to_h2(channel)
        _SWITCH_BASE.dataReceived(self, data)  # by name, not cast(Any, super()): per read

    def _switch_to_h2(self, channel: Any) -> None:
        # twisted private: HTTPChannel._networkProducer, and the _requestFactory, _site,
        # _factory, _timeOut and _callLater that _GenericHTTPChannelProtocol keeps.
        network_producer = channel._networkProducer
        network_producer.unregisterProducer()
        channel.setTimeout(None)
        limits = getattr(self._factory, "client_limits", None)
        connection: Any = KraitH2Connection(
            getattr(self._factory, "reactor", None),
            header_timeout=limits.header_timeout if limits is not None else 0,
        )
        connection.connection_slot = channel.hand_over()
        connection.requestFactory = self._requestFactory
        connection.site = self._site
        connection.factory = self._factory
        connection.timeOut = self._timeOut
        connection.callLater = self._callLater
        connection.makeConnection(channel.transport)
        network_producer.registerProducer(connection, True)
        self._channel = connection
        cast(Any, self)._negotiatedProtocol = b"h2"
