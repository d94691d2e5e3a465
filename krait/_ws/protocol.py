"""The Autobahn protocol krait's WebSocket connections share, whatever runs the controller.

:class:`KraitWebSocketProtocol` chooses the subprotocol the route target picked, turns frames
into ``str`` (text) and ``bytes`` (binary) messages and back, and tells the hub when a
connection begins and ends. Subclasses connect it to a threaded controller
(``krait._ws.threaded``) or to an asynchronous one (``krait._ws.async_ctrl``). Its
:class:`ConnectionState` says where the connection is; the two backpressure flags
(``reading_paused``: krait does not read from the client; ``writable``: the client takes
what krait sends) are independent of it and of each other, so they stay flags.

It also shares the reactor fairly between connections: each parses at most
:data:`READ_BUDGET_FRAMES` frames per reactor pass (see there why), and none while krait
does not read.
"""

from __future__ import annotations

import enum
from typing import Any

from autobahn.websocket.protocol import WebSocketProtocol
from autobahn.websocket.types import ConnectionRequest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from krait._open_files import ConnectionSlot
from krait._ws.channels import Message, Subscriptions
from krait._ws.deflate import MAX_DEFLATED_SEND
from krait._ws.hub import WebsocketsHub
from krait._ws.lean import LeanServerProtocol
from krait._ws.mailbox import message_size

log = Logger(namespace="krait.websockets")

GOING_AWAY = 1001
INTERNAL_ERROR = 1011
NORMAL = 1000
POLICY_VIOLATION = 1008

_OPEN = WebSocketProtocol.STATE_OPEN
_CLOSED = WebSocketProtocol.STATE_CLOSED
_CLOSING = WebSocketProtocol.STATE_CLOSING

READ_BUDGET_FRAMES = 64
"""Frames one connection parses per reactor pass before the other connections get their turn.

One read hands a connection up to 64 KiB, and Autobahn parses every frame in it at once,
calling ``onMessage`` for each. Parsing costs about 15 us per frame whatever its size (the
unmasking and UTF-8 checks are in C), so 64 KiB of 1-byte frames held the reactor for
150-450 ms, and every other connection waited that long: a flooding client raised the others'
echo time to hundreds of milliseconds. So the budget counts frames, not bytes: 64 frames and
their messages take one or two milliseconds, while the bytes a pass parses stay bounded by
the read size, so large messages go no slower. Past the budget, the unparsed rest stays in
Autobahn's buffer, the connection stops reading from the network (so that buffer never holds
more than one read), and the next reactor pass goes on with it.
"""


class ConnectionState(enum.Enum):
    """Where a connection is in its life, as krait sees it; it only moves forward."""

    CONNECTING = "connecting"
    """The opening handshake has not completed."""
    OPEN = "open"
    """Messages flow both ways."""
    CLOSING = "closing"
    """krait sent a Close frame and waits for the peer's (or for the grace to run out)."""
    CLOSED = "closed"
    """The connection ended; the controller may still be running."""
    RELEASED = "released"
    """Closed and its controller done: the hub forgot it."""


_ENDED = frozenset({ConnectionState.CLOSED, ConnectionState.RELEASED})


