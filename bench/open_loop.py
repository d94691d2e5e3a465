"""An open-loop HTTP load generator: requests at a fixed rate, latency from when each was due.

wrk keeps its connections busy (closed loop): a slow answer delays the next request, so the
latencies it reports under saturation hide the queueing a real client would see. Here every
request has a due time (``start + i / rate``) and its latency is counted from that time, so a
server that falls behind shows it (no coordinated omission). Requests go out on a fixed set of
keep-alive connections; one waits for a free connection when all are busy.

    python bench/open_loop.py URL --rate 2000 [--seconds 5] [--connections 32]

Prints the rate reached and the latency percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Latencies:
    """What one open-loop run measured."""

    sent: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        """Answers per second over the whole run."""
        return self.sent / self.seconds


async def _read_response(reader: asyncio.StreamReader) -> None:
    """Read one response with a Content-Length body (all the benchmark pages have one)."""
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the server answered {head.splitlines()[0]!r}")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)


async def _connection(
    host: str, port: int, request: bytes, due: asyncio.Queue[float | None], out: list[float]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (due_at := await due.get()) is not None:
            writer.write(request)
            await _read_response(reader)
            out.append(time.perf_counter() - due_at)
    finally:
        writer.close()


async def open_loop(url: str, rate: float, seconds: float, connections: int = 32) -> Latencies:
    """Send GETs for ``url`` at ``rate`` per second for ``seconds``; measure each latency.

    Args:
        url: an ``http://host:port/path`` URL.
        rate: requests per second.
        seconds: how long to send.
        connections: keep-alive connections to send on.

    Returns:
        The latencies, counted from each request's due time.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    due: asyncio.Queue[float | None] = asyncio.Queue()
    latencies: list[float] = []
    tasks = [
        asyncio.create_task(_connection(host, port, request, due, latencies))
        for _ in range(connections)
    ]
    start = time.perf_counter()
    for number in range(int(rate * seconds)):
        due_at = start + number / rate
        if (wait := due_at - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        due.put_nowait(due_at)
    for _ in tasks:
        due.put_nowait(None)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def percentile(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000

    return Latencies(
        len(latencies), elapsed, percentile(0.5), percentile(0.99), latencies[-1] * 1000
    )


def main() -> None:
    """Parses the command line, runs once and prints the percentiles."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(open_loop(args.url, args.rate, args.seconds, args.connections))
    print(
        f"{result.rate:.0f} req/s: p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
        f"max {result.max_ms:.2f} ms"
    )


if __name__ == "__main__":
    main()
