"""HTTP/2 against hostile clients, end to end: a real server over TLS, a raw h2 client.

The client speaks frames itself (the ``h2`` library for the preface, SETTINGS and HPACK,
hyperframe for what no well-behaved client sends) over an ``ssl`` socket to 127.0.0.1. Every
flood is bounded in bytes and seconds, and the server's memory is read from /proc.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest
import trustme
from conftest import Server, free_port, start_server, wait_for_port, write_site
from h2.errors import ErrorCodes
from hyperframe.frame import ContinuationFrame, Frame, GoAwayFrame, HeadersFrame, RstStreamFrame
from tls_site import client_context, write_tls_site

from krait._h2_limits import MAX_HEADER_BLOCK_SIZE

REQUEST = [(":method", "GET"), (":scheme", "https"), (":authority", "127.0.0.1")]
DATA_ON_STREAM_0 = b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@dataclass
class TlsServer:
    server: Server
    port: int
    authority: trustme.CA

    def rss(self) -> int:
        """The server's resident memory in bytes."""
        status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024


@contextlib.contextmanager
def tls_server(root: Path, authority: trustme.CA, site: Path, *args: str) -> Iterator[TlsServer]:
    """Serve ``site`` on an ``ssl:`` endpoint on 127.0.0.1."""
    cert = authority.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    port = free_port()
    endpoint = f"ssl:{port}:interface=127.0.0.1:privateKey={root}/key.pem:certKey={root}/cert.pem"
    server = start_server(site, root / "log", "--listen", endpoint, *args, listen=False, wait=False)
    try:
        wait_for_port(port, server.process)
        yield TlsServer(server, port, authority)
    finally:
        assert server.stop() == 0


@pytest.fixture(scope="module")
def runs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs") / "runs.txt"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, authority: trustme.CA, runs_file: Path
) -> Iterator[TlsServer]:
    root = tmp_path_factory.mktemp("h2")
    site = write_site(
        root / "site",
        {
            "index.html": "hello over h2",
            # Each run of this page leaves a line: the work a reset stream should not cost.
            "work.py": f"with open({str(runs_file)!r}, 'a') as f:\n    f.write('ran\\n')\n"
            "return 'worked'\n",
            "done.py": "return 'done'\n",
        },
    )
    with tls_server(root, authority, site) as running:
        yield running


