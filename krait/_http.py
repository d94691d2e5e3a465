"""The twisted.web Site and Request krait serves with: body limits, connection limit, access log.

Routing lives in ``_dispatch`` and page writing in ``_page_writer``; this module only deals
with what happens at the connection level, before a resource is involved (oversized bodies,
a bad Host, connections over ``--max-connections``, refused in plain text by ``_answers``)
and after (logging). The HTTP/1.1 channel, which reads and times request heads, is
``_channel``'s.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from functools import partial
from typing import IO, Any, cast

from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, server
from twisted.web.resource import Resource

from krait._access_log import AccessRecord, combined_line, record_lines
from krait._answers import refusal, refusal_reason, send_refusal
from krait._channel import KraitChannel
from krait._connection_refusal import ConnectionRefusal
from krait._deadlines import ClientLimits
from krait._drain import Drainer
from krait._forwarded import ClientOrigin, TrustedProxies, client_origin
from krait._h2 import ProtocolSwitch
from krait._host import host_problem
from krait._log_writer import LogWriter
from krait._metrics_tally import RequestTally
from krait._open_files import ConnectionSlots, default_max_connections, open_file_limit
from krait._raw_requests import request_origin
from krait._request_process import process_request
from krait._timed_channel import BodyClock
from krait._twisted_compat import header_table, log_date_time, reset_h2_stream

log = Logger(namespace="krait")

_H2_CANCEL = 0x8

DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024
"""Request bodies larger than this get 413 unless ``--max-body-size`` says otherwise."""


def close_after(request: server.Request) -> None:
    """Close an HTTP/1.x connection once this response is sent (an HTTP/2 stream just ends).

    The header alone does not make twisted.web close: the channel's flag does.
    """
    channel = request.channel
    if hasattr(channel, "persistent"):
        channel.persistent = False
        request.setHeader(b"connection", b"close")


_SERVER_REQUEST: Any = server.Request
"""The base class, called by name in hooks that run per request (cheaper than
``cast(Any, super())``)."""


class KraitRequest(server.Request):
    """A request that refuses bodies over the site's limit as soon as it knows their size.

    On an HTTP/2 stream it also times its body against ``--body-min-rate``, and resets the
    stream when it falls behind (an HTTP/1.x channel times its bodies itself).
    """

    _too_large = False
    _received = 0
    channel: Any
    _origin: ClientOrigin | None = None
    head_hook: Callable[[server.Request], None] | None = None
    """Called once just before the response head goes out, whoever writes the answer."""

    def write(self, data: bytes) -> None:
        if self.head_hook is not None and not self.startedWriting:
            hook, self.head_hook = self.head_hook, None
            hook(self)
        server.Request.write(self, data)

    def origin(self) -> ClientOrigin:
        """Who sent this request: the peer, or the client a trusted proxy names (cached)."""
        origin = self._origin
        if origin is None:
            channel = self.channel
            site = getattr(channel, "site", None) if channel is not None else None
            trusted: TrustedProxies | None = getattr(site, "trusted_proxies", None)
            peer_origin = getattr(channel, "peer_origin", None)
            if peer_origin is not None and (trusted is None or not trusted.networks):
                # No proxy is trusted: the peer is the client, the same for every request on
                # the connection (no header to read, no address to parse).
                origin = peer_origin()
            else:
                origin = self._forwarded_origin(trusted or TrustedProxies())
            self._origin = origin
        return origin

    def _forwarded_origin(self, trusted: TrustedProxies) -> ClientOrigin:
        address = cast(Any, self).getClientAddress()
        peer = getattr(address, "host", None) or "-"
        port = getattr(address, "port", None)
        headers = {
            name.decode("latin-1").lower(): [v.decode("latin-1") for v in values]
            for name, values in self.requestHeaders.getAllRawHeaders()
            if name.lower().startswith((b"forwarded", b"x-forwarded-"))
        }
        scheme = "https" if cast(Any, self).isSecure() else "http"
        return client_origin(peer, port, scheme, headers, trusted)

    _length_unknown = False
    _body_clock: BodyClock | None = None

    def gotLength(self, length: int | None) -> None:
        self._length_unknown = length is None
        limit = self.channel.site.max_body_size if self.channel.site else DEFAULT_MAX_BODY_SIZE
        if length is not None and length > limit:
            self._refuse_body(length, limit)
            return
        _SERVER_REQUEST.gotLength(self, length)
        if length != 0 and self.channel.transport is None:
            self._time_stream_body()

    def _time_stream_body(self) -> None:
        site = self.channel.site
        limits: ClientLimits | None = getattr(site, "client_limits", None)
        if limits is not None and limits.times_bodies:
            self._body_clock = BodyClock(site.reactor, limits, self._stream_too_slow)

    def _stream_too_slow(self, reason: str) -> None:
        log.info("reset an HTTP/2 stream: {reason}", reason=reason)
        self._body_clock = None
        # RFC 9113 §7: CANCEL, the stream is no longer needed. A 408 cannot go out on a stream
        # whose body is still arriving (see _refuse_body).
        reset_h2_stream(self.channel, _H2_CANCEL)

    def _stop_body_clock(self) -> None:
        if self._body_clock is not None:
            self._body_clock.stop()
            self._body_clock = None

    def connectionLost(self, reason: Failure) -> None:
        self._stop_body_clock()
        cast(Any, super()).connectionLost(reason)
        self.report_end()

    def finish(self) -> None:
        _SERVER_REQUEST.finish(self)
        self.report_end()

    _drainer: Drainer | None = None

    def report_end(self) -> None:
        """Tell the drainer this request needs nothing more (see ``Drainer.request_started``):
        on ``finish``, a lost connection, or ``send_whole``'s own finish."""
        drainer, self._drainer = self._drainer, None
        if drainer is not None:
            drainer.request_ended(self)

    def handleContentChunk(self, data: bytes) -> None:
        if self._too_large:
            return
        if self._body_clock is not None:
            self._body_clock.add(len(data))
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
        self.channel.close_within_grace()

    def process(self) -> None:
        if self._body_clock is not None:
            self._stop_body_clock()
        site = self.channel.site
        metrics: RequestTally | None = getattr(site, "metrics", None)
        if metrics is not None:
            self.started_at = metrics.clock()  # and _dispatch sets route_kind (mark_route_kind)
        if self._too_large:
            if self.channel.transport is None:
                send_refusal(self, 413, refusal_reason(413, site.max_body_size))
            return
        problem = host_problem(self.requestHeaders.getRawHeaders(b"host"), self.clientproto)
        if problem is not None:
            # RFC 9112 §3.2: a server MUST answer 400 to a missing, repeated or invalid Host.
            log.info("400: {problem}", problem=problem)
            refuse = getattr(self.channel, "refuse", None)  # an HTTP/1.x KraitChannel
            if refuse is not None:
                refuse(400)
            else:  # an HTTP/2 stream: answer on the stream
                send_refusal(self, 400, problem)
            return
        drainer = getattr(site, "drainer", None)
        if drainer is not None:
            self._drainer = drainer
            drainer.request_started(self, reports_end=True)
        process_request(self)

    def _handleStar(self) -> None:  # _twisted_compat.OPTIONS_STAR_HOOK
        # twisted.web answers "OPTIONS *" itself, without Allow; krait's root answers it.
        try:
            site: Any = self.site
            cast(Any, self).render(site.getResourceFor(self))
        except BaseException:
            cast(Any, self).processingFailed(Failure())

    def setHeader(self, name: bytes | str, value: bytes | str) -> None:
        # twisted.web announces its version in a Server header; the original Krait sent none,
        # and a version banner only helps attackers.
        if name in (b"Server", "Server"):
            return
        _SERVER_REQUEST.setHeader(self, name, value)


