"""The WebSocket side of one site: settings, pools, thread slots, wakers, connections, channels.

:func:`krait._app.build_site` makes one :class:`WebsocketsHub` per site and hands it to the
resource tree, which passes it to every upgrade. The hub promises pool threads to
connections (so an upgrade that would have to wait for a thread is refused with 503 instead
of hanging), holds the Autobahn factory with every connection's options, knows every
connection still running, owns the site's channels (:class:`krait._ws.pubsub.Channels`),
and on reactor shutdown closes them with 1001 and waits, for a
bounded time, until their controllers are done.

The hub knows connections only as :class:`TrackedConnection`, so it imports nothing of the
protocol module (which imports the hub).
"""

from __future__ import annotations

from typing import Any, Protocol

from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.logger import Logger

from krait._workers import WorkerPool
from krait._ws.deflate import DeflateAcceptor
from krait._ws.handshake import WEBSOCKET_VERSION, WebsocketsSettings
from krait._ws.pubsub import Channels
from krait._ws.wakers import InboxNotifier, ReactorWaker

log = Logger(namespace="krait.websockets")

# Autobahn's constructor carries no annotations.
_Factory: Any = WebSocketServerFactory


class TrackedConnection(Protocol):
    """What the hub needs of a connection to close it at shutdown."""

    def when_finished(self) -> Deferred[None]: ...

    def shut_down(self) -> None: ...

    def abort(self) -> None: ...

    def describe(self) -> str: ...

    def shutdown_hint(self) -> str: ...


def make_factory(reactor: Any, settings: WebsocketsSettings) -> Any:
    """The Autobahn factory holding the protocol options of every krait connection.

    Args:
        reactor: the reactor Autobahn's timers run on.
        settings: the limits and timeouts.
    """
    # server=None: no Server header on the 101, as krait sends none on other responses.
    factory: Any = _Factory(reactor=reactor, server=None)
    factory.setProtocolOptions(
        versions=[int(WEBSOCKET_VERSION)],
        webStatus=False,
        maxMessagePayloadSize=settings.max_message_size,
        maxFramePayloadSize=settings.max_message_size,
        # Close with a status code (1002, 1007, 1009) rather than a bare TCP drop, so that
        # clients learn why.
        failByDrop=False,
        autoPingInterval=settings.ping_interval,
        autoPingTimeout=settings.ping_timeout,
        openHandshakeTimeout=settings.open_handshake_timeout,
        closeHandshakeTimeout=settings.close_handshake_timeout,
    )
    if settings.deflate:
        factory.setProtocolOptions(
            perMessageCompressionAccept=DeflateAcceptor(settings.max_message_size)
        )
    return factory


class ThreadSlots:
    """Counts the pool threads promised to connections; used on the reactor thread only.

    Args:
        size: the number of threads in the pool.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0

    def reserve(self, count: int) -> bool:
        """Promise ``count`` threads if that many are free.

        Returns:
            False, and promises nothing, when fewer than ``count`` threads are free.
        """
        if self.used + count > self.size:
            return False
        self.used += count
        return True

    def release(self, count: int) -> None:
        """Give back ``count`` promised threads."""
        self.used = max(0, self.used - count)


class WebsocketsHub:
    """The running WebSocket connections of one site and what they share.

    Args:
        reactor: the reactor; once a connection opens, the hub closes connections before
            it shuts down.
        settings: limits and timeouts.
        thread_pool: runs controller threads, one per connection that has one.
        message_pool: runs ``on_in_message`` overrides, a short job per batch of messages
            (no thread is held per connection).
    """

    def __init__(
        self,
        reactor: Any,
        settings: WebsocketsSettings,
        thread_pool: WorkerPool,
        message_pool: WorkerPool,
    ) -> None:
        self.reactor = reactor
        self.settings = settings
        self.thread_pool = thread_pool
        self.message_pool = message_pool
        self.factory = make_factory(reactor, settings)
        self.slots = ThreadSlots(thread_pool.size)
        self.waker = ReactorWaker(reactor)
        self.notifier = InboxNotifier(reactor)
        self.channels = Channels(reactor, self.waker)
        self.connections: set[TrackedConnection] = set()
        self.stopping = False
        self._shutdown_armed = False

    @property
    def pools(self) -> tuple[WorkerPool, WorkerPool]:
        """The hub's thread pools, for whoever stops the site."""
        return (self.thread_pool, self.message_pool)

    def add(self, connection: TrackedConnection) -> None:
        """Track a connection until it calls :meth:`discard`."""
        if not self._shutdown_armed:
            # Armed on the first connection, not at construction: a site built and never
            # upgraded (most tests build many) leaves no trigger on the reactor.
            self._shutdown_armed = True
            self.reactor.addSystemEventTrigger("before", "shutdown", self.shut_down)
        self.connections.add(connection)

    def discard(self, connection: TrackedConnection) -> None:
        """Forget a connection whose controller is done."""
        self.connections.discard(connection)

    def shut_down(self) -> Deferred[None]:
        """Close every connection with 1001 and wait until their controllers are done.

        Returns:
            A Deferred that fires when all are done, or after ``settings.shutdown_grace``
            seconds, whichever comes first; connections left then are dropped.
        """
        self.stopping = True
        running = list(self.connections)
        if not running:
            return succeed(None)
        log.info("closing {count} WebSocket connection(s) for shutdown", count=len(running))
        waiters = [connection.when_finished() for connection in running]
        for connection in running:
            connection.shut_down()
        done: Deferred[None] = Deferred()
        give_up = self.reactor.callLater(self.settings.shutdown_grace, self._grace_expired, done)
        gathered: Deferred[Any] = DeferredList(waiters, consumeErrors=True)
        gathered.addCallback(_fire, done, give_up)
        return done

    def _grace_expired(self, done: Deferred[None]) -> None:
        for connection in list(self.connections):
            log.warn(
                "{what} was still running {grace}s after shutdown began; dropping it{hint}",
                what=connection.describe(),
                grace=self.settings.shutdown_grace,
                hint=connection.shutdown_hint(),
            )
            connection.abort()
        if not done.called:
            done.callback(None)


def _fire(_: object, done: Deferred[None], give_up: Any) -> None:
    """Every connection finished in time: stop the grace timer and let shutdown go on."""
    if give_up.active():
        give_up.cancel()
    if not done.called:
        done.callback(None)
