"""krait's HTTP/1.1 channel: a request head read whole, framed safely, refused with a reason.

The site (``krait._http``) builds one per connection; it becomes an HTTP/2 connection when
ALPN negotiates it (``krait._h2``), or hands its transport to a WebSocket protocol
(``krait._ws.upgrade``). Its clients are timed by :class:`krait._timed_channel.TimedChannel`.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.iweb import INonQueuedRequestFactory

from krait._answers import refusal, refusal_bytes
from krait._deadlines import ClientLimits
from krait._forwarded import ClientOrigin
from krait._framing import BadFraming, UnsupportedTransferCoding, body_length
from krait._open_files import ConnectionSlot
from krait._request_head import RequestHead, read_head
from krait._timed_channel import TimedChannel
from krait._twisted_compat import (
    canonical_header_name,
    channel_version,
    has_request_line,
    header_table,
    reads_heads_whole,
    received_header_size,
)

__all__ = ["KraitChannel"]

log = Logger(namespace="krait")

# As twisted.web spells them once it has canonicalised the name.
_CONTENT_LENGTH = b"Content-Length"
_TRANSFER_ENCODING = b"Transfer-Encoding"

_line_channel: Any = TimedChannel
"""The base class, called by name in hooks that run per line or per request (cheaper than
``cast(Any, super())``)."""
_line_received = _line_channel.lineReceived
_read_lines: Any = LineReceiver.dataReceived

_CANONICAL_NAMES: dict[bytes, bytes] = {}
"""Header names as sent, by the name ``Headers`` files them under (a few hundred at most: a
client may send any number of names)."""

_NON_QUEUED: dict[Any, bool] = {}
"""Whether a request factory takes no queue position (``INonQueuedRequestFactory``), asked
once per factory instead of per request."""


class KraitChannel(TimedChannel):
    """An HTTP/1.1 channel that answers malformed, oversized and slow request heads properly.

    twisted.web answers them with a bare ``400`` (no body) or by closing the connection
    silently; krait sends ``400``, ``414 URI Too Long`` or ``431 Request Header Fields Too
    Large`` with a reason, then closes. The body's framing is decided by
    :func:`krait._framing.body_length` once the whole head is in, and refused with ``400`` or
    ``501 Not Implemented`` where a proxy in front might read it differently. A request sent
    too slowly gets ``408 Request Timeout`` (:class:`krait._timed_channel.TimedChannel`).

    A head that arrives whole and plainly well formed is read in one pass
    (:func:`krait._request_head.read_head`) instead of a line at a time; anything else is left
    to twisted.web's line reader, so every refusal is answered as before.

    Args:
        limits: how slowly a client may send a request; None: no limit.
        clock: the reactor's clock, for those limits.
        slot: the connection's place among the site's ``--max-connections``, released when
            it closes, or handed to the protocol that takes the connection over.
    """

    MAX_LENGTH = 8192
    totalHeadersSize = 16384
    _whole_heads = reads_heads_whole(http.HTTPChannel())

    def __init__(
        self,
        limits: ClientLimits | None = None,
        clock: IReactorTime | None = None,
        slot: ConnectionSlot | None = None,
    ) -> None:
        super().__init__(limits, clock)
        self._slot = slot
        self._peer_origin: ClientOrigin | None = None

    def peer_origin(self) -> ClientOrigin:
        """The peer's address, port and scheme (the same for every request on the connection,
        so worked out once)."""
        if self._peer_origin is None:
            channel: Any = self
            address = channel.getPeer()
            self._peer_origin = ClientOrigin(
                getattr(address, "host", None) or "-",
                getattr(address, "port", None),
                "https" if channel.isSecure() else "http",
            )
        return self._peer_origin

    _peer: Any = None
    _host: Any = None

    def getPeer(self) -> Any:
        """The peer's address, asked of the transport once per connection (twisted.web asks
        for it, and the host's, with each request; a TCP transport builds a new one each time).
        """
        if self._peer is None:
            self._peer = cast(Any, self).transport.getPeer()
        return self._peer

    def getHost(self) -> Any:
        """The local address, asked of the transport once per connection."""
        if self._host is None:
            self._host = cast(Any, self).transport.getHost()
        return self._host

    def hand_over(self) -> ConnectionSlot | None:
        """Give the connection up to another protocol (HTTP/2, a WebSocket): stop timing its
        requests, and return its connection slot for the new protocol to release."""
        self.stop_timing()
        slot, self._slot = self._slot, None
        return slot

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        if self._slot is not None:
            self._slot.release()

    def answer_too_slow(self, reason: str) -> None:
        log.info("closed a slow connection with 408: {reason}", reason=reason)
        self._close_with(refusal_bytes(408, reason))

    def read_requests(self, data: bytes) -> None:
        # A head that comes whole is read in one pass (krait._request_head); anything else,
        # and whatever follows a head the line reader must see, goes to twisted.web's reader.
        # twisted private: the line reader state of _twisted_compat.HEAD_READER_STATE.
        channel: Any = self
        channel.resetTimeout()  # as HTTPChannel.dataReceived does
        while True:
            transport = channel.transport
            head = None
            if (
                channel.line_mode
                and channel._HTTPChannel__first_line == 1
                and channel.persistent
                and not channel._busyReceiving
                and not channel._handlingRequest
                and not channel.paused
                and (transport is None or not transport.disconnecting)
                and self._whole_heads
            ):
                if channel._buffer:  # the start of the head, come earlier
                    data = channel._buffer + data
                    channel._buffer = b""
                head = read_head(data, self.MAX_LENGTH, self.totalHeadersSize, channel.maxHeaders)
            if head is None:
                _read_lines(self, data)
                return
            channel._buffer = data[head.end :]
            channel._busyReceiving = True
            try:
                self._take_head(head)
            finally:
                channel._busyReceiving = False
            # What LineReceiver does after each line: stop if the connection is closing.
            transport = channel.transport
            if transport is not None and transport.disconnecting:
                return
            data = channel._buffer
            if not data:
                return
            channel._buffer = b""

    def _take_head(self, head: RequestHead) -> None:
        """Go on from a head read whole as ``HTTPChannel.lineReceived`` goes on from the
        head's lines: a new request, its request line and headers, then the body's framing
        and the request itself."""
        channel: Any = self
        factory = channel.requestFactory
        non_queued = _NON_QUEUED.get(factory)
        if non_queued is None:
            non_queued = _NON_QUEUED[factory] = INonQueuedRequestFactory.providedBy(factory)
        request = factory(self) if non_queued else factory(self, len(self.requests))
        self.requests.append(request)
        channel._HTTPChannel__first_line = 0
        channel._command = head.method
        channel._path = head.target
        channel._version = head.version
        table = header_table(request.requestHeaders)
        names = _CANONICAL_NAMES
        for name, value in head.fields:
            key = names.get(name)
            if key is None:
                key = canonical_header_name(name)
                if len(names) < 512:
                    names[name] = key
            values = table.get(key)
            if values is None:
                table[key] = [value]
            else:
                values.append(value)
        channel._receivedHeaderSize = head.size
        channel._receivedHeaderCount = len(head.fields)
        # allHeadersReceived, the framing values taken from the table just filled.
        self._frame_body(head.version, table.get(_TRANSFER_ENCODING), table.get(_CONTENT_LENGTH))
        if self.length == 0:
            self.allContentReceived()
        else:
            channel.setRawMode()

    def lineReceived(self, line: bytes) -> None:
        if received_header_size(self) + len(line) > self.totalHeadersSize:
            self.refuse(431, self.totalHeadersSize)
            return
        # Called by class, not through super(): this runs for every line of every head.
        _line_received(self, line)

    def _maybeChooseTransferDecoder(
        self, header: bytes, data: bytes
    ) -> bool:  # TRANSFER_DECODER_HOOK
        # twisted.web frames the body line by line, so it cannot see a Transfer-Encoding split
        # over two lines, and it ignores "identity" (smuggling the body in as the next request).
        # krait frames it in allHeadersReceived, once every framing line is in.
        if header in (_CONTENT_LENGTH, _TRANSFER_ENCODING):
            return True
        return bool(_line_channel._maybeChooseTransferDecoder(self, header, data))

    def allHeadersReceived(self) -> None:
        headers = self.requests[-1].requestHeaders
        self._frame_body(
            channel_version(self),
            headers.getRawHeaders(b"transfer-encoding"),
            headers.getRawHeaders(b"content-length"),
        )

    def _frame_body(
        self,
        version: bytes,
        transfer_encoding: list[bytes] | None,
        content_length: list[bytes] | None,
    ) -> None:
        """Frame the body of the request whose head is in, or refuse it; then go on as
        ``HTTPChannel.allHeadersReceived`` does.

        Args:
            version: the request's HTTP version.
            transfer_encoding: its ``Transfer-Encoding`` values, or None.
            content_length: its ``Content-Length`` values, or None.
        """
        if version != b"HTTP/1.1" and transfer_encoding is not None:
            # RFC 9112 §6.1: HTTP/1.0 has no Transfer-Encoding; its framing is faulty.
            self.refuse(400, reason="Transfer-Encoding in a request older than HTTP/1.1")
            return
        try:
            length = body_length(transfer_encoding, content_length)
        except BadFraming as problem:
            self.refuse(400, reason=str(problem))
            return
        except UnsupportedTransferCoding as problem:
            self.refuse(501, reason=str(problem))
            return
        # twisted.web's own decoders read the body, given one normalised framing line.
        if length is None:
            _line_channel._maybeChooseTransferDecoder(self, _TRANSFER_ENCODING, b"chunked")
        elif length:
            _line_channel._maybeChooseTransferDecoder(self, _CONTENT_LENGTH, b"%d" % length)
        _line_channel.allHeadersReceived(self)

    def checkPersistence(self, request: http.Request, version: bytes) -> bool:
        channel: Any = self
        drainer = getattr(channel.site, "drainer", None)
        if drainer is not None and drainer.draining:
            # Shutting down: answer this request, then close (RFC 9112 §9.6).
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return bool(_line_channel.checkPersistence(self, request, version))

    def lineLengthExceeded(self, line: bytes) -> None:
        if not has_request_line(self) and not self.requests:
            self.refuse(414, self.MAX_LENGTH)
        else:
            self.refuse(431, self.MAX_LENGTH)

    def _respondToBadRequestAndDisconnect(self) -> None:  # _twisted_compat.BAD_REQUEST_HOOK
        self.refuse(400)

    def refuse(self, code: int, limit: int = 0, reason: str = "") -> None:
        """Answer the request being read with ``code`` (its reason naming ``limit``), close.

        Args:
            code: 400, 408, 413, 414, 431 or 501.
            limit: the limit the request broke, for the reason text.
            reason: what exactly was wrong, for the log.
        """
        log.info(
            "refused a request head with {code}{colon}{reason}",
            code=code,
            colon=": " if reason else "",
            reason=reason,
        )
        self._close_with(refusal(code, limit))

    def _close_with(self, answer: bytes) -> None:
        """Send ``answer``, close, and read nothing more."""
        transport: Any = self.transport
        transport.write(answer)
        self.close_within_grace()
        # A known length of 0 would have lineReceived go on to process the refused request.
        self.length = None
        self.dataReceived = self.lineReceived = lambda *args: None  # type: ignore[method-assign,assignment]
