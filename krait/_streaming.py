"""Streams an iterable response body, pulling each chunk from user code in the worker pool.

A generator body is user code: its ``next()`` must not run on the reactor. The producer asks
the pool for one chunk at a time and only asks for the next once the transport wants more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.server import Request
from zope.interface import implementer

from krait import _context
from krait._twisted_compat import reset_h2_stream
from krait._workers import WorkerPool

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
        error_page: logs what the iterator raised and sets ``request`` up for a 500,
            returning its body.
    """

    def __init__(
        self,
        request: Request,
        result: Any,
        pool: WorkerPool,
        error_page: Callable[[Any, Failure], bytes],
    ) -> None:
        self._request = request
        self._error_page = error_page
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
        request = self._request
        if self._stopped:  # the client left: nobody to tell, but the log still hears of it
            self._error_page(request, failure)
            return
        self._stopped = True
        request.unregisterProducer()
        if not request.startedWriting:
            # Nothing was sent yet: the client gets a proper 500 instead of an empty reply.
            request.responseHeaders = Headers()
            body = self._error_page(request, failure)
            request.write(body)
            request.finish()
            return
        self._error_page(request, failure)
        abort(request)


def abort(request: Request) -> None:
    """End a response that cannot be completed so that the client knows it was cut short.

    Over HTTP/2 the stream is reset; over HTTP/1.x the connection is reset, which an HTTP/1.0
    client (whose body ends with the connection) would otherwise take for a complete body.
    """
    channel = request.channel
    if hasattr(channel, "streamID"):  # an HTTP/2 stream
        reset_h2_stream(channel, _H2_INTERNAL_ERROR)
        # twisted.web tells a request its stream is gone only when the client resets it:
        # say so here, so that whoever waits for the request (a graceful shutdown) stops.
        request.connectionLost(Failure(ConnectionDone("the stream was reset")))
        return
    reset = getattr(channel.transport, "abortConnection", None)
    if reset is not None:
        reset()
    else:
        request.loseConnection()


_H2_INTERNAL_ERROR = 0x2
"""RFC 9113 §7: the stream was cut short by a server error."""
