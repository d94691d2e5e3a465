"""Large files are streamed with back-pressure: flat memory, exact bytes, no leaked descriptors.

The files are sparse (``truncate``), so a gibibyte costs no disk; a few stretches of random
bytes at known offsets make the content checkable. The server's memory and open descriptors
are read from ``/proc/<pid>``.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import Server, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc"),
]

GIB = 1 << 30
MID = 200 << 20
MIB = 1 << 20
RSS_GROWTH_LIMIT = 50 * MIB

# Stretches of random bytes written into the sparse files, some across the server's 256 KiB
# read chunks, one at each end.
_random = random.Random(20240601)
PATCHES = {
    offset: _random.randbytes(4096)
    for offset in (0, 256 * 1024 - 100, 3 * MIB + 17, 100 * MIB - 2048, MID - 4096)
}


def make_sparse_file(path: Path, size: int) -> None:
    with open(path, "wb") as file:
        file.truncate(size)
        for offset, data in PATCHES.items():
            if offset + len(data) <= size:
                file.seek(offset)
                file.write(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("large") / "site"
    site.mkdir()
    make_sparse_file(site / "big.bin", GIB)
    make_sparse_file(site / "mid.bin", MID)
    (site / "small.txt").write_text("still here\n")
    return site


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    running = start_server(site, site.parent / "logs", "--no-access-log")
    yield running
    running.stop()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc status")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def start_download(server: Server, path: str, rcvbuf: int | None = None) -> socket.socket:
    """Connect, ask for ``path`` and read the response head; return the socket at the body."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200 ")
    return sock


def warm_up(server: Server) -> None:
    """Serve a few requests first, so that lazily opened files and caches count as baseline.

    The server closes each connection (``Connection: close``) before the client sees EOF, so
    no warm-up socket is still open on the server's side afterwards.
    """
    for path in ("/small.txt", "/mid.bin"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            request = f"GET {path} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n"
            sock.sendall(request.encode() + b"Connection: close\r\n\r\n")
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
            assert answer.startswith(b"HTTP/1.1 206 ")


def settled_fds(pid: int) -> int:
    """The server's open descriptors, once the count has stopped moving (for at most 5 s)."""
    counts = [open_fds(pid)]
    deadline = time.monotonic() + 5.0
    while (len(counts) < 5 or len(set(counts[-5:])) > 1) and time.monotonic() < deadline:
        time.sleep(0.02)
        counts.append(open_fds(pid))
    return counts[-1]


def test_slow_client_does_not_make_the_server_buffer_the_file(server: Server) -> None:
    """A client reading 64 KiB every 50 ms for 3 s: the server must not read ahead into memory."""
    pid = server.process.pid
    warm_up(server)
    baseline = rss_bytes(pid)
    peak = baseline
    received = 0
    with start_download(server, "/big.bin", rcvbuf=16 * 1024) as sock:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            chunk = sock.recv(64 * 1024)
            assert chunk, "the server closed the connection mid-download"
            received += len(chunk)
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.05)
    assert 0 < received < GIB // 4, "the client was meant to be slow"
    assert peak - baseline < RSS_GROWTH_LIMIT


def test_fast_client_gets_every_byte_with_flat_memory(server: Server, site: Path) -> None:
    pid = server.process.pid
    warm_up(server)
    baseline = rss_bytes(pid)
    peak = baseline
    expected = hashlib.sha256()
    with open(site / "mid.bin", "rb") as file:
        while block := file.read(8 * MIB):
            expected.update(block)
    digest = hashlib.sha256()
    length = 0
    with requests.get(server.url + "/mid.bin", stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(MID)
        for index, chunk in enumerate(response.iter_content(MIB)):
            digest.update(chunk)
            length += len(chunk)
            if index % 16 == 0:
                peak = max(peak, rss_bytes(pid))
    assert length == MID
    assert digest.hexdigest() == expected.hexdigest()
    assert peak - baseline < RSS_GROWTH_LIMIT


@pytest.mark.parametrize("offset", sorted(PATCHES))
def test_ranges_deep_in_a_large_file_are_exact(server: Server, offset: int) -> None:
    data = PATCHES[offset]
    start, end = offset - 10 if offset else 0, offset + len(data) + 9
    end = min(end, MID - 1)
    response = requests.get(
        server.url + "/mid.bin", headers={"Range": f"bytes={start}-{end}"}, timeout=10
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{MID}"
    body = response.content
    assert len(body) == end - start + 1
    assert body[offset - start : offset - start + len(data)] == data[: end - offset + 1]


def test_range_near_the_end_of_a_gibibyte(server: Server) -> None:
    response = requests.get(
        server.url + "/big.bin", headers={"Range": f"bytes={GIB - 5}-"}, timeout=10
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {GIB - 5}-{GIB - 1}/{GIB}"
    assert response.content == b"\x00" * 5


def test_aborted_downloads_close_their_files_and_the_server_stays_healthy(
    server: Server,
) -> None:
    pid = server.process.pid
    warm_up(server)
    baseline = settled_fds(pid)
    sockets = [start_download(server, "/mid.bin", rcvbuf=32 * 1024) for _ in range(6)]
    for sock in sockets:
        sock.recv(64 * 1024)
    # While paused mid-body, each download holds its socket and its file open.
    assert open_fds(pid) >= baseline + 2 * len(sockets)
    for index, sock in enumerate(sockets):
        if index % 2:
            # Abort with a reset rather than an orderly close.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    deadline = time.monotonic() + 10.0
    while open_fds(pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_fds(pid) <= baseline
    assert server.process.poll() is None
    response = requests.get(server.url + "/mid.bin", headers={"Range": "bytes=0-9"}, timeout=10)
    assert response.status_code == 206
    assert response.content == PATCHES[0][:10]


def test_file_that_shrinks_mid_download_ends_the_connection(server: Server, site: Path) -> None:
    """The promised Content-Length cannot be kept, so the server closes instead of hanging."""
    shrinking = site / "shrinking.bin"
    make_sparse_file(shrinking, 64 * MIB)
    received = 0
    with start_download(server, "/shrinking.bin", rcvbuf=32 * 1024) as sock:
        received += len(sock.recv(64 * 1024))
        os.truncate(shrinking, MIB)
        while chunk := sock.recv(MIB):
            received += len(chunk)
    assert received < 64 * MIB
    response = requests.get(server.url + "/small.txt", timeout=10)
    assert response.text == "still here\n"
