"""Every private Twisted name krait relies on, each behind a small named function.

twisted.web offers no public way to ask some things krait needs (has the client gone, does
the transport still hold bytes, reset an HTTP/2 stream with an error code, how much of a
request head was read). Each use of a private name lives here, and
``tests/test_twisted_compat.py`` pins every one, so a Twisted upgrade that renames or removes
one fails a test naming it instead of a request in production. Hooks krait overrides in its
own subclasses stay in those classes, but their names are listed here and pinned the same way.
"""

from __future__ import annotations

from typing import Any

from twisted.application.internet import StreamServerEndpointService
from twisted.internet import tcp
from twisted.web import http
from twisted.web.http_headers import Headers
from twisted.web.server import Request, Site

BAD_REQUEST_HOOK = "_respondToBadRequestAndDisconnect"
"""``HTTPChannel``'s hook answering a malformed head; ``KraitChannel`` overrides it."""

OPTIONS_STAR_HOOK = "_handleStar"
"""``Request``'s hook answering ``OPTIONS *`` by itself; ``KraitRequest`` overrides it."""

TRANSFER_DECODER_HOOK = "_maybeChooseTransferDecoder"
"""``HTTPChannel``'s hook choosing a body decoder from one header line; ``KraitChannel``
overrides it to frame the body once the whole head is in."""

OVERRIDDEN_HOOKS = {
    http.HTTPChannel: (BAD_REQUEST_HOOK, TRANSFER_DECODER_HOOK),
    Request: (OPTIONS_STAR_HOOK,),
}
"""The private Twisted hooks krait's subclasses override, by the Twisted class defining them."""


def is_disconnected(request: Request) -> bool:
    """Whether the client of ``request`` went away (``Request._disconnected``)."""
    return bool(request._disconnected)


def transport_has_buffered_data(transport: Any) -> bool:
    """Whether a TCP transport still holds bytes it has not handed to the kernel.

    ``FileDescriptor`` keeps them in ``dataBuffer`` and, not yet joined, in ``_tempDataLen``.
    """
    return bool(transport.dataBuffer or transport._tempDataLen)


DIRECT_WRITE_TRANSPORT_NAMES = (
    "socket",
    "TLS",
    "connected",
    "disconnecting",
    "_writeDisconnected",
    "dataBuffer",
    "_tempDataLen",
)
"""What a TCP transport must have for :func:`write_now` to write to its socket itself."""