class RawH2:
    """An HTTP/2 client connection that can also send what no real client sends.

    TLS runs over memory buffers (``ssl.SSLObject``), not an ``SSLSocket``: once a write fails
    on a reset connection, an ``SSLSocket`` reads nothing more, while the kernel still holds
    what the server sent before its reset (its GOAWAY).
    """

    def __init__(self, server: TlsServer) -> None:
        context = client_context(server.authority)
        context.set_alpn_protocols(["h2"])
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname="127.0.0.1")
        self._handshake()
        assert self.tls.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.send(self.conn.data_to_send())
        self.events: list[h2.events.Event] = []
        self.received = b""

    def _handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self._outgoing.read())
                data = self.sock.recv(65_536)
                assert data, "the server closed the connection during the TLS handshake"
                self._incoming.write(data)
        self.sock.sendall(self._outgoing.read())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def block(self, path: str) -> bytes:
        """An HPACK-encoded request block for ``path``."""
        return bytes(self.conn.encoder.encode([*REQUEST, (":path", path)]))

    def send(self, data: bytes) -> None:
        """Encrypt and send ``data``; raises ``OSError`` once the server is gone."""
        self.tls.write(data)
        self.sock.sendall(self._outgoing.read())

    def read_some(self, timeout: float) -> bool:
        """Read what the server sent within ``timeout``; False once the connection is over."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65_536)
        except (TimeoutError, BlockingIOError):
            return True
        except OSError:
            return False
        if not data:
            return False
        self._incoming.write(data)
        plain = b""
        with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            while chunk := self.tls.read(65_536):
                plain += chunk
        self.received += plain
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.events += self.conn.receive_data(plain)
        with contextlib.suppress(OSError):
            self.send(self.conn.data_to_send())
        return True

    def get(self, path: str, stream_id: int, timeout: float = 10) -> bytes:
        """GET ``path`` on ``stream_id`` and return the body."""
        self.conn.send_headers(stream_id, [*REQUEST, (":path", path)], end_stream=True)
        self.send(self.conn.data_to_send())
        body = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = len(self.events)
            assert self.read_some(0.5), "the server closed the connection"
            for event in self.events[seen:]:
                if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                    body += event.data
                if isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
                    return body
        raise AssertionError(f"no answer on stream {stream_id} within {timeout} s")

    def goaway(self) -> GoAwayFrame | None:
        """The server's GOAWAY, read from the raw bytes: the client's own state machine may
        have given up on the connection by then."""
        data = self.received
        while len(data) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(data[:9]))
            if len(data) < 9 + length:
                break
            frame.parse_body(memoryview(data[9 : 9 + length]))
            if isinstance(frame, GoAwayFrame):
                return frame
            data = data[9 + length :]
        return None


@dataclass
class Flood:
    """What came of sending the same chunk over and over."""

    sent: int
    closed_after: float | None


def flood(client: RawH2, chunk: bytes, seconds: float = 3.0, most: int = 200 * MIB) -> Flood:
    """Send ``chunk`` until the server closes, for at most ``seconds`` and ``most`` bytes,
    then read what the server sent until it closed."""
    start = time.monotonic()
    sent = 0
    client.sock.settimeout(0.5)
    closed_after = None
    while time.monotonic() - start < seconds and sent < most:
        try:
            client.send(chunk)
        except TimeoutError:
            continue  # the server reads nothing more: its close is coming
        except OSError:
            closed_after = time.monotonic() - start
            break
        sent += len(chunk)
        if not client.read_some(0):
            closed_after = time.monotonic() - start
            break
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and client.read_some(0.2):
        pass
    return Flood(sent, closed_after)


def test_a_normal_h2_request_is_served(served: TlsServer) -> None:
    client = RawH2(served)
    try:
        assert client.get("/", 1) == b"hello over h2"
        assert client.get("/done", 3) == b"done"
        settings = client.conn.remote_settings
        assert (settings.max_concurrent_streams, settings.max_header_list_size) == (100, 16_384)
    finally:
        client.close()


def test_a_continuation_flood_is_cut_off_at_once_without_growing_the_server(
    served: TlsServer,
) -> None:
    before = served.rss()
    client = RawH2(served)
    try:
        client.send(HeadersFrame(1, data=client.block("/")).serialize())
        continuation = bytes(ContinuationFrame(1, data=b"\x00" * 16_384).serialize())
        assert 4 * len(continuation) > MAX_HEADER_BLOCK_SIZE  # the first chunk crosses it
        result = flood(client, continuation * 4)
    finally:
        client.close()
    grown = served.rss() - before
    measured = f"{result}, server grew by {grown / MIB:.1f} MiB"
    assert result.closed_after is not None and result.closed_after < 1, measured
    assert grown < 50 * MIB, measured
    goaway = client.goaway()
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert goaway.additional_data.startswith(b"a header block of ")


def test_data_on_stream_0_aborts_the_connection_and_the_rest_is_not_read(
    served: TlsServer,
) -> None:
    before = served.rss()
    client = RawH2(served)
    try:
        client.send(DATA_ON_STREAM_0)
        junk = b"\x00\x40\x00\x00\x00\x00\x00\x00\x01" + b"x" * 16_384  # DATA, stream 1
        result = flood(client, junk * 4)
    finally:
        client.close()
    grown = served.rss() - before
    measured = f"{result}, server grew by {grown / MIB:.1f} MiB"
    assert result.closed_after is not None and result.closed_after < 1, measured
    assert grown < 50 * MIB, measured
    goaway = client.goaway()
    assert goaway is not None and goaway.error_code == ErrorCodes.PROTOCOL_ERROR


def test_the_server_serves_on_after_the_floods(served: TlsServer) -> None:
    client = RawH2(served)
    try:
        assert client.get("/done", 1) == b"done"
    finally:
        client.close()


def test_pages_of_reset_streams_are_not_run(served: TlsServer, runs_file: Path) -> None:
    """Each stream is reset right after its request: its page must not cost a thread."""
    client = RawH2(served)
    try:
        pairs = b""
        for stream_id in range(1, 401, 2):
            flags = {"END_HEADERS", "END_STREAM"}
            pairs += HeadersFrame(stream_id, data=client.block("/work"), flags=flags).serialize()
            pairs += RstStreamFrame(stream_id, error_code=ErrorCodes.CANCEL).serialize()
        client.send(pairs)
        assert client.get("/done", 401) == b"done"
    finally:
        client.close()
    time.sleep(0.5)  # for pages already running when the last answer came
    runs = runs_file.read_text().count("ran") if runs_file.exists() else 0
    assert runs < 20, f"{runs} of 200 reset requests ran their page"


@pytest.fixture
def no_http2(tmp_path: Path, authority: trustme.CA) -> Iterator[tuple[int, int]]:
    """A server with --no-http2 on an ``ssl:`` endpoint and on --https: both ports."""
    site = write_tls_site(tmp_path / "site", authority)
    https = free_port()
    with tls_server(
        tmp_path, authority, site, "--no-http2", "--https", str(https), "--interface", "127.0.0.1"
    ) as running:
        wait_for_port(https, running.server.process)
        yield running.port, https


def test_no_http2_offers_only_http1_by_alpn(
    no_http2: tuple[int, int], authority: trustme.CA
) -> None:
    for port in no_http2:
        context = client_context(authority)
        context.set_alpn_protocols(["h2", "http/1.1"])
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.selected_alpn_protocol() == "http/1.1"
        body = urllib.request.urlopen(
            f"https://127.0.0.1:{port}/", context=client_context(authority), timeout=10
        ).read()
        assert body == b"secure hello"
