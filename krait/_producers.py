"""Streams file bodies to a request with back-pressure: memory stays at one chunk per client."""

from __future__ import annotations

from typing import IO

from twisted.internet.interfaces import IPushProducer
from twisted.web.server import Request
from zope.interface import implementer

from krait._ranges import ByteRange

CHUNK_SIZE = 256 * 1024
"""Bytes read and written per step when streaming a file."""


@implementer(IPushProducer)
class SegmentProducer:
    """Streams literal byte strings and file ranges to a request, honouring back-pressure.

    The transport pauses the producer when its buffer fills, so a slow client never makes the
    server read ahead: memory stays at about one chunk per connection.

    Args:
        request: the twisted.web request to write to.
        file: the open file; closed when done or when the client goes away.
        segments: what to send, in order.
    """

    def __init__(
        self, request: Request, file: IO[bytes], segments: list[bytes | ByteRange]
    ) -> None:
        self._request = request
        self._file = file
        self._segments = list(reversed(segments))
        self._remaining = 0
        self._paused = False
        self._done = False
        self._truncated = False

    def start(self) -> None:
        """Register with the request and begin writing."""
        self._request.registerProducer(self, True)
        self._request.notifyFinish().addErrback(lambda _failure: self.stopProducing())
        self.resumeProducing()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        while not self._paused and not self._done:
            chunk = self._next_chunk()
            if chunk is None:
                self._finish()
                return
            self._request.write(chunk)

    def stopProducing(self) -> None:
        self._done = True
        self._file.close()

    def _next_chunk(self) -> bytes | None:
        while self._remaining == 0:
            if not self._segments:
                return None
            segment = self._segments.pop()
            if isinstance(segment, bytes):
                return segment
            self._file.seek(segment.start)
            self._remaining = segment.length
        data = self._file.read(min(CHUNK_SIZE, self._remaining))
        if not data:
            # The file shrank while being sent: the promised length cannot be kept.
            self._truncated = True
            return None
        self._remaining -= len(data)
        return data

    def _finish(self) -> None:
        self._done = True
        self._file.close()
        self._request.unregisterProducer()
        if self._truncated:
            self._request.loseConnection()
        else:
            self._request.finish()
