"""The connections of one site: thread slots, the Autobahn factory, and closing them at shutdown.

One :class:`WebsocketsHub` exists per WebSocket thread pool. It promises pool threads to
connections (so an upgrade that would have to wait for a thread is refused with 503 instead of
hanging), knows every connection still running, and on reactor shutdown closes them with 1001
and waits, for a bounded time, until their controllers are done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.logger import Logger

from krait._ws_handshake import WebsocketsSettings
from krait._ws_protocol import make_factory

if TYPE_CHECKING:
    from krait._ws_protocol import KraitWebSocketProtocol

log = Logger(namespace="krait.websockets")


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
    """Tracks the running WebSocket connections of one pool.

    Args:
        reactor: the reactor; the hub adds a "before shutdown" trigger to it.
        pool_size: the number of threads in the WebSocket pool.
        settings: limits and timeouts.
    """

    def __init__(self, reactor: Any, pool_size: int, settings: WebsocketsSettings) -> None:
        self.reactor = reactor
        self.settings = settings
        self.factory = make_factory(reactor, settings)
        self.slots = ThreadSlots(pool_size)
        self.connections: set[KraitWebSocketProtocol] = set()
        self.stopping = False
        reactor.addSystemEventTrigger("before", "shutdown", self.shut_down)

    def add(self, protocol: KraitWebSocketProtocol) -> None:
        """Track a connection until it calls :meth:`discard`."""
        self.connections.add(protocol)

    def discard(self, protocol: KraitWebSocketProtocol) -> None:
        """Forget a connection whose controller is done."""
        self.connections.discard(protocol)

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
        waiters = [protocol.when_finished() for protocol in running]
        for protocol in running:
            protocol.shut_down()
        done: Deferred[None] = Deferred()
        give_up = self.reactor.callLater(self.settings.shutdown_grace, self._grace_expired, done)
        gathered: Deferred[Any] = DeferredList(waiters, consumeErrors=True)
        gathered.addCallback(_fire, done, give_up)
        return done

    def _grace_expired(self, done: Deferred[None]) -> None:
        for protocol in list(self.connections):
            log.warn(
                "{what} was still running {grace}s after shutdown began; dropping it{hint}",
                what=protocol.describe(),
                grace=self.settings.shutdown_grace,
                hint=protocol.shutdown_hint(),
            )
            protocol.abort()
        if not done.called:
            done.callback(None)


def _fire(_: object, done: Deferred[None], give_up: Any) -> None:
    """Every connection finished in time: stop the grace timer and let shutdown go on."""
    if give_up.active():
        give_up.cancel()
    if not done.called:
        done.callback(None)
