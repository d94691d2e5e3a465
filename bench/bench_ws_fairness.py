"""WebSocket fairness: how much one flooding client slows another client's echo.

    python bench/bench_ws_fairness.py [--seconds 3] [--rounds 3] [--size 1] [--interval 10]
    python bench/bench_ws_fairness.py ws://127.0.0.1:8080/echo ...   # servers already running

Without URLs it starts the servers of ``bench_websockets.py`` on 127.0.0.1, pinned to CPU 0
(krait's threaded and async echo, Autobahn's echo and the bare thread bridge as anchors); the
clients run on CPU 1. For each URL, one client (the victim) sends a small text message every
``--interval`` milliseconds for ``--seconds`` seconds and times the echo: once alone
("quiet"), and once while a second client (the flooder, a raw socket in a process of its
own) sends masked ``--size``-byte text frames as fast as the server takes them, reading and
throwing away the echoes. It prints the victim's p50/p99 round-trip time both ways; the
echoes per second the flooder got back, so that a server which is fair only by starving the
flooder shows too; and the server's CPU time per echo to the flooder, what fairness costs
(less disturbed than a rate by other load on the machine). Each round is printed as it ends;
the table shows, for each server, the median of ``--rounds`` rounds by flooded p50 (not the
best: a round in which the flood did not get going would look best). "inf" means that the
victim could not even open its connection within 10 seconds of flooding.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from urllib.parse import urlsplit

from bench_websockets import (
    HANDSHAKE_KEY,
    OPCODE_TEXT,
    Target,
    close_connection,
    cpu_seconds,
    frame_header,
    measure_servers,
    open_connection,
)

FLOOD_BLOCK_BYTES = 64 * 1024
"""The flooder writes its frames in blocks of about this size (one ``sendall`` each)."""


@dataclass
class FairnessResult:
    quiet_p50_ms: float
    quiet_p99_ms: float
    flood_p50_ms: float
    flood_p99_ms: float
    flood_echoes_per_second: float
    flood_cpu_us: float | None

    def cpu(self) -> str:
        return "-" if self.flood_cpu_us is None else f"{self.flood_cpu_us:.1f}"

    def summary(self) -> str:
        return (
            f"quiet {self.quiet_p50_ms:.2f}/{self.quiet_p99_ms:.2f} ms, flooded "
            f"{self.flood_p50_ms:.2f}/{self.flood_p99_ms:.2f} ms (p50/p99), "
            f"{self.flood_echoes_per_second:.0f} flood echoes/s, {self.cpu()} us CPU each"
        )


def upgrade_socket(url: str) -> socket.socket:
    """A blocking socket on which the WebSocket handshake for ``url`` succeeded."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(
        (
            f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {HANDSHAKE_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"handshake answered {head[:40]!r}")
    return sock


def flood(url: str, seconds: float, size: int, started: Event, echoes: Synchronized[int]) -> None:
    """Send tiny frames for ``seconds``; count the bytes of echoes (runs in its own process)."""
    sock = upgrade_socket(url)
    sock.settimeout(None)
    frame = frame_header(OPCODE_TEXT, size) + b"f" * size
    block = frame * (FLOOD_BLOCK_BYTES // len(frame))
    received = 0
    done = threading.Event()

    def drain() -> None:
        nonlocal received
        try:
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        except OSError:
            pass
        done.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started.set()
    until = time.monotonic() + seconds
    try:
        while time.monotonic() < until:
            sock.sendall(block)
    except OSError:
        pass
    echoes.value = received // (2 + size)
    sock.close()


async def victim_times(url: str, seconds: float, interval: float) -> list[float]:
    """Round-trip times of echoes of a short message, one every ``interval`` seconds.

    Paced rather than back to back: a victim that sends again at once takes thousands of
    samples while the server is idle and one while it is stuck, which hides the stalls.
    """
    client = await open_connection(url)
    clock = time.perf_counter
    times: list[float] = []
    try:
        until = clock() + seconds
        while (start := clock()) < until:
            client.send(b"victim")
            await client.receive()
            times.append(clock() - start)
            await asyncio.sleep(max(0.0, start + interval - clock()))
    finally:
        close_connection(client)
    times.sort()
    return times


def percentile(times: list[float], fraction: float) -> float:
    return times[min(len(times) - 1, int(len(times) * fraction))] * 1000


async def measure(target: Target, seconds: float, size: int, interval: float) -> FairnessResult:
    url = target.url
    quiet = await victim_times(url, seconds, interval)
    started = multiprocessing.Event()
    echoes = multiprocessing.Value("q", 0)
    flooder = multiprocessing.Process(
        target=flood, args=(url, seconds + 1.0, size, started, echoes), daemon=True
    )
    flooder.start()
    try:
        if not await asyncio.to_thread(started.wait, 10):
            raise RuntimeError("the flooder did not start")
        cpu_before = cpu_seconds(target.pid)
        await asyncio.sleep(0.3)  # let the flood fill the pipes first
        try:
            flooded = await victim_times(url, seconds, interval)
        except TimeoutError:  # not even the handshake got through: a stuck server
            flooded = [math.inf]
    finally:
        await asyncio.to_thread(flooder.join, seconds + 15)
        if flooder.is_alive():
            flooder.kill()
    cpu_after = cpu_seconds(target.pid)
    cpu_us = None
    if cpu_before is not None and cpu_after is not None and echoes.value:
        cpu_us = (cpu_after - cpu_before) / echoes.value * 1e6
    return FairnessResult(
        quiet_p50_ms=percentile(quiet, 0.5),
        quiet_p99_ms=percentile(quiet, 0.99),
        flood_p50_ms=percentile(flooded, 0.5),
        flood_p99_ms=percentile(flooded, 0.99),
        flood_echoes_per_second=echoes.value / (seconds + 1.0),
        flood_cpu_us=cpu_us,
    )


def print_table(targets: list[Target], results: dict[str, FairnessResult]) -> None:
    print(
        f"\n{'victim echo':<16} {'quiet p50':>10} {'quiet p99':>10} {'flood p50':>10}"
        f" {'flood p99':>10} {'flooder echoes/s':>17} {'server CPU us/echo':>19}"
    )
    for target in targets:
        result = results[target.name]
        print(
            f"{target.name:<16} {result.quiet_p50_ms:>10.2f} {result.quiet_p99_ms:>10.2f}"
            f" {result.flood_p50_ms:>10.2f} {result.flood_p99_ms:>10.2f}"
            f" {result.flood_echoes_per_second:>17.0f} {result.cpu():>19}"
        )
    print(
        "(victim round trips in milliseconds; the flooder's echoes per second count what it got"
        " back, and the server's CPU time is per echo to the flooder)"
    )


async def run(targets: list[Target], args: argparse.Namespace) -> None:
    rounds: dict[str, list[FairnessResult]] = {target.name: [] for target in targets}
    for round_number in range(1, args.rounds + 1):
        for target in targets:
            result = await measure(target, args.seconds, args.size, args.interval / 1000)
            rounds[target.name].append(result)
            print(
                f"round {round_number}: {target.name} ({target.url}): {result.summary()}",
                flush=True,
            )
    medians = {
        name: sorted(results, key=lambda result: result.flood_p50_ms)[len(results) // 2]
        for name, results in rounds.items()
    }
    print_table(targets, medians)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("urls", nargs="*", help="echo servers to measure instead of starting any")
    parser.add_argument("--seconds", type=float, default=3.0, help="victim seconds per run")
    parser.add_argument("--size", type=int, default=1, help="payload bytes of a flood frame")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="milliseconds between victim echoes"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server; median counts")
    measure_servers(run, parser.parse_args(), "krait-bench-wsfair-")


if __name__ == "__main__":
    main()
