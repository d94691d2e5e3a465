"""What ``--ws-deflate`` costs in memory: krait's RSS holding WebSocket connections, with and
without permessage-deflate, one run.

For each mode a fresh krait serves the async echo of ``bench_websockets``; ``--count``
clients connect (all offering ``permessage-deflate; client_max_window_bits``, as browsers
do) and stay idle, then each sends one JSON message of ``--size`` bytes (compressed when
deflate was agreed) and reads the echo, and stays open. A small message touches a little of
zlib's buffers; a message of 64 KiB or so touches all of them, which is the worst case. The
table shows the RSS growth per connection over the server's RSS before the first
connection, idle and after one message each (when the compressor and inflater exist).

    python bench/bench_ws_deflate.py [--count 1000] [--size 300]
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

from _common import free_port, rss_mib, start_krait, stop_process, wait_for
from bench_websockets import write_site

OFFER = "permessage-deflate; client_max_window_bits"


def json_message(size: int) -> bytes:
    """A JSON-like text of ``size`` bytes that compresses as chat traffic does (about 3:1)."""
    rows = (f'{{"user": "u{i * 7919 % 1000}", "seq": {i * 104729 % 99991}}}, ' for i in range(size))
    return "".join(rows).encode()[:size]


def connect(port: int) -> tuple[socket.socket, bool]:
    """A socket past the 101, and whether permessage-deflate was agreed."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"GET /async-echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {OFFER}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    if not head.startswith(b"HTTP/1.1 101 "):
        raise RuntimeError(f"upgrade refused: {head!r}")
    return sock, b"permessage-deflate" in head.lower()


def echo_once(sock: socket.socket, deflate: bool, message: bytes) -> None:
    """Send ``message`` (compressed when agreed) and read one frame back."""
    payload = message
    first = 0x81
    if deflate:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        first |= 0x40
    mask = b"\x01\x02\x03\x04"
    key = (mask * (len(payload) // 4 + 1))[: len(payload)]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(len(payload))
    if len(payload) < 126:
        head = bytes([first, 0x80 | len(payload)])
    else:
        head = bytes([first, 0x80 | 126]) + struct.pack("!H", len(payload))
    sock.sendall(head + mask + masked)
    first_byte, answer = _read_frame(sock)
    while first_byte & 0x0F == 0x9:  # the server's keep-alive ping: not the echo
        first_byte, answer = _read_frame(sock)
    if first_byte & 0x40:
        answer = zlib.decompressobj(-15).decompress(answer + b"\x00\x00\xff\xff")
    if first_byte & 0x0F != 0x1 or answer != message:
        raise RuntimeError(f"the echo did not come back: opcode {first_byte & 0x0F}")


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """A server frame's first byte and payload."""
    first_byte, second = _read(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read(sock, 2))[0]
    return first_byte, _read(sock, length)


def _read(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def measure(port: int, pid: int, count: int, message: bytes) -> tuple[float, float, bool]:
    """RSS growth per connection in KiB: idle, then after one message each."""
    time.sleep(1)
    base = rss_mib(pid) or 0.0
    sockets = [connect(port) for _ in range(count)]
    time.sleep(1)
    idle = rss_mib(pid) or 0.0
    for sock, deflate in sockets:
        echo_once(sock, deflate, message)
    time.sleep(1)
    used = rss_mib(pid) or 0.0
    agreed = all(deflate for _, deflate in sockets)
    for sock, _ in sockets:
        sock.close()
    return (idle - base) * 1024 / count, (used - base) * 1024 / count, agreed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=300, help="message bytes (under 64 KiB)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        site = write_site(Path(tmp) / "site")
        for label, options in (("off", ()), ("--ws-deflate", ("--ws-deflate",))):
            port = free_port()
            proc = start_krait(site, port, "--no-access-log", *options)
            try:
                wait_for(port, proc)
                idle, used, agreed = measure(port, proc.pid, args.count, json_message(args.size))
            finally:
                stop_process(proc)
            rows.append((label, idle, used, agreed))
    print(f"{args.count} WebSocket connections, {args.size}-byte messages")
    print("krait's RSS growth per connection (KiB)")
    print(f"{'deflate':<14} {'agreed':<7} {'idle':>7} {'after 1 msg':>12}")
    for label, idle, used, agreed in rows:
        print(f"{label:<14} {'yes' if agreed else 'no':<7} {idle:>7.1f} {used:>12.1f}")
    print(f"deflate costs {rows[1][2] - rows[0][2]:.1f} KiB more per connection after a message")
    if not rows[1][3] or rows[0][3]:
        sys.exit("bench_ws_deflate: deflate was not agreed as expected")


if __name__ == "__main__":
    main()
