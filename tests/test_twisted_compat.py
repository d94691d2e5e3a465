"""Every private Twisted name krait relies on still works in the installed Twisted.

A failure here means a Twisted upgrade renamed or removed a private name that
``krait/_twisted_compat.py`` wraps: the message names it, and that module is the one to fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import defer
from twisted.internet.abstract import FileDescriptor
from twisted.internet.error import CannotListenError
from twisted.internet.task import Clock
from twisted.internet.tcp import Connection
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.web import http
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.test.requesthelper import DummyChannel

from krait import _twisted_compat as compat
from krait._h2 import ProtocolSwitch
from krait._http import KraitChannel
from krait._krait_request import KraitRequest


def changed(name: str, fix: str) -> str:
    return f"Twisted no longer has {name}: update krait._twisted_compat.{fix}"


def test_is_disconnected_reads_the_request_disconnected_flag() -> None:
    assert hasattr(Request, "_disconnected"), changed("Request._disconnected", "is_disconnected")
    request = Request(DummyChannel())
    assert compat.is_disconnected(request) is False
    request.connectionLost(Exception("client left"))
    assert compat.is_disconnected(request) is True


def test_buffered_data_counts_bytes_not_yet_joined_into_the_data_buffer() -> None:
    transport = FileDescriptor(reactor=MemoryReactor())
    assert hasattr(transport, "_tempDataLen"), changed(
        "FileDescriptor._tempDataLen", "transport_has_buffered_data"
    )
    assert compat.transport_has_buffered_data(transport) is False
    transport.connected = True
    transport.write(b"pending")
    assert compat.transport_has_buffered_data(transport) is True


def test_tcp_connections_have_what_sendfile_needs() -> None:
    assert issubclass(Connection, FileDescriptor)
    transport = FileDescriptor(reactor=MemoryReactor())
    for name in compat.SENDFILE_TRANSPORT_NAMES:
        if name != "socket":  # set by tcp.Connection itself
            assert hasattr(transport, name), changed(
                f"FileDescriptor.{name}", "SENDFILE_TRANSPORT_NAMES"
            )


def test_channel_internals_describe_the_request_head_being_read() -> None:
    channel = http.HTTPChannel()
    channel.makeConnection(StringTransport())
    assert compat.has_request_line(channel) is False
    assert compat.received_header_size(channel) == 0
    channel.dataReceived(b"GET / HTTP/1.0\r\nHost: x\r\n")
    assert compat.has_request_line(channel) is True, changed(
        "HTTPChannel._path", "has_request_line"
    )
    assert compat.channel_version(channel) == b"HTTP/1.0", changed(
        "HTTPChannel._version", "channel_version"
    )
    assert compat.received_header_size(channel) > 0, changed(
        "HTTPChannel._receivedHeaderSize", "received_header_size"
    )
    channel.connectionLost(Exception("done"))


def test_a_paused_idle_timeout_comes_back_on_its_own_timer_when_the_request_is_done() -> None:
    clock = Clock()
    channel = http.HTTPChannel()
    channel.callLater = clock.callLater  # type: ignore[method-assign]
    channel.timeOut = 60
    channel.makeConnection(StringTransport())
    (timer,) = clock.getDelayedCalls()
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n")
    compat.pause_idle_timeout(channel)
    channel.dataReceived(b"\r\n")  # the head is in: twisted.web finds no timeout to pause
    assert channel.timeOut is None
    assert clock.getDelayedCalls() == [timer]
    clock.advance(10)
    channel.requests[0].finish()
    assert channel.timeOut == 60, changed("HTTPChannel._savedTimeOut", "pause_idle_timeout")
    assert clock.getDelayedCalls() == [timer]
    assert timer.getTime() == 70
    channel.connectionLost(Exception("done"))


def test_log_date_time_is_the_site_cached_timestamp() -> None:
    site = Site(Resource(), reactor=Clock())
    assert compat.log_date_time(site) is None
    site.startFactory()
    try:
        stamp = compat.log_date_time(site)
        assert isinstance(stamp, str), changed("HTTPFactory._logDateTime", "log_date_time")
        assert stamp.startswith("[01/Jan/1970:00:00:00")
    finally:
        site.stopFactory()


class _UnbindableEndpoint:
    def listen(self, factory: object) -> defer.Deferred[object]:
        return defer.fail(CannotListenError("127.0.0.1", 80, OSError("in use")))


def test_bind_errors_raise_from_start_service_once_asked() -> None:
    service = StreamServerEndpointService(_UnbindableEndpoint(), Site(Resource()))
    assert hasattr(service, "_raiseSynchronously"), changed(
        "StreamServerEndpointService._raiseSynchronously", "raise_bind_errors_synchronously"
    )
    compat.raise_bind_errors_synchronously(service)
    with pytest.raises(CannotListenError):
        service.privilegedStartService()


def test_h2_stream_reset_reaches_the_connection_internals() -> None:
    _http2 = pytest.importorskip("twisted.web._http2")
    for name in ("_tryToWriteControlData", "_requestDone"):
        assert hasattr(_http2.H2Connection, name), changed(
            f"H2Connection.{name}", "reset_h2_stream"
        )
    connection = _http2.H2Connection(Clock())
    connection.makeConnection(StringTransport())
    stream = _http2.H2Stream(1, connection, [], Request, Site(Resource()), None)
    assert stream._conn is connection, changed("H2Stream._conn", "reset_h2_stream")


@pytest.mark.parametrize(
    ("twisted_class", "krait_class"),
    [(http.HTTPChannel, KraitChannel), (Request, KraitRequest)],
)
def test_overridden_private_hooks_still_exist_in_twisted(
    twisted_class: type, krait_class: type
) -> None:
    for hook in compat.OVERRIDDEN_HOOKS[twisted_class]:
        assert hasattr(twisted_class, hook), changed(
            f"{twisted_class.__name__}.{hook} (overridden by {krait_class.__name__})",
            "OVERRIDDEN_HOOKS",
        )
        assert hook in vars(krait_class)


def test_http_channel_of_finds_the_channel_behind_the_protocol_switcher() -> None:
    channel = KraitChannel()
    protocol = ProtocolSwitch(channel)
    assert hasattr(protocol, "_channel"), changed(
        "_GenericHTTPChannelProtocol._channel", "http_channel_of"
    )
    assert compat.http_channel_of(protocol) is channel
    assert compat.http_channel_of(channel) is channel


def test_unread_request_data_returns_what_the_channel_holds_back() -> None:
    channel = http.HTTPChannel()
    channel.makeConnection(StringTransport())
    assert hasattr(channel, "_dataBuffer"), changed(
        "HTTPChannel._dataBuffer", "unread_request_data"
    )
    assert compat.unread_request_data(channel) == b""
    channel._dataBuffer.extend([b"GET /next ", b"HTTP/1.1\r\n"])
    assert compat.unread_request_data(channel) == b"GET /next HTTP/1.1\r\n"


def test_endpoint_tls_options_can_be_read_and_replaced() -> None:
    from twisted.internet.endpoints import SSL4ServerEndpoint

    endpoint = SSL4ServerEndpoint(MemoryReactor(), 0, "first")  # type: ignore[arg-type]
    assert compat.endpoint_tls_options(endpoint) == "first", changed(
        "SSL4ServerEndpoint._sslContextFactory", "endpoint_tls_options"
    )
    compat.set_endpoint_tls_options(endpoint, "second")
    assert compat.endpoint_tls_options(endpoint) == "second"


def test_exit_normally_after_signal_clears_the_signal_twistd_would_re_raise() -> None:
    from twisted.internet.base import ReactorBase

    assert hasattr(ReactorBase, "_exitSignal"), changed(
        "ReactorBase._exitSignal", "exit_normally_after_signal"
    )
    reactor = MemoryReactor()
    reactor._exitSignal = 15  # type: ignore[attr-defined]
    compat.exit_normally_after_signal(reactor)
    assert reactor._exitSignal is None  # type: ignore[attr-defined]


def test_share_adopted_unix_port_neither_deletes_nor_shuts_down_the_socket(
    tmp_path: Path,
) -> None:
    import inspect

    from twisted.internet import tcp, unix
    from twisted.internet.protocol import Factory

    assert "_bindPath" in inspect.getsource(unix.Port.connectionLost), changed(
        "unix.Port.connectionLost deleting _bindPath", "share_adopted_unix_port"
    )
    assert "_shouldShutdown" in inspect.getsource(tcp._SocketCloser._closeSocket), changed(
        "_SocketCloser._shouldShutdown", "share_adopted_unix_port"
    )
    port = unix.Port(str(tmp_path / "krait.sock"), Factory())
    compat.share_adopted_unix_port(port)
    assert not unix._inFilesystemNamespace(port._bindPath)
    assert port._shouldShutdown is False


def test_prepared_headers_go_straight_into_the_table_under_their_canonical_names() -> None:
    pairs = compat.prepared_headers([(b"content-length", b"5"), (b"x-krait-odd", b"a b")])
    headers = Headers({b"Content-Length": [b"1"], b"Date": [b"today"]})
    compat.put_prepared_headers(headers, pairs)
    assert headers.getRawHeaders(b"content-length") == [b"5"]
    assert headers.getRawHeaders(b"X-KRAIT-ODD") == [b"a b"]
    assert headers.getRawHeaders(b"date") == [b"today"]
    headers.addRawHeader(b"content-length", b"6")  # a copy: the prepared pairs stay as they are
    assert pairs[0] == (b"Content-Length", b"5")


def test_header_table_is_the_headers_own_table_in_the_order_names_were_set() -> None:
    assert hasattr(Headers(), "_rawHeaders"), changed("Headers._rawHeaders", "header_table")
    headers = Headers()
    headers.setRawHeaders(b"date", [b"today"])
    headers.addRawHeader(b"x-a", b"1")
    table = compat.header_table(headers)
    assert table == {b"Date": [b"today"], b"X-A": [b"1"]}
    table[b"Content-Length"] = [b"5"]
    assert list(headers.getAllRawHeaders())[-1] == (b"Content-Length", [b"5"])


def test_writes_plainly_sees_a_lost_client_an_encoder_and_a_fake_head() -> None:
    for name in ("_disconnected", "_encoder", "_inFakeHead"):
        assert hasattr(Request(DummyChannel()), name), changed(f"Request.{name}", "writes_plainly")
    assert compat.writes_plainly(Request(DummyChannel()))
    lost = Request(DummyChannel())
    lost.connectionLost(Exception("client left"))
    encoded = Request(DummyChannel())
    encoded._encoder = object()
    fake_head = Request(DummyChannel())
    fake_head._inFakeHead = True
    assert not any(map(compat.writes_plainly, (lost, encoded, fake_head)))


def test_clean_up_finished_hands_the_channel_on_and_fires_notify_finish() -> None:
    assert hasattr(Request, "_cleanup"), changed("Request._cleanup", "clean_up_finished")
    channel = DummyChannel()
    done: list[Request] = []
    channel.requestDone = done.append  # type: ignore[method-assign]
    request = Request(channel)
    notified: list[object] = []
    request.notifyFinish().addCallback(notified.append)
    compat.clean_up_finished(request)
    assert done == [request]
    assert notified == [None]


def test_the_line_reader_state_a_whole_head_reader_needs_is_there() -> None:
    channel = http.HTTPChannel()
    assert compat.reads_heads_whole(channel), changed(
        "one of " + ", ".join(compat.HEAD_READER_STATE), "HEAD_READER_STATE"
    )
    assert KraitChannel._whole_heads is True
    channel.makeConnection(StringTransport())
    assert (channel.line_mode, channel._HTTPChannel__first_line) == (1, 1)
    channel.dataReceived(b"GET /a HTTP/1.1\r\nHost: x\r\nA: b")
    assert channel._HTTPChannel__first_line == 0, changed(
        "HTTPChannel.__first_line", "HEAD_READER_STATE"
    )
    assert (channel._command, channel._path, channel._version) == (b"GET", b"/a", b"HTTP/1.1")
    assert channel._buffer == b"A: b", changed("LineReceiver._buffer", "HEAD_READER_STATE")
    assert channel._receivedHeaderCount == 0  # Host waits for the line after it (folding)
    channel.dataReceived(b"\r\n")
    assert channel._receivedHeaderCount == 1
    assert channel._receivedHeaderSize == len(b"GET /a HTTP/1.1Host: xA: b")
    channel.connectionLost(Exception("done"))


def test_header_table_is_the_table_headers_are_read_from() -> None:
    headers = Headers()
    compat.header_table(headers)[compat.canonical_header_name(b"x-xss-protection")] = [b"1"]
    compat.header_table(headers)[compat.canonical_header_name(b"content-TYPE")] = [b"a", b"b"]
    assert headers.getRawHeaders(b"X-XSS-Protection") == [b"1"]
    assert headers.getRawHeaders(b"content-type") == [b"a", b"b"]
    assert list(headers.getAllRawHeaders()) == [
        (b"X-XSS-Protection", [b"1"]),
        (b"Content-Type", [b"a", b"b"]),
    ]


@pytest.mark.parametrize(
    "name", [b"cookie", b"Cookie", b"content-type", b"x-missing", b"empty", "Cookie", "cookie"]
)
def test_request_headers_answer_every_lookup_as_headers_do(name: bytes | str) -> None:
    pairs = [(b"Cookie", b"a=1"), (b"cookie", b"b=2"), (b"Content-Type", b"text/plain")]
    ours, theirs = compat.RequestHeaders(), Headers()
    for header in (ours, theirs):
        for key, value in pairs:
            header.addRawHeader(key, value)
        header.setRawHeaders(b"empty", [])
    for _ in range(2):  # the first bytes lookup of a name learns it, the second uses it
        assert ours.getRawHeaders(name) == theirs.getRawHeaders(name)
        assert ours.getRawHeaders(name, "default") == theirs.getRawHeaders(name, "default")
        assert ours.hasHeader(name) == theirs.hasHeader(name)
