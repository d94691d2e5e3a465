"""WebSocket support: upgrade requests and responses, and the controller base classes.

A route target sees ``krait.websockets.request`` on an upgrade request (None otherwise) and
accepts the upgrade by setting ``krait.websockets.response`` to a :class:`WebsocketsResponse`
holding a controller. A :class:`WebsocketsCtrlBase` (the Krait API) runs ``on_thread_start``
in its own thread, reading incoming messages with :meth:`WebsocketsCtrlBase.pop_in_message`
and sending with :meth:`WebsocketsCtrlBase.push_out_message`. A
:class:`WebsocketsAsyncCtrlBase` (a krait addition) has no thread: its hooks run on the
server's event loop and must never block.
"""

from __future__ import annotations

import collections
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from twisted.python import threadable

from krait import _context

__all__ = [
    "WebsocketsAsyncCtrlBase",
    "WebsocketsCtrlBase",
    "WebsocketsRequest",
    "WebsocketsResponse",
    "request",  # noqa: F822 (a property of the module's class)
    "response",  # noqa: F822 (a property of the module's class)
]


class WebsocketsRequest:
    """The WebSocket details of an HTTP upgrade request.

    Args:
        http_request: the upgrade request (a :class:`krait.Request`).

    Attributes:
        http_request: the upgrade request.
        protocols: the subprotocols the client offered, or None when it offered none.
    """

    def __init__(self, http_request: Any) -> None:
        self.http_request = http_request
        self.protocols = self.extract_protocols(http_request)

    @staticmethod
    def extract_protocols(http_request: Any) -> list[str] | None:
        """The subprotocols offered in ``Sec-WebSocket-Protocol``, or None.

        Args:
            http_request: the upgrade request.

        Returns:
            The offered protocol names in order, or None if the header is absent.
        """
        value = http_request.headers.get("sec-websocket-protocol")
        if value is None:
            return None
        return [item.strip() for item in value.split(",") if item.strip()]


class WebsocketsResponse:
    """Accepts an upgrade: the controller that serves the connection and the chosen protocol.

    Args:
        controller: the controller serving the connection: a :class:`WebsocketsCtrlBase`
            (a thread per connection) or a :class:`WebsocketsAsyncCtrlBase` (no thread).
        protocol: the chosen subprotocol, or None.
    """

    def __init__(
        self,
        controller: WebsocketsCtrlBase | WebsocketsAsyncCtrlBase,
        protocol: str | None = None,
    ) -> None:
        self.controller = controller
        self.protocol = protocol


IN_QUEUE_PAUSE_AT = 256
"""Queued incoming messages at which krait stops reading from a threaded connection."""
IN_QUEUE_RESUME_AT = IN_QUEUE_PAUSE_AT // 2
"""Queued incoming messages at which it reads again."""
IN_QUEUE_PAUSE_BYTES = 1024 * 1024
"""Queued incoming bytes at which krait stops reading from a threaded connection."""
IN_QUEUE_RESUME_BYTES = IN_QUEUE_PAUSE_BYTES // 2
"""Queued incoming bytes at which it reads again."""
OUT_QUEUE_HIGH_BYTES = 1024 * 1024
"""Queued outgoing bytes above which ``push_out_message`` waits for the client to read."""
OUT_QUEUE_LOW_BYTES = OUT_QUEUE_HIGH_BYTES // 2
"""Queued outgoing bytes at which waiting pushes go on."""


_SIZED = frozenset({str, bytes, bytearray})


def message_size(message: Any) -> int:
    """About the memory a queued message takes: its length plus an object's overhead."""
    return len(message) + 64 if message.__class__ in _SIZED else 64


