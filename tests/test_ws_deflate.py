"""permessage-deflate (RFC 7692) with ``--ws-deflate``: negotiation, messages both ways, the
uncompressed large message, and a deflate bomb closed with 1009.

The client is written out on a raw socket so that the tests see the extension header and the
RSV1 bit as sent; zlib makes and reads the compressed payloads.
"""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Iterator

import pytest
from autobahn.websocket.compress import PerMessageDeflateOffer
from conftest import Server, start_server
from twisted.internet.testing import MemoryReactor
from ws_site import echo_site

from krait._ws.deflate import (
    MAX_DEFLATED_SEND,
    MEM_LEVEL,
    WINDOW_BITS,
    DeflateAcceptor,
    server_window_bits,
)
from krait._ws.handshake import WebsocketsSettings
from krait._ws.hub import make_factory

OFFER = "permessage-deflate; client_max_window_bits"
TAIL = b"\x00\x00\xff\xff"
MAX_MESSAGE = 1024 * 1024
KINDS = ["queue", "async"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    site = echo_site(tmp_path_factory.mktemp("site"))
    running = start_server(
        site,
        tmp_path_factory.mktemp("logs"),
        "--ws-deflate",
        "--ws-max-message-size",
        str(MAX_MESSAGE),
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(echo_site(tmp_path_factory.mktemp("site")), tmp_path_factory.mktemp("l"))
    yield running
    running.stop()


def handshake(server: Server, path: str, offer: str | None = OFFER) -> tuple[socket.socket, str]:
    """A socket past the 101, and the 101's head."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    extension = f"Sec-WebSocket-Extensions: {offer}\r\n" if offer else ""
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\n{extension}\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock, head.decode("latin-1")


def client_frame(payload: bytes, *, compressed: bool, opcode: int = 0x1) -> bytes:
    """A final, masked client frame of any length; RSV1 set when ``compressed``."""
    first = 0x80 | (0x40 if compressed else 0) | opcode
    mask = b"\x37\xfa\x21\x3d"
    length = len(payload)
    if length < 126:
        head = bytes([first, 0x80 | length])
    elif length < 65536:
        head = bytes([first, 0x80 | 126]) + struct.pack("!H", length)
    else:
        head = bytes([first, 0x80 | 127]) + struct.pack("!Q", length)
    key = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
    return head + mask + masked


def deflated(payload: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(TAIL)
    return data[:-4]


def read_frame(sock: socket.socket) -> tuple[int, bool, bytes]:
    """One server frame: its opcode, whether RSV1 (compressed) is set, its payload."""
    first, second = _read_exact(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _read_exact(sock, 8))[0]
    return first & 0x0F, bool(first & 0x40), _read_exact(sock, length)


def _read_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def inflate(payload: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(payload + TAIL)


@pytest.mark.parametrize("kind", KINDS)
def test_the_offer_is_accepted_and_messages_travel_compressed_both_ways(
    server: Server, kind: str
) -> None:
    sock, head = handshake(server, f"/echo?kind={kind}")
    with sock:
        assert "sec-websocket-extensions: permessage-deflate" in head.lower()
        message = ('{"user": "ann", "text": "hello"}' * 40).encode()
        sock.sendall(client_frame(deflated(message), compressed=True))
        opcode, compressed, payload = read_frame(sock)
        assert opcode == 0x1 and compressed
        assert len(payload) < len(message) // 5
        assert inflate(payload) == message


def test_an_uncompressed_message_on_a_deflate_connection_is_fine(server: Server) -> None:
    sock, _ = handshake(server, "/echo?kind=async")
    with sock:
        sock.sendall(client_frame(b"plain", compressed=False))
        opcode, compressed, payload = read_frame(sock)
        assert opcode == 0x1
        assert (inflate(payload) if compressed else payload) == b"plain"


def test_a_message_larger_than_the_send_limit_goes_out_uncompressed(server: Server) -> None:
    sock, _ = handshake(server, "/echo?kind=async")
    with sock:
        message = b"x" * (MAX_DEFLATED_SEND + 1)
        sock.sendall(client_frame(deflated(message), compressed=True, opcode=0x2))
        opcode, compressed, payload = read_frame(sock)
        assert opcode == 0x2 and not compressed and payload == message


@pytest.mark.parametrize("kind", KINDS)
def test_a_deflate_bomb_is_closed_with_1009(server: Server, kind: str) -> None:
    sock, _ = handshake(server, f"/echo?kind={kind}")
    with sock:
        bomb = deflated(b"\0" * (MAX_MESSAGE * 20))
        assert len(bomb) < MAX_MESSAGE // 10
        sock.sendall(client_frame(bomb, compressed=True, opcode=0x2))
        while True:
            opcode, _, payload = read_frame(sock)
            if opcode == 0x8:
                break
        assert struct.unpack("!H", payload[:2])[0] == 1009


def test_without_an_offer_no_extension_is_used(server: Server) -> None:
    sock, head = handshake(server, "/echo?kind=async", offer=None)
    with sock:
        assert "sec-websocket-extensions" not in head.lower()


def test_without_ws_deflate_the_offer_is_declined(plain_server: Server) -> None:
    sock, head = handshake(plain_server, "/echo?kind=async")
    with sock:
        assert "sec-websocket-extensions" not in head.lower()
        sock.sendall(client_frame(b"hello", compressed=False))
        assert read_frame(sock) == (0x1, False, b"hello")


def test_the_server_window_is_krait_s_or_the_smaller_one_asked_for() -> None:
    assert server_window_bits(0) == WINDOW_BITS
    assert server_window_bits(15) == WINDOW_BITS
    assert server_window_bits(9) == 9


def test_the_acceptor_takes_the_first_deflate_offer_with_krait_s_bounds() -> None:
    offer = PerMessageDeflateOffer(request_max_window_bits=10)
    accept = DeflateAcceptor(MAX_MESSAGE)([offer])
    assert accept.window_bits == 10 and accept.mem_level == MEM_LEVEL
    assert accept.max_message_size == MAX_MESSAGE
    assert DeflateAcceptor(MAX_MESSAGE)([]) is None


def test_the_factory_accepts_deflate_only_when_the_setting_is_on() -> None:
    on = make_factory(MemoryReactor(), WebsocketsSettings(deflate=True, max_message_size=5))
    assert isinstance(on.perMessageCompressionAccept, DeflateAcceptor)
    assert on.perMessageCompressionAccept.max_message_size == 5
    off = make_factory(MemoryReactor(), WebsocketsSettings())
    assert off.perMessageCompressionAccept([PerMessageDeflateOffer()]) is None
