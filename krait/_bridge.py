"""Where threads meet the reactor.

User code (scripts, templates, controllers, WebSocket controller threads) never runs on the
reactor thread. This module owns the thread pools and is the only place that calls
``deferToThreadPool`` and ``callFromThread``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")


class WorkerPool:
    """A named thread pool whose life follows the reactor's.

    Args:
        reactor: the reactor the results are delivered to.
        size: the number of threads.
        name: the pool's name, shown in thread names.
    """

    def __init__(self, reactor: Any, size: int, name: str) -> None:
        self._reactor = reactor
        self.size = size
        self.pool = ThreadPool(minthreads=0, maxthreads=size, name=name)
        self._started = False

    def start(self) -> None:
        """Start the threads (idempotent) and stop them when the reactor shuts down."""
        if self._started:
            return
        self._started = True
        self.pool.start()
        self._reactor.addSystemEventTrigger("during", "shutdown", self.stop)

    def stop(self) -> None:
        """Let queued work finish and join the threads."""
        if self._started:
            self._started = False
            self.pool.stop()

    @property
    def busy(self) -> int:
        """How many threads are working right now."""
        return len(self.pool.working)

    def run(self, func: Callable[..., T], *args: Any) -> Deferred[T]:
        """Run ``func(*args)`` in the pool, in a copy of the caller's context.

        Returns:
            A Deferred that fires on the reactor thread with the result.
        """
        self.start()
        context = contextvars.copy_context()
        return deferToThreadPool(self._reactor, self.pool, context.run, func, *args)


def call_in_reactor(reactor: Any, func: Callable[..., Any], *args: Any) -> None:
    """Schedule ``func(*args)`` on the reactor thread from any thread."""
    from_threads: IReactorFromThreads = reactor
    from_threads.callFromThread(func, *args)
