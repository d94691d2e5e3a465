"""Streams an iterable response body, pulling each chunk from user code in the worker pool.

A generator body is user code: its ``next()`` must not run on the reactor. The producer asks
the pool for one chunk at a time and only asks for the next once the transport wants more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from krait import _context
from krait._bridge import WorkerPool

log = Logger(namespace="krait")
_END = object()


def _next_chunk(chunks: Iterator[bytes], state: _context.RequestState) -> object:
    with _context.activate(state):
        return next(chunks, _END)


@implementer(IPushProducer)
class IteratorProducer:
    """Writes the chunks of an iterator body to a request with back-pressure.

    Args:
        request: the twisted.web request.
        result: the page result whose ``body`` is an iterator of bytes.
        pool: the worker pool the iterator is advanced in.
    """

    def __init__(self, request: Any, result: Any, pool: WorkerPool) -> None:
        self._request = request
        self._chunks: Iterator[bytes] = result.body
        self._state = result.state
        self._pool = pool
        self._paused = False
        self._fetching = False
        self._stopped = False

    def start(self) -> None:
        """Register with the request and fetch the first chunk."""
        self._request.registerProducer(self, True)
        self._request.notifyFinish().addErrback(lambda _f: self.stopProducing())
        self._fetch()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._fetch()

    def stopProducing(self) -> None:
        self._stopped = True
        close = getattr(self._chunks, "close", None)
        if close is not None:
            self._pool.run(close)

    def _fetch(self) -> None:
        if self._fetching or self._paused or self._stopped:
            return
        self._fetching = True
        deferred = self._pool.run(_next_chunk, self._chunks, self._state)
        deferred.addCallbacks(self._got_chunk, self._failed)

    def _got_chunk(self, chunk: object) -> None:
        self._fetching = False
        if self._stopped:
            return
        if chunk is _END:
            self._request.unregisterProducer()
            self._request.finish()
            return
        assert isinstance(chunk, bytes)
        if chunk:
            self._request.write(chunk)
        self._fetch()

    def _failed(self, failure: Failure) -> None:
        self._fetching = False
        log.failure("error in a streamed response body", failure=failure)
        if not self._stopped:
            self._stopped = True
            self._request.unregisterProducer()
            self._request.loseConnection()
