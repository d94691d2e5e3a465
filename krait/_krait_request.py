"""The twisted.web Request krait serves with: body limits, the client's origin, one head hook.

``KraitSite`` (``_http``) makes one per request; routing (``_dispatch``) and page writing
(``_page_writer``) take it from there.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, cast

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.http_headers import Headers

from krait._answers import refusal, refusal_reason, send_refusal
from krait._deadlines import ClientLimits
from krait._drain import Drainer
from krait._forwarded import ClientOrigin, TrustedProxies, client_origin
from krait._host import host_problem
from krait._metrics_tally import RequestTally
from krait._request_process import process_request
from krait._timed_channel import BodyClock
from krait._twisted_compat import RequestHeaders, header_table, reset_h2_stream

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
    # twisted.web's Request compares and hashes by identity in Python methods; the drainer
    # keys a dict by request, so that was three Python calls per request for what these do.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__
    _origin: ClientOrigin | None = None
    head_hook: Callable[[server.Request], None] | None = None
    """Called once just before the response head goes out, whoever writes the answer."""

    def __init__(self, channel: Any, *args: Any, **kw: Any) -> None:
        # twisted.web's three constructors (server.Request, http.Request, Componentized) in
        # one: the same attributes (tests/test_krait_request.py compares them), one call.
        self.notifications: list[Any] = []
        self.channel = channel
        self.client = channel.getPeer()
        self.host = channel.getHost()
        self.requestHeaders = RequestHeaders()
        self.received_cookies: dict[bytes, bytes] = {}
        self.responseHeaders = Headers()
        self.cookies: list[bytes] = []
        self.transport = channel.transport
        # Called as twisted.web calls it: (channel), (channel, queued), parsePOSTFormSubmission=.
        self.queued = args[0] if args else kw.get("queued", False)
        parse_forms = kw.get("parsePOSTFormSubmission")
        if parse_forms is None:
            parse_forms = channel.site._parsePOSTFormSubmission
        self._parsePOSTFormSubmission = parse_forms
        self._adapterCache: dict[Any, Any] = {}

    _cookies_parsed = False

    def parseCookies(self) -> None:
        # twisted.web parses every request's Cookie header into received_cookies when its head
        # is in; krait reads cookies through its own Request, so this copy is made only when
        # getCookie asks for it.
        return

    def getCookie(self, key: bytes) -> bytes | None:
        if not self._cookies_parsed:
            self._cookies_parsed = True
            _SERVER_REQUEST.parseCookies(self)
        cookie: bytes | None = _SERVER_REQUEST.getCookie(self, key)
        return cookie

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
        problem = host_problem(header_table(self.requestHeaders).get(b"Host"), self.clientproto)
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
