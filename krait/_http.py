"""The twisted.web Site and Request krait serves with: framing, body limits and the access log.

Routing lives in ``_dispatch`` and page writing in ``_page_writer``; this module only deals
with what happens at the connection level, before a resource is involved (malformed or
oversized heads and bodies, refused in plain text by ``_answers``) and after (logging).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Sequence
from typing import IO, Any, cast

from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, server
from twisted.web.resource import Resource

from krait._access_log import AccessRecord, record_lines
from krait._answers import refusal_bytes, send_refusal
from krait._drain import Drainer
from krait._framing import BadFraming, UnsupportedTransferCoding, body_length
from krait._h2 import ProtocolSwitch
from krait._log_writer import LogWriter
from krait._twisted_compat import (
    channel_version,
    has_request_line,
    log_date_time,
    received_header_size,
)

log = Logger(namespace="krait")

DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024
"""Request bodies larger than this get 413 unless ``--max-body-size`` says otherwise."""


# RFC 9110 §7.2 / RFC 3986 §3.2.2: uri-host [ ":" port ], empty allowed.
_VALID_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?")


def host_problem(values: Sequence[bytes] | None, version: bytes) -> str | None:
    """Why a request's Host header fields are unacceptable (RFC 9112 §3.2), or None."""
    if not values:
        return "an HTTP/1.1 request needs a Host header" if version == b"HTTP/1.1" else None
    # HTTP/2 may carry both :authority and Host (RFC 9113 §8.3.1); twisted.web turns the
    # first into a Host too, so the same value twice is fine there.
    if len(values) > 1 and (version != b"HTTP/2" or len(set(values)) > 1):
        return "more than one Host header"
    if not _VALID_HOST.fullmatch(values[0]):
        return "the Host header is not a host[:port]"
    return None


def close_after(request: server.Request) -> None:
    """Close an HTTP/1.x connection once this response is sent (an HTTP/2 stream just ends).

    The header alone does not make twisted.web close: the channel's flag does.
    """
    channel = request.channel
    if hasattr(channel, "persistent"):
        channel.persistent = False
        request.setHeader(b"connection", b"close")


class KraitRequest(server.Request):
    """A request that refuses bodies over the site's limit as soon as it knows their size."""

    _too_large = False
    _received = 0
    channel: Any

    _length_unknown = False

    def gotLength(self, length: int | None) -> None:
        self._length_unknown = length is None
        limit = self.channel.site.max_body_size if self.channel.site else DEFAULT_MAX_BODY_SIZE
        if length is not None and length > limit:
            self._refuse_body(length, limit)
            return
        cast(Any, super()).gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._too_large:
            return
        self._received += len(data)
        limit = self.channel.site.max_body_size
        if self._received > limit:
            self._refuse_body(self._received, limit)
            return
        cast(Any, super()).handleContentChunk(data)

    def _refuse_body(self, size: int, limit: int) -> None:
        """Answer 413 at once, without reading the rest of the body, and close."""
        self._too_large = True
        # Whatever still arrives is dropped, but twisted reads the (empty) content at the end.
        self.content = io.BytesIO()
        log.info(
            "refused a request body of {size} bytes (limit {limit}, see --max-body-size)",
            size=size,
            limit=limit,
        )
        # The channel answers "Expect: 100-continue" right after gotLength(): it must not invite
        # the client to send the body that was just refused.
        self.requestHeaders.removeHeader(b"expect")
        transport: Any = self.channel.transport
        if transport is None:
            # An HTTP/2 stream. twisted.web drops a stream once its response is sent and then
            # fails on the client's further DATA frames, so a 413 cannot go out before the
            # body ends: process() answers once it has (the rest is read and dropped). A body
            # of unknown length might never end: that stream is reset instead.
            if size > limit and self._length_unknown:
                cast(Any, self.channel).abortConnection()
            return
        transport.write(refusal(413, limit))
        transport.loseConnection()

    def process(self) -> None:
        if self._too_large:
            if self.channel.transport is None:
                self._answer_too_large_stream()
            return
        problem = host_problem(self.requestHeaders.getRawHeaders(b"host"), self.clientproto)
        if problem is not None:
            # RFC 9112 §3.2: a server MUST answer 400 to a missing, repeated or invalid Host.
            log.info("400: {problem}", problem=problem)
            refuse = getattr(self.channel, "_refuse", None)
            if refuse is not None:
                refuse(400)
            else:  # an HTTP/2 stream: answer on the stream
                send_refusal(self, 400, problem)
            return
        drainer = getattr(self.channel.site, "drainer", None)
        if drainer is not None:
            drainer.request_started(self)
        cast(Any, super()).process()

    def _handleStar(self) -> None:  # _twisted_compat.OPTIONS_STAR_HOOK
        # twisted.web answers "OPTIONS *" itself, without Allow; krait's root answers it.
        try:
            site: Any = self.site
            cast(Any, self).render(site.getResourceFor(self))
        except BaseException:
            cast(Any, self).processingFailed(Failure())

    def _answer_too_large_stream(self) -> None:
        send_refusal(self, 413, refusal_reason(413, self.channel.site.max_body_size))

    def setHeader(self, name: bytes | str, value: bytes | str) -> None:
        # twisted.web announces its version in a Server header; the original Krait sent none,
        # and a version banner only helps attackers.
        if name in (b"Server", "Server"):
            return
        cast(Any, super()).setHeader(name, value)


