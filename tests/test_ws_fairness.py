"""One flooding WebSocket client does not slow the others (a real server on 127.0.0.1).

A raw socket sends masked 1-byte text frames as fast as the server takes them (and reads and
throws away the echoes, so that the server keeps reading), while a second client times echo
round trips, one every few milliseconds. Before the read budget, each 64 KiB read of such
frames held the reactor for hundreds of milliseconds. The bounds are coarse on purpose: they
hold on a loaded machine, and the old code missed them by an order of magnitude.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest
import websocket
from conftest import Server, start_server
from ws_site import echo_site

ROUND_TRIPS = 100
PACE = 0.01
"""Seconds between the victim's sends: paced, so that samples spread over the flood."""
FLOOD_LIMIT = 10.0
"""The flood stops after this many seconds whatever happens."""
FLOOD_FRAME = bytes([0x81, 0x81]) + b"\0\0\0\0" + b"f"  # masked with a zero key
HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    site = echo_site(tmp_path_factory.mktemp("ws_site"))
    running = start_server(site, tmp_path_factory.mktemp("ws_logs"), "--no-access-log")
    yield running
    running.stop()


class Flooder:
    """A raw WebSocket client sending tiny frames from one thread and reading in another."""

    def __init__(self, server: Server, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.sock.sendall(HANDSHAKE.format(path=path, port=server.port).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 "), head
        self.echoed_bytes = len(head.split(b"\r\n\r\n", 1)[1])
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, daemon=True),
            threading.Thread(target=self._read, daemon=True),
        ]

    def __enter__(self) -> Flooder:
        for thread in self.threads:
            thread.start()
        time.sleep(0.3)  # until the server is busy with the flood
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.sock.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(10)
        self.sock.close()

    @property
    def echoes(self) -> int:
        return self.echoed_bytes // 3  # an unmasked 1-byte text frame

    def _send(self) -> None:
        block = FLOOD_FRAME * (65536 // len(FLOOD_FRAME))
        deadline = time.monotonic() + FLOOD_LIMIT
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                self.sock.sendall(block)
        except OSError:
            pass

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(1 << 20):
                self.echoed_bytes += len(chunk)
        except OSError:
            pass


def round_trips(server: Server, path: str) -> list[float]:
    """Milliseconds per echo of ROUND_TRIPS short messages, sent every PACE seconds."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}{path}", timeout=10)
    times = []
    try:
        for number in range(ROUND_TRIPS):
            start = time.perf_counter()
            ws.send(f"victim {number}")
            assert ws.recv() == f"victim {number}"
            elapsed = time.perf_counter() - start
            times.append(elapsed * 1000)
            time.sleep(max(0.0, PACE - elapsed))
    finally:
        ws.close()
    return sorted(times)


@pytest.mark.parametrize("kind", ["async", "queue", "event"])
def test_a_flooding_client_barely_slows_another_clients_echo(server: Server, kind: str) -> None:
    path = f"/echo?kind={kind}"
    with Flooder(server, path) as flooder:
        flooded = round_trips(server, path)
        echoed_meanwhile = flooder.echoes
    p50, p90 = statistics.median(flooded), flooded[int(len(flooded) * 0.9)]
    assert echoed_meanwhile > 1000, "the flooder must be served too, not starved"
    assert p50 < 20, f"victim p50 {p50:.1f} ms under a flood (all: {flooded})"
    assert p90 < 100, f"victim p90 {p90:.1f} ms under a flood (all: {flooded})"
