"""WebSocket support: upgrade requests and responses, and the controller base classes.

A route target sees ``krait.websockets.request`` on an upgrade request (None otherwise) and
accepts the upgrade by setting ``krait.websockets.response`` to a :class:`WebsocketsResponse`
holding a controller. A :class:`WebsocketsCtrlBase` (the Krait API) runs ``on_thread_start``
in its own thread, reading incoming messages with :meth:`WebsocketsCtrlBase.pop_in_message`
and sending with :meth:`WebsocketsCtrlBase.push_out_message`. A
:class:`WebsocketsAsyncCtrlBase` (a krait addition) has no thread: its hooks run on the
server's event loop and must never block.

Both kinds of controller can :meth:`~WebsocketsCtrlBase.subscribe` their connection to named
channels, and :func:`publish`, from any thread or from the event loop, sends a message to
every connection subscribed to a channel: in this process by default, or in every worker
and machine sharing a Redis server with ``krait.config.pubsub_url``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable
from typing import Any, Protocol

from twisted.python import threadable

from krait import _context
from krait._request import Request
from krait._ws.channels import ChannelMember
from krait._ws.mailbox import (  # noqa: F401 (the marks are documented with the controllers)
    IN_QUEUE_PAUSE_AT,
    IN_QUEUE_PAUSE_BYTES,
    IN_QUEUE_RESUME_AT,
    IN_QUEUE_RESUME_BYTES,
    OUT_QUEUE_HIGH_BYTES,
    OUT_QUEUE_LOW_BYTES,
    Mailbox,
    message_size,
)

__all__ = [
    "WebsocketsAsyncCtrlBase",
    "WebsocketsCtrlBase",
    "WebsocketsRequest",
    "WebsocketsResponse",
    "publish",
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

    def __init__(self, http_request: Request) -> None:
        self.http_request = http_request
        self.protocols = self.extract_protocols(http_request)

    @staticmethod
    def extract_protocols(http_request: Request) -> list[str] | None:
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


class _Publisher(Protocol):
    """The channels of the site this process serves (``krait._ws.pubsub.Channels``)."""

    def publish(self, channel: str, message: str | bytes) -> None: ...


_site_channels: _Publisher | None = None


def serve_channels(channels: _Publisher | None) -> None:
    """Make ``channels`` the ones :func:`publish` reaches (for krait's server side only).

    A process serves one site at a time, as ``krait.site_root`` and ``krait.config`` say:
    the subscriptions themselves belong to that site's hub, not to this module.
    """
    global _site_channels
    _site_channels = channels


def publish(channel: str, message: str | bytes) -> None:
    """Send ``message`` to every WebSocket connection subscribed to ``channel``.

    Call it from anywhere in the site: a route target or template, a controller (threaded
    or asynchronous), a thread started by ``init.py``. It never waits: the message is handed
    to the server's event loop and delivered from there, in the order each thread published.
    With ``krait.config.pubsub_url`` (or ``--pubsub-url``) the message goes through Redis and
    reaches subscribers in every worker and on every machine sharing it; without, it reaches
    the connections of this process only (with ``--workers N``, of this worker only).

    Args:
        channel: the channel's name, 1 to 256 characters, e.g. ``"chat:lobby"``.
        message: ``str`` is sent as a text message, ``bytes`` as a binary one.

    Raises:
        TypeError: the message is neither ``str`` nor bytes, or the name is not a ``str``.
        ValueError: the channel name is empty or too long.
        RuntimeError: no krait server runs in this process.
    """
    channels = _site_channels
    if channels is None:
        raise RuntimeError(
            "krait.websockets.publish() needs a running krait server: call it from the "
            "site's code (init.py, pages, controllers, threads they start)"
        )
    channels.publish(channel, message)


def mailbox_of(ctrl: WebsocketsCtrlBase) -> Mailbox:
    """The queues ``ctrl`` shares with the server (for krait's server side only)."""
    return ctrl._mailbox


class WebsocketsCtrlBase(ChannelMember):
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
        self._mailbox = Mailbox()

    def on_start(self) -> None:
        """Called when the connection opens; starts ``on_thread_start``.

        Under krait this runs on the server's event loop and has ``on_thread_start`` run in
        the WebSocket thread pool. As in the original, it is this method that starts the
        thread: an override that does not call ``super().on_start()`` gets no
        ``on_thread_start`` from krait (it may start a thread of its own). Called outside a
        krait server (a unit test of a controller, say), it starts ``on_thread_start`` in a
        new thread, as the original did.
        """
        if self._mailbox.request_thread():
            return
        self._mailbox.thread_started()
        threading.Thread(
            target=self._run_own_thread, name=f"{type(self).__name__}-thread", daemon=True
        ).start()

    def _run_own_thread(self) -> None:
        try:
            self.on_thread_start()
        finally:
            self._mailbox.thread_returned()

    def on_thread_start(self) -> None:
        """The controller thread's body: loop until :meth:`should_stop` is true."""

    def on_in_message(self, message: Any) -> None:
        """Handle a message from the client; by default, queue it for ``pop_in_message``.

        Args:
            message: ``str`` for a text frame, ``bytes`` for a binary frame.
        """
        if self.use_in_message_queue:
            self._mailbox.put_in(message)
        # Without the queue, a controller that does not override this ignores messages, as
        # the original did.

    def on_in_message_internal(self, message: Any) -> None:
        """Called by krait for every message: takes the lock, then calls ``on_in_message``."""
        mailbox = self._mailbox
        with mailbox.lock:
            self.on_in_message(message)
            mailbox.notify_readers()

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
        return self._mailbox.pop_in(timeout)

    def push_out_message(self, message: Any) -> None:
        """Send a message: ``str`` as a text frame, ``bytes`` as a binary frame.

        It leaves at once, without polling. While more than 1 MiB waits for a client that
        does not read, a push from a thread of the pool waits for it to read (never on the
        event loop, and never once the connection is closing).

        Args:
            message: the message to send.
        """
        if self._mailbox.push_out(message) and not threadable.isInIOThread():
            self._mailbox.wait_for_room()

    def pop_out_message(self) -> Any:
        """The oldest outgoing message, removed from the queue, or None if there is none."""
        return self._mailbox.pop_out()

    def on_stop(self) -> None:
        """Called by krait when the connection closes, however it closes; sets the stop flag."""
        self._mailbox.stop()

    def should_stop(self) -> bool:
        """True once the connection is closing: ``on_thread_start`` should return."""
        return self._mailbox.stopped

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait until the controller thread has returned.

        Args:
            timeout: seconds to wait at most, or None to wait as long as it takes.

        Returns:
            True when the thread has finished.
        """
        return self._mailbox.wait_thread_returned(timeout)


_SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})


class _Connection(Protocol):
    """What an asynchronous controller is attached to (krait's WebSocket protocol)."""

    @property
    def open_for_messages(self) -> bool: ...

    def send(self, message: Any) -> None: ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...

    def when_writable(self) -> Any: ...


class WebsocketsAsyncCtrlBase(ChannelMember):
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


def attach_connection(ctrl: WebsocketsAsyncCtrlBase, connection: _Connection) -> None:
    """Give an asynchronous controller its open connection (for krait's server side only)."""
    ctrl._connection = connection


class _WebsocketsModule(_context.RequestScopedModule):
    """Routes ``request`` and ``response`` to the active request's state."""

    request = _context.RequestScoped[Any]("ws_request")
    response = _context.RequestScoped[Any]("ws_response")


sys.modules[__name__].__class__ = _WebsocketsModule