_REFUSAL_REASONS = {
    400: "the request is malformed",
    413: "the request body is over %d bytes",
    414: "the request line is over %d bytes",
    431: "the request head is over %d bytes",
    501: "krait decodes no transfer coding but chunked",
}


def refusal_reason(code: int, limit: int = 0) -> str:
    """Why a request was refused at the connection level, naming the limit it broke."""
    reason = _REFUSAL_REASONS[code]
    return reason % limit if "%d" in reason else reason


def refusal(code: int, limit: int = 0) -> bytes:
    """A complete HTTP/1.1 answer for a request refused at the connection level, with a reason."""
    return refusal_bytes(code, refusal_reason(code, limit))


# As twisted.web spells them once it has canonicalised the name.
_CONTENT_LENGTH = b"Content-Length"
_TRANSFER_ENCODING = b"Transfer-Encoding"


class KraitChannel(http.HTTPChannel):
    """An HTTP/1.1 channel that answers malformed and oversized request heads properly.

    twisted.web answers them with a bare ``400`` (no body) or by closing the connection
    silently; krait sends ``400``, ``414 URI Too Long`` or ``431 Request Header Fields Too
    Large`` with a reason, then closes. The body's framing is decided by
    :func:`krait._framing.body_length` once the whole head is in, and refused with ``400`` or
    ``501 Not Implemented`` where a proxy in front might read it differently.
    """

    MAX_LENGTH = 8192
    totalHeadersSize = 16384

    def __init__(self) -> None:
        cast(Any, super()).__init__()

    def lineReceived(self, line: bytes) -> None:
        if received_header_size(self) + len(line) > self.totalHeadersSize:
            self._refuse(431, self.totalHeadersSize)
            return
        cast(Any, super()).lineReceived(line)

    def _maybeChooseTransferDecoder(
        self, header: bytes, data: bytes
    ) -> bool:  # TRANSFER_DECODER_HOOK
        # twisted.web frames the body line by line, so it cannot see a Transfer-Encoding split
        # over two lines, and it ignores "identity" (smuggling the body in as the next request).
        # krait frames it in allHeadersReceived, once every framing line is in.
        if header in (_CONTENT_LENGTH, _TRANSFER_ENCODING):
            return True
        return bool(cast(Any, super())._maybeChooseTransferDecoder(header, data))

    def allHeadersReceived(self) -> None:
        headers = self.requests[-1].requestHeaders
        transfer_encoding = headers.getRawHeaders(b"transfer-encoding")
        if channel_version(self) != b"HTTP/1.1" and transfer_encoding is not None:
            # RFC 9112 §6.1: HTTP/1.0 has no Transfer-Encoding; its framing is faulty.
            self._refuse(400, reason="Transfer-Encoding in a request older than HTTP/1.1")
            return
        try:
            length = body_length(transfer_encoding, headers.getRawHeaders(b"content-length"))
        except BadFraming as problem:
            self._refuse(400, reason=str(problem))
            return
        except UnsupportedTransferCoding as problem:
            self._refuse(501, reason=str(problem))
            return
        # twisted.web's own decoders read the body, given one normalised framing line.
        choose = cast(Any, super())._maybeChooseTransferDecoder
        if length is None:
            choose(_TRANSFER_ENCODING, b"chunked")
        elif length:
            choose(_CONTENT_LENGTH, b"%d" % length)
        cast(Any, super()).allHeadersReceived()

    def checkPersistence(self, request: http.Request, version: bytes) -> bool:
        drainer = getattr(cast(Any, self).site, "drainer", None)
        if drainer is not None and drainer.draining:
            # Shutting down: answer this request, then close (RFC 9112 §9.6).
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return bool(cast(Any, super()).checkPersistence(request, version))

    def lineLengthExceeded(self, line: bytes) -> None:
        if not has_request_line(self) and not self.requests:
            self._refuse(414, self.MAX_LENGTH)
        else:
            self._refuse(431, self.MAX_LENGTH)

    def _respondToBadRequestAndDisconnect(self) -> None:  # _twisted_compat.BAD_REQUEST_HOOK
        self._refuse(400)

    def _refuse(self, code: int, limit: int = 0, reason: str = "") -> None:
        log.info(
            "refused a request head with {code}{colon}{reason}",
            code=code,
            colon=": " if reason else "",
            reason=reason,
        )
        transport: Any = self.transport
        transport.write(refusal(code, limit))
        cast(Any, self).loseConnection()
        # A known length of 0 would have lineReceived go on to process the refused request.
        self.length = None
        self.dataReceived = self.lineReceived = lambda *args: None  # type: ignore[method-assign]