def _channel_protocol(factory: KraitSite) -> Any:
    """The site's protocol: krait's HTTP/1.1 channel, switching to HTTP/2 when negotiated; or
    a 503 when the site has ``--max-connections`` open."""
    slot = factory.connection_slots.take()
    if slot is None:
        return ConnectionRefusal(factory.connection_slots, factory.reactor)
    protocol = ProtocolSwitch(KraitChannel(factory.client_limits, factory.reactor, slot))
    drainer = getattr(factory, "drainer", None)
    if drainer is not None:
        drainer.connection_made(protocol)
    return protocol


class KraitSite(server.Site):
    """A Site with krait's request class, body limit and a buffered access log.

    Args:
        resource: the root resource.
        access_log: where the access log goes: ``"-"`` for stdout, a path, a file object
            (kept open), or None for no access log.
        access_format: what formats a line (``combined_line`` or ``json_access_line``).
        max_body_size: the largest request body accepted, in bytes.
        reactor: the reactor (for the log's flush timer).
        drainer: tracks requests and connections for a graceful shutdown, if any.
        http2: offer HTTP/2 by ALPN on TLS ports (``--no-http2`` turns it off).
        client_limits: how slowly clients may send requests, how long idle ones stay.
        max_connections: the most connections open at once; more get 503. Default: what
            fits in the open-file limit (:func:`krait._open_files.default_max_connections`).
        trusted_proxies: the peers whose ``Forwarded``/``X-Forwarded-*`` headers name the
            client (``--trusted-proxies``); none by default.
    """

    requestFactory = KraitRequest
    protocol = _channel_protocol
    metrics: RequestTally | None = None  # counts answered requests: --metrics-listen
    noisy = False  # "Starting factory <KraitSite object at 0x...>" tells a reader nothing

    def __init__(
        self,
        resource: Resource,
        access_log: str | IO[str] | None = "-",
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        reactor: Any = None,
        drainer: Drainer | None = None,
        http2: bool = True,
        client_limits: ClientLimits | None = None,
        max_connections: int | None = None,
        access_format: Callable[..., str] = combined_line,
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        # twisted.web would parse every form body into request.args, loading a whole multipart
        # upload into memory and answering a malformed one with a bare 400; krait parses forms
        # itself, on demand and streaming (krait._forms), and answers 400 with the reason.
        cast(Any, super()).__init__(resource, reactor=reactor, parsePOSTFormSubmission=False)
        self.max_body_size = max_body_size
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self.drainer = drainer
        self.http2 = http2
        self.client_limits = client_limits or ClientLimits()
        # twisted.web's idle timeout: between requests, and any silence within one.
        self.timeOut = self.client_limits.keepalive_timeout or None
        if max_connections is None:
            max_connections = default_max_connections(open_file_limit())
        self.connection_slots = ConnectionSlots(max_connections)
        self._access_log_target = access_log
        self._access_format = access_format
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
        if not isinstance(self._access_log_target, str):
            self._log_file = self._access_log_target
        elif self._access_log_target == "-":
            self._log_file = sys.stdout
        else:
            self._log_file = open(self._access_log_target, "a", encoding="utf-8")  # noqa: SIM115
            self._owns_log_file = True
        self._log_writer = LogWriter(
            self._log_file,
            name="krait-access-log",
            formatter=partial(record_lines, line=self._access_format),
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
        if self.metrics is not None:
            self.metrics.finished(request)
        if self._log_file is None:
            return
        # References only: the writer thread formats the line (_access_log.record_lines).
        # The table itself, by canonical name: getRawHeaders would encode and case the name.
        headers = header_table(request.requestHeaders)
        referrer = headers.get(b"Referer")
        agent = headers.get(b"User-Agent")
        self._pending.append(
            (
                _client_host(request),
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


def _client_host(request: http.Request) -> str:
    """The client's address for the access log: behind trusted proxies, the real client."""
    return request_origin(request).address