class KraitWebSocketProtocol(LeanServerProtocol):
    """One accepted WebSocket connection.

    Args:
        hub: the hub that tracks the connection.
        subprotocol: the subprotocol the route target chose, or None.
    """

    def __init__(self, hub: WebsocketsHub, subprotocol: str | None) -> None:
        super().__init__()
        self.hub = hub
        self.chosen_subprotocol = subprotocol
        self.factory = hub.factory
        self._send_message: Any = self.sendMessage
        self._process_step: Any = WebSocketProtocol.processData.__get__(self)
        self.reading_paused = False
        # False while the transport's buffer is full (the client reads slower than we send).
        self.writable = True
        self.connection_state = ConnectionState.CONNECTING
        self._finish_waiters: list[Deferred[None]] = []
        self._abort_call: Any = None
        self.connection_slot: ConnectionSlot | None = None
        """The connection's place among the site's --max-connections, handed over by the
        HTTP channel it was upgraded from; given back when the connection closes."""
        # The read budget: frames this pass may still parse; whether Autobahn's buffer holds
        # frames krait did not parse yet; the call that parses them on the next pass.
        self._frames_left = READ_BUDGET_FRAMES
        self._frames_held = False
        self._budget_call: Any = None
        self._transport_paused = False
        # Bytes handed to the transport while it reported itself full (see unsent_bytes).
        self._sent_while_full = 0
        self.subscriptions: Subscriptions | None = None
        """The controller's channels, set by the subclass; joined when the connection opens."""

    def connectionMade(self) -> None:
        self.hub.add(self)
        super().connectionMade()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        if self.connection_slot is not None:
            self.connection_slot.release()

    def onConnect(self, request: ConnectionRequest) -> Any:
        """Answer with the subprotocol the route target chose."""
        chosen = self.chosen_subprotocol
        if chosen is None or chosen in request.protocols:
            return chosen
        # The original Krait sent whatever the script chose, offered or not; Autobahn only
        # accepts offered names, so an unoffered choice travels as a plain header.
        return None, {"Sec-WebSocket-Protocol": chosen}

    def onOpen(self) -> None:
        # Learn when the client stops reading: the transport pauses its producer.
        if self.transport is not None:
            self.transport.registerProducer(self, True)
        if self._perMessageCompress is not None:
            self._send_message = self._send_deflated_if_small
        self.connection_state = ConnectionState.OPEN
        if self.subscriptions is not None:
            for channel in self.subscriptions.link(self):
                self.join(channel)
        self.connection_opened()

    def _send_deflated_if_small(self, payload: bytes, is_binary: bool) -> None:
        """Send with permessage-deflate, but never compress a large message on the reactor."""
        autobahn: Any = self
        autobahn.sendMessage(payload, is_binary, doNotCompress=len(payload) > MAX_DEFLATED_SEND)

    # IPushProducer, for the transport: outgoing backpressure.

    def pauseProducing(self) -> None:
        self.writable = False

    def resumeProducing(self) -> None:
        self.writable = True
        self._sent_while_full = 0
        self.output_ready()

    def stopProducing(self) -> None:
        self.writable = False

    def output_ready(self) -> None:
        """The transport takes data again after a pause; subclasses send what waits."""

    def dataReceived(self, data: bytes) -> None:
        if not self._frames_held:
            self._frames_left = READ_BUDGET_FRAMES
        # else earlier frames wait for the next pass: this data waits behind them.
        # Straight to Autobahn's framework-neutral half: its Twisted dataReceived only adds
        # a debug line whose arguments it formats even when debug logging is off.
        self._dataReceived(data)

    def consumeData(self) -> None:
        # Autobahn's loop, with the read budget: a step with no current frame starts one;
        # hold it back (the unparsed bytes stay in self.data) once the budget is spent, or
        # while krait does not read at all. Looping here rather than in an override of
        # processData saves a Python call per parsing step.
        if self.state != _OPEN and self.state != _CLOSING:
            super().consumeData()
            return
        process = self._process_step
        while True:
            if self.current_frame is None:
                if self._frames_left <= 0 or self.reading_paused:
                    self._frames_held = True
                    self._apply_reading()
                    return
                self._frames_left -= 1
            if not process() or self.state == _CLOSED:
                return

    def _parse_held(self) -> None:
        """Parse the frames held back, on a later reactor pass than the one that read them."""
        self._budget_call = None
        if self.state == _CLOSED:
            return
        self._frames_held = False
        self._frames_left = READ_BUDGET_FRAMES
        self.consumeData()  # may hold the rest back again
        self._apply_reading()

    def onAutoPingTimeout(self) -> None:
        # While krait itself does not read (its controller is behind, or the read budget
        # holds frames back), the pong may well be sitting unread in the socket or in the
        # buffer: wait for krait rather than drop the peer.
        timeout = getattr(self, "autoPingTimeout", None)  # set by Autobahn from the factory
        if (self.reading_paused or self._frames_held) and timeout:
            self.autoPingTimeoutCall = self.hub.reactor.callLater(timeout, self.onAutoPingTimeout)
            return
        super().onAutoPingTimeout()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.message_received(payload if isBinary else payload.decode("utf-8"))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if self._abort_call is not None and self._abort_call.active():
            self._abort_call.cancel()
        if self._budget_call is not None and self._budget_call.active():
            self._budget_call.cancel()
        self._budget_call = None
        self.connection_state = ConnectionState.CLOSED
        if self.subscriptions is not None:
            self.subscriptions.end()
        self.hub.channels.drop(self)
        self.connection_closed(code, reason)

    def dropConnection(self, abort: bool = False) -> None:
        # Once the closing handshake is complete Autobahn aborts the TCP connection, dropping
        # whatever is still unwritten. A malformed Close (code 999, a 1-byte payload, a reason
        # that is not UTF-8) makes Autobahn answer with its own Close (1002, or 1007 for the
        # reason) and then take the bad frame for the reply to it: the abort threw that answer
        # away and the client saw a bare TCP reset. After a clean handshake, close gracefully
        # so the Close goes out first; abort only if the peer will not take it.
        if abort and self.wasClean and self.transport is not None:
            abort = False
            timeout = getattr(self, "closeHandshakeTimeout", None) or 1.0
            self._abort_call = self.hub.reactor.callLater(timeout, self.abort)
        super().dropConnection(abort)

    @property
    def closed(self) -> bool:
        """True once the connection ended (its controller may still run)."""
        return self.connection_state in _ENDED

    @property
    def open_for_messages(self) -> bool:
        """True while messages can be sent."""
        return bool(self.state == _OPEN)

    def send(self, message: Any) -> None:
        """Send ``str`` as a text frame, ``bytes``-like as binary, anything else as ``str()``."""
        if self.state != _OPEN:
            return
        kind = type(message)
        if kind is str:
            payload, binary = message.encode("utf-8"), False
        elif kind is bytes:
            payload, binary = message, True
        elif isinstance(message, bytes | bytearray | memoryview):
            payload, binary = bytes(message), True
        else:
            payload, binary = str(message).encode("utf-8"), False
        if not self.writable:
            self._sent_while_full += len(payload)
        self._send_message(payload, binary)

    # Channels (krait._ws.pubsub): the connection as a subscriber, and as the link of its
    # controller's subscriptions.

    def join(self, channel: str) -> None:
        """Subscribe the connection to ``channel`` (from any thread)."""
        self.hub.channels.subscribe(channel, self)

    def leave(self, channel: str) -> None:
        """Unsubscribe the connection from ``channel`` (from any thread)."""
        self.hub.channels.unsubscribe(channel, self)

    def deliver(self, message: Message) -> None:
        """Send a channel message, or close with 1008 when too much waits for the client.

        A subscriber that does not read must not make the server buffer everything
        published meanwhile; nor may it hold up the publisher or the other subscribers.
        """
        if not self.open_for_messages:
            return
        backlog = self.unsent_bytes() + message_size(message)
        limit = self.hub.settings.channel_backlog
        if backlog > limit:
            log.warn(
                "closing {what} with 1008: more than {limit} bytes wait for it to read "
                "(see --ws-channel-backlog)",
                what=self.describe(),
                limit=limit,
            )
            self.close(POLICY_VIOLATION, "too slow: channel messages were not read")
            return
        self.queue_channel_message(message)

    def unsent_bytes(self) -> int:
        """Bytes sent that wait for the client, beyond what the transport buffers anyway.

        The transport does not say how much it holds; it says when it is full (it pauses
        its producer, us). What was sent since then is what the client is behind by.
        """
        return self._sent_while_full

    def queue_channel_message(self, message: Message) -> None:
        """Send a channel message that is within the backlog (subclasses may queue it)."""
        self.send(message)

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Start the closing handshake with ``code`` (any valid code, 1001 and 1011 too)."""
        if self.open_for_messages:
            # A close frame's reason is at most 123 bytes; never cut a character in half.
            encoded = reason.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
            self.sendCloseFrame(code=code, reasonUtf8=encoded or None)
            if self.connection_state is ConnectionState.OPEN:
                self.connection_state = ConnectionState.CLOSING

    def set_reading(self, on: bool) -> None:
        """Resume or pause reading from the network (backpressure from a slow controller)."""
        if on == (not self.reading_paused):
            return
        self.reading_paused = not on
        self._apply_reading()

    def _apply_reading(self) -> None:
        """Read from the network only while krait keeps up and no frames are held back;
        parse held frames on the next pass once krait keeps up."""
        if self.transport is None or self.state == _CLOSED:
            return  # nothing more will be read
        if self._frames_held and not self.reading_paused and self._budget_call is None:
            self._budget_call = self.hub.reactor.callLater(0, self._parse_held)
        paused = self.reading_paused or self._frames_held
        if paused != self._transport_paused:
            self._transport_paused = paused
            if paused:
                self.transport.pauseProducing()
            else:
                self.transport.resumeProducing()

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abortConnection()

    def when_finished(self) -> Deferred[None]:
        """A Deferred that fires once the connection and its controller are done."""
        if self.connection_state is ConnectionState.RELEASED:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._finish_waiters.append(waiter)
        return waiter

    def mark_finished(self) -> None:
        """Record that the connection and its controller are done (idempotent)."""
        if self.connection_state is ConnectionState.RELEASED:
            return
        self.connection_state = ConnectionState.RELEASED
        self.hub.discard(self)
        waiters, self._finish_waiters = self._finish_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def connection_opened(self) -> None:
        """The handshake completed; start the controller."""
        raise NotImplementedError

    def message_received(self, message: str | bytes) -> None:
        """A whole message arrived."""
        raise NotImplementedError

    def connection_closed(self, code: int | None, reason: str | None) -> None:
        """The connection ended, cleanly or not; called exactly once."""
        raise NotImplementedError

    def shut_down(self) -> None:
        """The server is stopping: close with 1001 (drop a connection still handshaking)."""
        if self.connection_state is ConnectionState.CONNECTING:
            self.abort()
        else:
            self.close(GOING_AWAY, "server shutting down")

    def shutdown_hint(self) -> str:
        """Why the connection may have outlived the shutdown grace, for the log, or ""."""
        return ""

    def describe(self) -> str:
        """A short description for log messages."""
        return f"WebSocket connection from {self.peer}"
