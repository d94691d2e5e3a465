"""Graceful shutdown: requests in flight are answered before the connections close.

On SIGTERM or SIGINT the reactor fires its "before shutdown" triggers and, once the Deferreds
they return have fired, drops every connection without flushing what it still had to send.
The :class:`Drainer` is one such trigger. The listening ports are already closing (the
services stop), so it closes idle keep-alive connections after a short grace
(:data:`IDLE_GRACE`), has busy ones close after their current response
(``Connection: close``), and fires once no request is left and every
connection has flushed its last bytes and closed, or when ``timeout`` runs out. A client
therefore never gets a closed connection for work the server did. WebSocket connections are
not its business: the WebSocket hub closes them with 1001 in the same phase.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.http import Request

from krait._twisted_compat import http_channel_of, is_abandoned

log = Logger(namespace="krait")

DEFAULT_SHUTDOWN_TIMEOUT = 30.0
"""Seconds requests in flight get to finish once shutdown began (gunicorn's default too)."""

CLOSE_GRACE = 2.0
"""Seconds connections get to flush their last response and close, after the last request."""

IDLE_GRACE = 1.0
"""Seconds an idle connection stays open once the drain began, for a request on its way.

A connection accepted an instant before the drain, or a keep-alive connection between two
requests, may carry a request the server has not read yet: closing it at once would fail
that request. A request that arrives in the grace is answered with ``Connection: close``.
With worker processes this is the common case, as a worker being replaced drains while the
others go on serving the same port, and clients keep their connections busy.
"""

_POLL_INTERVAL = 0.02


class Drainer:
    """Knows the requests in flight and the open HTTP connections of one site.

    Args:
        reactor: the reactor, for the timeout.
        timeout: seconds to wait for requests in flight when shutting down.
    """

    def __init__(self, reactor: Any, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        self._reactor = reactor
        self.timeout = timeout
        self.draining = False
        self.drained = False
        self._requests: set[Any] = set()
        self._connections: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._waiters: list[Deferred[None]] = []
        self._deadline: Any = None
        self._closing: LoopingCall | None = None
        self._closing_since: float | None = None
        self._drain_started = 0.0
        self.request_listeners: list[Callable[[], object]] = []
        """Called as each request starts (a worker process counts them: --max-requests)."""

    @property
    def in_flight(self) -> int:
        """How many requests are being handled now."""
        return len(self._requests)

    def connection_made(self, connection: Any) -> None:
        """Track an HTTP connection (its protocol), to close it when shutting down."""
        self._connections[connection] = self._reactor.seconds()

    def request_started(self, request: Request, reports_end: bool = False) -> None:
        """Track a request until it is answered or its client is gone.

        Args:
            request: the request.
            reports_end: the request calls :meth:`request_ended` itself once it is answered
                or its connection is lost (krait's own requests do: a ``notifyFinish``
                Deferred per request showed in profiles); otherwise the drainer waits on
                ``notifyFinish``.
        """
        self._requests.add(request)
        if not reports_end:
            request.notifyFinish().addBoth(self._request_ended, request)
        for listener in self.request_listeners:
            listener()

    def request_ended(self, request: Request) -> None:
        """Stop tracking a request that was answered, or whose connection was lost."""
        self._request_ended(None, request)

    def forget(self, request: Request) -> None:
        """Stop waiting for a request that will get no HTTP answer (a WebSocket upgrade)."""
        self._requests.discard(request)
        if self.draining and not self._requests:
            self._settle()

    def when_drained(self) -> Deferred[None]:
        """A Deferred that fires once the drain is over (at once if it is)."""
        waiter: Deferred[None] = Deferred()
        if self.drained:
            waiter.callback(None)
        else:
            self._waiters.append(waiter)
        return waiter

    def drain(self) -> Deferred[None]:
        """Begin the graceful shutdown (from a "before shutdown" trigger).

        Returns:
            A Deferred that fires once every request was answered and its connection
            closed, or once the timeout ran out.
        """
        done = self.when_drained()
        if self.draining:
            return done
        self.draining = True
        self._drain_started = self._reactor.seconds()
        if self._requests:
            log.info(
                "shutting down: waiting up to {timeout}s for {count} request(s) in flight",
                timeout=self.timeout,
                count=len(self._requests),
            )
            self._deadline = self._reactor.callLater(self.timeout, self._give_up)
        self._close_idle()
        self._settle()
        return done

    def _request_ended(self, _: object, request: Request) -> None:
        self._requests.discard(request)
        if self.draining and not self.drained:
            self._close_idle()
            if not self._requests:
                self._settle()

    def _prune(self) -> None:
        """Forget requests nobody waits for any more (an HTTP/2 stream reset without telling
        its request, say): they must not hold up the exit."""
        self._requests = {r for r in self._requests if not is_abandoned(r)}

    def _close_idle(self) -> None:
        quiet_since = self._reactor.seconds() - IDLE_GRACE
        for connection, made in list(self._connections.items()):
            transport = http_transport(connection)
            if transport is None:
                continue
            if connection_is_idle(connection):
                if max(made, self._drain_started) <= quiet_since:
                    transport.loseConnection()
            else:
                close_after_answer(connection)

    def _open_connections(self) -> list[Any]:
        return [c for c in list(self._connections) if socket_is_open(http_transport(c))]

    def _settle(self) -> None:
        """Watch until no request is left and the closing connections sent their last bytes."""
        if self._closing is not None or self.drained:
            return
        self._closing_since = None
        self._closing = LoopingCall(self._check)
        self._closing.clock = self._reactor
        self._closing.start(_POLL_INTERVAL, now=True)

    def _check(self) -> None:
        self._prune()
        if self._requests:
            return
        self._close_idle()
        now = self._reactor.seconds()
        if self._closing_since is None:
            self._closing_since = now
        if not self._open_connections():
            self._finish()
        elif now - self._closing_since > CLOSE_GRACE:
            log.info("shutting down: connections that did not close in time are dropped")
            self._finish()

    def _give_up(self) -> None:
        self._deadline = None
        log.warn(
            "shutdown timeout ({timeout}s, see --shutdown-timeout): {count} request(s) still "
            "running are cut off",
            timeout=self.timeout,
            count=len(self._requests),
        )
        self._finish()

    def _finish(self) -> None:
        if self.drained:
            return
        self.drained = True
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        if self._closing is not None and self._closing.running:
            self._closing.stop()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)


def http_transport(connection: Any) -> Any:
    """The connection's transport while it speaks HTTP; None once a WebSocket took it over."""
    return getattr(http_channel_of(connection), "transport", None)


def connection_is_idle(connection: Any) -> bool:
    """True when an HTTP connection has no request in progress (HTTP/1.x or HTTP/2)."""
    channel = http_channel_of(connection)
    requests = getattr(channel, "requests", None)
    if requests is not None:
        return not requests
    return not getattr(channel, "streams", None)


def close_after_answer(connection: Any) -> None:
    """Have an HTTP/1.x connection close once its current answer is sent, saying so in a
    ``Connection: close`` header where the answer has not started yet (RFC 9112 §9.6)."""
    channel = http_channel_of(connection)
    requests = getattr(channel, "requests", None)
    if requests is None:
        return  # HTTP/2: closed once its streams are done (_close_idle runs again then)
    channel.persistent = False
    for request in requests:
        if not request.startedWriting:
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])


def socket_is_open(transport: Any) -> bool:
    """Whether the socket under ``transport`` (through TLS, if any) is still connected."""
    while transport is not None and not hasattr(transport, "disconnected"):
        transport = getattr(transport, "transport", None)
    return transport is not None and not transport.disconnected