def _channel_protocol(factory: Any) -> Any:
    """The site's protocol: krait's HTTP/1.1 channel, switching to HTTP/2 when negotiated."""
    protocol = ProtocolSwitch(KraitChannel())
    drainer = getattr(factory, "drainer", None)
    if drainer is not None:
        drainer.connection_made(protocol)
    return protocol


class KraitSite(server.Site):
    """A Site with krait's request class, body limit and a buffered access log.

    Args:
        resource: the root resource.
        access_log: where the combined-format access log goes: ``"-"`` for stdout, a path,
            or None for no access log.
        max_body_size: the largest request body accepted, in bytes.
        reactor: the reactor (for the log's flush timer).
        drainer: tracks requests and connections for a graceful shutdown, if any.
        http2: offer HTTP/2 by ALPN on TLS ports (``--no-http2`` turns it off).
    """

    requestFactory = KraitRequest
    protocol = _channel_protocol

    def __init__(
        self,
        resource: Resource,
        access_log: str | None = "-",
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        reactor: Any = None,
        drainer: Drainer | None = None,
        http2: bool = True,
    ) -> None:
        # twisted.web would parse every form body into request.args, loading a whole multipart
        # upload into memory and answering a malformed one with a bare 400; krait parses forms
        # itself, on demand and streaming (krait._forms), and answers 400 with the reason.
        cast(Any, super()).__init__(resource, reactor=reactor, parsePOSTFormSubmission=False)
        self.max_body_size = max_body_size
        self.drainer = drainer
        self.http2 = http2
        self._access_log_target = access_log
        self._log_file: IO[str] | None = None
        self._log_writer: LogWriter | None = None
        self._owns_log_file = False
        self._pending: list[AccessRecord] = []
        self._flusher: LoopingCall | None = None

    def acceptableProtocols(self) -> list[bytes]:
        # Twisted offers these by ALPN besides the TLS options' own list.
        return [b"h2", b"http/1.1"] if self.http2 else [b"http/1.1"]

    def startFactory(self) -> None:
        super().startFactory()
        if self._access_log_target is None or self._log_file is not None:
            return
        if self._access_log_target == "-":
            self._log_file = sys.stdout
        else:
            self._log_file = open(self._access_log_target, "a", encoding="utf-8")  # noqa: SIM115
            self._owns_log_file = True
        self._log_writer = LogWriter(
            self._log_file, name="krait-access-log", formatter=record_lines
        )
        self._flusher = LoopingCall(self.flush_access_log)
        self._flusher.clock = self.reactor
        self._flusher.start(1.0, now=False)

    def stopFactory(self) -> None:
        drainer = self.drainer
        if drainer is not None and drainer.draining and not drainer.drained:
            # The ports closed, but requests in flight still get answered and logged.
            drainer.when_drained().addCallback(lambda _: self.stopFactory())
            return
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self.flush_access_log()
        if self._log_writer is not None and not self._log_writer.close():
            log.warn("the access log did not take its last lines within 2 s; they are lost")
        if self._owns_log_file and self._log_file is not None:
            self._log_file.close()
        self._log_file = self._log_writer = None
        super().stopFactory()

    def log(self, request: http.Request) -> None:
        if self._log_file is None:
            return
        # References only: the writer thread formats the line (_access_log.record_lines).
        headers = request.requestHeaders
        referrer = headers.getRawHeaders(b"referer")
        agent = headers.getRawHeaders(b"user-agent")
        self._pending.append(
            (
                getattr(request.getClientAddress(), "host", None) or "-",
                log_date_time(self) or "-",
                request.method,
                request.uri,
                request.clientproto,
                request.code,
                request.sentLength,
                referrer[-1] if referrer else None,
                agent[-1] if agent else None,
            )
        )
        if len(self._pending) >= 256:
            self.flush_access_log()

    def flush_access_log(self) -> None:
        """Hand the buffered access-log lines to the writer thread (never blocks)."""
        writer = self._log_writer
        if writer is None:
            self._pending.clear()
            return
        if self._pending:
            writer.write_records(self._pending)
            self._pending = []
        dropped = writer.take_dropped()
        if dropped:
            log.warn(
                "the access log is not being read fast enough: {count} line(s) dropped",
                count=dropped,
            )