def write_now(transport: Any, data: bytes) -> None:
    """Hand ``data`` to a plain TCP transport's socket at once, or else to ``transport.write``.

    ``FileDescriptor.write`` only buffers: the bytes leave on the reactor's next turn, after
    the descriptor is registered for writing (an ``epoll_ctl``), a write event is dispatched
    and the descriptor unregistered (another ``epoll_ctl``). When the transport is connected,
    not TLS, and holds no bytes yet (``dataBuffer``, ``_tempDataLen``), sending now changes
    nothing a client sees but the time: the order is kept, and what the socket does not take
    (a full send buffer, an error) goes to ``transport.write`` to be sent, or to fail, as
    before. Any other transport (TLS, HTTP/2, a test's) gets ``transport.write``.
    """
    if (
        transport.__class__ in _DIRECT_WRITE_CLASSES
        and not transport.TLS
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport_has_buffered_data(transport)
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:  # EAGAIN, or an error transport.write meets again and reports
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


_DIRECT_WRITE_CLASSES = frozenset({tcp.Server})
"""The transports :func:`write_now` writes to itself: Twisted's TCP server connections (a UNIX
socket's may queue file descriptors to send with the bytes; it is left to its own write)."""


SENDFILE_TRANSPORT_NAMES = (
    "socket",
    "dataBuffer",
    "_tempDataLen",
    "producerPaused",
    "startWriting",
)
"""What a transport must have for sendfile to write to its socket directly."""


def pause_idle_timeout(channel: http.HTTPChannel) -> None:
    """Pause an HTTP/1.1 channel's idle timeout for the request whose head is in, leaving its
    timer armed.

    twisted.web cancels the timer here and makes a new one when the answer is done, from the
    period it kept in ``_savedTimeOut``. Setting that period aside before twisted.web looks
    (``allHeadersReceived`` pauses only a ``timeOut`` it sees) keeps the same timer, which
    ``requestDone`` then resets; should it fire meanwhile, the channel's
    ``timeoutConnection`` sees the pause and ignores it.
    """
    if channel.timeOut:
        channel._savedTimeOut, channel.timeOut = channel.timeOut, None


def received_header_size(channel: http.HTTPChannel) -> int:
    """The bytes of request head an HTTP/1.1 channel has read (``_receivedHeaderSize``)."""
    size: int = channel._receivedHeaderSize
    return size


def channel_version(channel: http.HTTPChannel) -> bytes:
    """The HTTP version of the request line the channel is reading (``_version``)."""
    version: bytes = channel._version
    return version


def has_request_line(channel: http.HTTPChannel) -> bool:
    """Whether the channel has parsed the current request line (``_path`` is set)."""
    return getattr(channel, "_path", None) is not None


def log_date_time(site: Site) -> str | None:
    """The cached access-log timestamp twisted.web's factory keeps (``_logDateTime``)."""
    return site._logDateTime


def raise_bind_errors_synchronously(service: StreamServerEndpointService) -> None:
    """Make a port that cannot be bound fail ``startService`` (``_raiseSynchronously``)."""
    service._raiseSynchronously = True


def reset_h2_stream(stream: Any, error_code: int) -> None:
    """Reset an HTTP/2 stream with ``error_code``.

    twisted.web's ``H2Stream.abortConnection`` resets with NO_ERROR, which clients (curl among
    them) read as a complete response; it offers no way to pass a code, so this does what it
    does (``H2Connection`` through ``stream._conn``: ``_tryToWriteControlData``,
    ``_requestDone``) with the right one, falling back to it if those are missing.
    """
    connection: Any = getattr(stream, "_conn", None)
    reset = getattr(getattr(connection, "conn", None), "reset_stream", None)
    if reset is None or not hasattr(connection, "_requestDone"):
        stream.abortConnection()
        return
    reset(stream.streamID, error_code=error_code)
    if connection._tryToWriteControlData():
        connection._requestDone(stream.streamID)


def http_channel_of(protocol: Any) -> Any:
    """The HTTP/1.x or HTTP/2 channel behind twisted.web's protocol switcher
    (``_GenericHTTPChannelProtocol._channel``); ``protocol`` itself if it is a channel."""
    return getattr(protocol, "_channel", protocol)


def unread_request_data(channel: http.HTTPChannel) -> bytes:
    """Bytes an HTTP/1.1 channel received after the current request and holds back
    (``_dataBuffer``): pipelined requests, or a WebSocket client's first frames."""
    return b"".join(getattr(channel, "_dataBuffer", []))


def endpoint_tls_options(endpoint: Any) -> Any:
    """The TLS options an ``SSL4ServerEndpoint`` was made with (``_sslContextFactory``)."""
    return endpoint._sslContextFactory


def set_endpoint_tls_options(endpoint: Any, options: Any) -> None:
    """Replace the TLS options of an ``SSL4ServerEndpoint`` before it listens."""
    endpoint._sslContextFactory = options


def exit_normally_after_signal(reactor: Any) -> None:
    """Forget the signal that stopped the reactor (``_exitSignal``), so that twistd exits
    with status 0 instead of re-raising SIGTERM or SIGINT on itself."""
    reactor._exitSignal = None


def is_abandoned(request: Request) -> bool:
    """Whether nobody waits for ``request``'s answer any more: cheap, safe in any thread.

    True once the request is finished, or once its HTTP/1.x connection is lost or its HTTP/2
    stream reset (or its connection gone): twisted.web's ``Request.connectionLost`` then drops
    the request's channel. For ``WorkerPool.submit(..., abandoned=...)``.
    """
    return getattr(request, "channel", None) is None or bool(request.finished)


def share_adopted_unix_port(port: Any) -> None:
    """Have an adopted UNIX listening port leave the shared socket alone when it stops.

    ``twisted.internet.unix.Port.connectionLost`` deletes the file at ``_bindPath`` unless
    that is an abstract-namespace name (a leading NUL byte), and, unlike an adopted TCP port,
    an adopted UNIX port still calls ``shutdown()`` on the socket (``_shouldShutdown``),
    which stops it listening in every process. A worker's port shares the socket with the
    supervisor and the other workers, which still accept on it.
    """
    port._bindPath = b"\0"
    port._shouldShutdown = False


def prepared_headers(pairs: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    """Header pairs as :func:`put_prepared_headers` wants them: names in the canonical case
    ``Headers`` keys its table by, values checked (through the public API, once)."""
    headers = Headers()
    for name, value in pairs:
        headers.setRawHeaders(name, [value])
    return tuple((name, values[0]) for name, values in headers.getAllRawHeaders())


def put_prepared_headers(headers: Headers, pairs: tuple[tuple[bytes, bytes], ...]) -> None:
    """Set headers made by :func:`prepared_headers` straight into the table (``_rawHeaders``),
    skipping the per-call name encoding and value check of ``setRawHeaders``."""
    table = header_table(headers)
    for name, value in pairs:
        table[name] = [value]


HEAD_READER_STATE = (
    "line_mode",
    "paused",
    "_buffer",
    "_busyReceiving",
    "_handlingRequest",
    "_HTTPChannel__first_line",
    "_receivedHeaderSize",
    "_receivedHeaderCount",
    "persistent",
    "maxHeaders",
)
"""What ``KraitChannel`` reads and sets of an HTTP/1.1 channel's line reader (``LineReceiver``
and ``HTTPChannel``) to read a whole request head in one pass: its mode and buffer, whether it
waits for a request line, the head's size and field count. It sets ``_command``, ``_path``
and ``_version`` as ``HTTPChannel`` does once a request line is parsed."""


def reads_heads_whole(channel: http.HTTPChannel) -> bool:
    """Whether ``channel`` (a new one) has every name of :data:`HEAD_READER_STATE`."""
    return all(hasattr(channel, name) for name in HEAD_READER_STATE)


def header_table(headers: Headers) -> dict[bytes, list[bytes]]:
    """The table a ``Headers`` keeps (``_rawHeaders``): canonical names, their values.

    Filled straight, with names from :func:`canonical_header_name` and values twisted.web
    would accept (no CR, LF or NUL), it holds what ``addRawHeader`` would have put in."""
    table: dict[bytes, list[bytes]] = headers._rawHeaders
    return table


def writes_plainly(request: Request) -> bool:
    """Whether twisted.web's ``Request.write`` would send ``request``'s body as given: the
    client is connected (``_disconnected``), no content encoder wraps the body
    (``_encoder``, an ``EncodingResourceWrapper``'s), and it is not a GET rendered for a HEAD
    (``_inFakeHead``)."""
    return not (request._disconnected or request._encoder is not None or request._inFakeHead)


def clean_up_finished(request: Request) -> None:
    """What twisted.web's ``Request.finish`` does last (``_cleanup``): hand the channel on
    (``requestDone``), drop the body, fire the ``notifyFinish`` Deferreds."""
    request._cleanup()


def canonical_header_name(name: bytes) -> bytes:
    """The name ``Headers`` files a header field under (``Content-Type`` for
    ``content-type``); ``name`` must be a token. Through the public API: for cache misses."""
    headers = Headers()
    headers.addRawHeader(name, b"")
    return next(headers.getAllRawHeaders())[0]


_LOOKUP_NAMES: dict[bytes, bytes] = {}
"""Header names as code asks for them (``b"cookie"``), by the name the table files them under;
a few dozen in practice, bounded because any code may ask for any name. Kept apart from the
channel's map of names as clients send them (``_channel._CANONICAL_NAMES``): a client can
fill that one with names of its own, which must not push these out."""


class RequestHeaders(Headers):
    """``Headers`` whose lookups by a ``bytes`` name asked for before go straight to the table.

    twisted.web itself reads four request headers per request (Cookie, Connection, Expect,
    Content-Type), each through a Python call to its name encoder before the table lookup.
    The answers are those of ``Headers`` (``tests/test_twisted_compat.py`` compares them).
    """

    def getRawHeaders(self, name: Any, default: Any = None) -> Any:
        key = _LOOKUP_NAMES.get(name) if name.__class__ is bytes else None
        if key is None:
            if name.__class__ is bytes and len(_LOOKUP_NAMES) < 256:
                _LOOKUP_NAMES[name] = canonical_header_name(name)
            return Headers.getRawHeaders(self, name, default)
        values = self._rawHeaders.get(key)
        return values if values else default

    def hasHeader(self, name: Any) -> bool:
        key = _LOOKUP_NAMES.get(name) if name.__class__ is bytes else None
        if key is None:
            return Headers.hasHeader(self, name)
        return key in self._rawHeaders