class WebsocketsCtrlBase:
    """Base class of WebSocket controllers; subclass it and override ``on_thread_start``.

    The methods are thread-safe: krait calls ``on_in_message_internal`` and
    ``pop_out_message`` while the controller thread pops incoming and pushes outgoing
    messages.

    Args:
        use_in_message_queue: keep incoming messages in a queue for ``pop_in_message``;
            False means the subclass handles them in ``on_in_message``.
    """

    def __init__(self, use_in_message_queue: bool = True) -> None:
        self.use_in_message_queue = use_in_message_queue
        # Re-entrant: an event-model on_in_message runs under it and may push_out_message.
        self._lock = threading.RLock()
        self._in_ready = threading.Condition(self._lock)
        self._in_queue: collections.deque[Any] = collections.deque()
        self._in_bytes = 0
        self._out_queue: collections.deque[Any] = collections.deque()
        self._out_bytes = 0
        self._out_room = threading.Condition(self._lock)
        self._out_waiting = 0
        self._stop_event = threading.Event()
        # Set by a krait server running this controller: on_start() asks it for the thread.
        self._thread_starter: Callable[[], None] | None = None
        # Set while no controller thread runs: before it starts, as after it returned.
        self._thread_done = threading.Event()
        self._thread_done.set()
        self._out_listener: Callable[[], None] | None = None
        self._in_listener: Callable[[], None] | None = None
        # Set by krait while it does not read from the client because the queue is full;
        # the pop that brings the queue down to the resume marks calls the drained listener.
        self._reading_paused = False
        self._in_drained_listener: Callable[[], None] | None = None

    def on_start(self) -> None:
        """Called when the connection opens; starts ``on_thread_start``.

        Under krait this runs on the server's event loop and has ``on_thread_start`` run in
        the WebSocket thread pool. As in the original, it is this method that starts the
        thread: an override that does not call ``super().on_start()`` gets no
        ``on_thread_start`` from krait (it may start a thread of its own). Called outside a
        krait server (a unit test of a controller, say), it starts ``on_thread_start`` in a
        new thread, as the original did.
        """
        starter = self._thread_starter
        if starter is not None:
            starter()
            return
        self._thread_done.clear()
        threading.Thread(
            target=self._run_own_thread, name=f"{type(self).__name__}-thread", daemon=True
        ).start()

    def _run_own_thread(self) -> None:
        try:
            self.on_thread_start()
        finally:
            self._thread_done.set()

    def on_thread_start(self) -> None:
        """The controller thread's body: loop until :meth:`should_stop` is true."""

    def on_in_message(self, message: Any) -> None:
        """Handle a message from the client; by default, queue it for ``pop_in_message``.

        Args:
            message: ``str`` for a text frame, ``bytes`` for a binary frame.
        """
        if self.use_in_message_queue:
            self._in_queue.append(message)
            self._in_bytes += message_size(message)
        # Without the queue, a controller that does not override this ignores messages, as
        # the original did.

    def on_in_message_internal(self, message: Any) -> None:
        """Called by krait for every message: takes the lock, then calls ``on_in_message``."""
        with self._lock:
            self.on_in_message(message)
            self._in_ready.notify_all()
        listener = self._in_listener
        if listener is not None:
            listener()

    def pop_in_message(self, timeout: float | None = 0.0) -> Any:
        """The oldest incoming message, removed from the queue, or None if there is none.

        Args:
            timeout: how long to wait for a message while the queue is empty (a krait
                addition): 0, the default, returns at once as the original did; a number of
                seconds waits at most that long; None waits until a message arrives. The
                wait ends early, returning None, when the connection closes.

        Raises:
            RuntimeError: the controller does not queue incoming messages.
        """
        if not self.use_in_message_queue:
            raise RuntimeError("this controller was created with use_in_message_queue=False")
        with self._lock:
            queue = self._in_queue
            if not queue and timeout != 0:
                self._in_ready.wait_for(self._has_message_or_stop, timeout)
            if not queue:
                return None
            message = queue.popleft()
            self._in_bytes -= message_size(message)
            drained = None
            if self._reading_paused and self._in_queue_low():
                self._reading_paused = False
                drained = self._in_drained_listener
        if drained is not None:
            drained()
        return message

    def _in_queue_full(self) -> bool:
        """Whether krait should stop reading from the client (call with the lock held)."""
        return len(self._in_queue) >= IN_QUEUE_PAUSE_AT or self._in_bytes >= IN_QUEUE_PAUSE_BYTES

    def _in_queue_low(self) -> bool:
        """Whether krait may read again (call with the lock held)."""
        return len(self._in_queue) <= IN_QUEUE_RESUME_AT and self._in_bytes <= IN_QUEUE_RESUME_BYTES

    def _has_message_or_stop(self) -> bool:
        return bool(self._in_queue) or self._stop_event.is_set()

    def _wake_waiters(self) -> None:
        """Wake threads waiting in :meth:`pop_in_message` or :meth:`push_out_message`
        (called by krait after on_stop)."""
        with self._lock:
            self._in_ready.notify_all()
            self._out_room.notify_all()

    def _wake_readers(self) -> None:
        """Wake threads waiting in :meth:`pop_in_message` (krait, after queueing messages)."""
        with self._lock:
            self._in_ready.notify_all()

    def push_out_message(self, message: Any) -> None:
        """Send a message: ``str`` as a text frame, ``bytes`` as a binary frame.

        It leaves at once, without polling. While more than 1 MiB waits for a client that
        does not read, a push from a thread of the pool waits for it to read (never on the
        event loop, and never once the connection is closing).

        Args:
            message: the message to send.
        """
        with self._lock:
            self._out_queue.append(message)
            self._out_bytes += message_size(message)
            full = self._out_bytes > OUT_QUEUE_HIGH_BYTES
        listener = self._out_listener
        if listener is not None:
            listener()
            if full and not threadable.isInIOThread():
                self._wait_for_room()

    def _wait_for_room(self) -> None:
        with self._lock:
            self._out_waiting += 1
            try:
                while (
                    self._out_bytes > OUT_QUEUE_LOW_BYTES
                    and self._out_listener is not None
                    and not self._stop_event.is_set()
                ):
                    self._out_room.wait(1.0)
            finally:
                self._out_waiting -= 1

    def pop_out_message(self) -> Any:
        """The oldest outgoing message, removed from the queue, or None if there is none."""
        with self._lock:
            if not self._out_queue:
                return None
            message = self._out_queue.popleft()
            self._out_bytes -= message_size(message)
            if self._out_waiting and self._out_bytes <= OUT_QUEUE_LOW_BYTES:
                self._out_room.notify_all()
            return message

    def on_stop(self) -> None:
        """Called by krait when the connection closes, however it closes; sets the stop flag."""
        self._stop_event.set()
        self._wake_waiters()

    def should_stop(self) -> bool:
        """True once the connection is closing: ``on_thread_start`` should return."""
        return self._stop_event.is_set()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait until the controller thread has returned.

        Args:
            timeout: seconds to wait at most, or None to wait as long as it takes.

        Returns:
            True when the thread has finished.
        """
        return self._thread_done.wait(timeout)


_SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})


class _Connection(Protocol):
    """What an asynchronous controller is attached to (krait's WebSocket protocol)."""

    @property
    def open_for_messages(self) -> bool: ...

    def send(self, message: Any) -> None: ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...

    def when_writable(self) -> Any: ...


class WebsocketsAsyncCtrlBase:
    """Base class of asynchronous WebSocket controllers (a krait addition).

    Its hooks run on the server's event loop, with no thread per connection, so one process
    holds thousands of connections. A hook may be a plain method, an ``async def`` coroutine
    or return a Deferred; krait waits for it before calling the next hook, so messages are
    handled one at a time and in order. Never block in a hook (no ``time.sleep``, no
    blocking I/O): the whole server waits while it runs. Send with :meth:`send` and close
    with :meth:`close`, from the hooks or from anything else running on the event loop.
    """

    _connection: _Connection | None = None

    def on_open(self) -> Awaitable[None] | None:
        """Called once the connection is open."""
        return None

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Called for each message from the client.

        Args:
            message: ``str`` for a text message, ``bytes`` for a binary one.
        """
        return None

    def on_close(self, code: int | None, reason: str | None) -> Awaitable[None] | None:
        """Called exactly once when the connection ends, however it ends.

        Args:
            code: the close status code (1006 when the connection dropped without one).
            reason: the close reason, or None.
        """
        return None

    @property
    def is_open(self) -> bool:
        """True while :meth:`send` delivers messages."""
        return self._connection is not None and self._connection.open_for_messages

    def send(self, message: str | bytes) -> None:
        """Send ``str`` as a text message and ``bytes`` as a binary one.

        Messages sent after the connection closed are dropped.

        Raises:
            RuntimeError: the connection is not open yet, or this is not the event loop.
        """
        connection = self._connection
        io_thread = threadable.ioThread
        if connection is None or (io_thread is not None and threading.get_ident() != io_thread):
            connection = self._checked_connection("send")  # raises, saying why
        connection.send(message)

    def when_writable(self) -> Any:
        """A Deferred that fires once the client has taken what was sent so far.

        It fires at once while the client keeps up (and once the connection is closed).
        A controller that sends on its own, not in answer to messages, should await it
        between sends, or a client that does not read makes the server buffer everything.
        (Answers to messages need not: krait stops reading from such a client.)

        Raises:
            RuntimeError: the connection is not open yet, or this is not the event loop.
        """
        return self._checked_connection("when_writable").when_writable()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start closing the connection; :meth:`on_close` follows.

        Args:
            code: 1000 (normal), another code RFC 6455 lets endpoints send, or 3000-4999.
            reason: a short text for the peer (at most 123 UTF-8 bytes are sent).

        Raises:
            ValueError: ``code`` may not be sent.
            RuntimeError: the connection is not open yet, or this is not the event loop.
        """
        if code not in _SENDABLE_CLOSE_CODES and not 3000 <= code <= 4999:
            raise ValueError(
                f"close code {code} may not be sent: use 1000, 1001, 1002, 1003, 1007-1011 "
                "or an application code from 3000 to 4999"
            )
        self._checked_connection("close").close(code, reason)

    def _checked_connection(self, action: str) -> _Connection:
        connection = self._connection
        if connection is None:
            raise RuntimeError(
                f"{action}() needs an open connection: call it from on_open() or later, not "
                "from __init__ or the route target"
            )
        if threadable.ioThread is not None and not threadable.isInIOThread():
            raise RuntimeError(
                f"{action}() must run on the server's event loop; from another thread use "
                "reactor.callFromThread, or use WebsocketsCtrlBase, whose methods are "
                "thread-safe"
            )
        return connection


class _WebsocketsModule(_context.RequestScopedModule):
    """Routes ``request`` and ``response`` to the active request's state."""

    request = _context.RequestScoped[Any]("ws_request")
    response = _context.RequestScoped[Any]("ws_response")


sys.modules[__name__].__class__ = _WebsocketsModule
