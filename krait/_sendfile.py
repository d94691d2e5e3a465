"""Zero-copy file bodies: ``os.sendfile`` from the file straight into a plain TCP socket.

Copying a large file through Python (read into bytes, then send) costs a memory copy and a
system call pair per chunk; ``sendfile`` lets the kernel move the pages itself, as nginx does.
It only applies to HTTP/1.x over plain TCP: TLS and HTTP/2 need the bytes in user space.

The producer writes to the socket only while Twisted's own write buffer is empty (the response
head is sent first), and waits for writability the way the transport itself does: it marks the
transport's producer as paused and asks for a write event, so the transport resumes it when
the socket can take more.
"""

from __future__ import annotations

import errno
import os
from typing import IO, Any

from twisted.internet.interfaces import IPushProducer, ISSLTransport
from twisted.web.server import Request
from zope.interface import implementer

from krait._twisted_compat import SENDFILE_TRANSPORT_NAMES, transport_has_buffered_data

STEP = 16 * 1024 * 1024
"""Bytes sent per reactor turn at most, so one download never starves other connections."""


def sendfile_transport(request: Request) -> Any | None:
    """The plain TCP transport of an HTTP/1.x request if sendfile can write to it, else None."""
    if not hasattr(os, "sendfile"):
        return None
    channel = getattr(request, "channel", None)
    transport = getattr(channel, "transport", None)
    if transport is None or ISSLTransport.providedBy(transport):
        return None
    if not all(hasattr(transport, name) for name in SENDFILE_TRANSPORT_NAMES):
        return None
    if getattr(transport, "TLS", False):
        return None
    return transport


@implementer(IPushProducer)
class SendfileProducer:
    """Sends ``length`` bytes of ``file`` from ``offset`` to the request's socket.

    Args:
        request: the twisted.web request (its head not yet written).
        transport: the request's plain TCP transport (see :func:`sendfile_transport`).
        file: the open file; closed when done.
        offset: the first byte to send.
        length: how many bytes to send.
    """

    def __init__(
        self, request: Request, transport: Any, file: IO[bytes], offset: int, length: int
    ) -> None:
        self._request = request
        self._transport = transport
        self._file = file
        self._offset = offset
        self._remaining = length
        self._paused = False
        self._done = False

    def start(self) -> None:
        """Write the response head, then send the body as the socket takes it."""
        self._request.registerProducer(self, True)
        self._request.notifyFinish().addErrback(lambda _failure: self.stopProducing())
        self._request.write(b"")
        self._pump()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._pump()

    def stopProducing(self) -> None:
        if not self._done:
            self._done = True
            self._file.close()

    def _pump(self) -> None:
        if self._done or self._paused:
            return
        transport = self._transport
        if transport_has_buffered_data(transport):
            self._wait_for_drain()
            return
        sent_this_turn = 0
        while self._remaining > 0 and sent_this_turn < STEP:
            try:
                sent = os.sendfile(
                    transport.socket.fileno(),
                    self._file.fileno(),
                    self._offset,
                    min(self._remaining, STEP - sent_this_turn),
                )
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EINTR):
                    break
                self._abort()
                return
            if sent == 0:
                # The file ended early (it shrank): the promised length cannot be kept, so the
                # connection ends after what was sent.
                self._abort(graceful=True)
                return
            self._offset += sent
            self._remaining -= sent
            sent_this_turn += sent
            self._request.sentLength += sent
        if self._remaining > 0:
            self._wait_for_drain()
        else:
            self._finish()

    def _wait_for_drain(self) -> None:
        """Be resumed by the transport once the socket can take more data."""
        self._transport.producerPaused = True
        self._transport.startWriting()

    def _finish(self) -> None:
        self._done = True
        self._file.close()
        self._request.unregisterProducer()
        self._request.finish()

    def _abort(self, graceful: bool = False) -> None:
        self._done = True
        self._file.close()
        self._request.unregisterProducer()
        if graceful:
            self._transport.loseConnection()
        else:
            self._transport.abortConnection()
