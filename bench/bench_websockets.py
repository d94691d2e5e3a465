"""WebSockets: krait's threaded and async controllers beside a plain Autobahn echo server.

    python bench/bench_websockets.py [--seconds 5] [--connections 16] [--size 64] [--hold 1000]
    python bench/bench_websockets.py ws://127.0.0.1:8080/echo ...   # servers already running

Without URLs it starts on 127.0.0.1, pinned to CPU 0 (this client runs on CPU 1): one krait
serving a threaded echo (``/echo``, a ``WebsocketsCtrlBase`` thread per connection) and an
async echo (``/async-echo``, a ``WebsocketsAsyncCtrlBase``), and ``bench/ws_echo_anchor.py``
twice: a bare Autobahn echo (the anchor) and a bare queue -> thread -> ``callFromThread``
bridge on Autobahn (what a threaded controller costs at the least, done naively). For each
URL it measures:

- echo: ``--connections`` clients doing round trips of a ``--size`` byte text message for
  ``--seconds`` seconds after a one-second warm-up; messages per second and the p50/p99
  round-trip time, with the ratio to Autobahn's messages per second; and the server's CPU
  time per message (less disturbed by other load on the machine), with Autobahn's divided by
  it (above 1x: krait spends less). The servers take turns for ``--rounds`` rounds and each
  one's best round is shown, which filters out moments when something else took the CPU;
- hold (async echo and Autobahn): ``--hold`` connections opened, each echoing once, held open
  for two seconds, then all echoing at once; the server's RSS while holding them.

The client is asyncio with its own minimal framing, so it costs the same for every server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import free_port, pinned, rss_mib, wait_for

REPO = Path(__file__).resolve().parent.parent
HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
OPCODE_TEXT, OPCODE_CLOSE, OPCODE_PING = 0x1, 0x8, 0x9

SITE_INIT = """\
import krait
from krait.config import Route

krait.config.routes = [
    Route("WEBSOCKET", url="/echo", target="echo.py"),
    Route("WEBSOCKET", url="/async-echo", target="echo.py"),
]
"""
SITE_CTRLS = """\
from krait.websockets import WebsocketsAsyncCtrlBase, WebsocketsCtrlBase


class ThreadedEcho(WebsocketsCtrlBase):
    def on_thread_start(self):
        while not self.should_stop():
            message = self.pop_in_message(timeout=1.0)
            if message is not None:
                self.push_out_message(message)


class AsyncEcho(WebsocketsAsyncCtrlBase):
    def on_message(self, message):
        self.send(message)
"""
SITE_ECHO = """\
import bench_ctrls

ctrl = bench_ctrls.AsyncEcho() if krait.request.url == "/async-echo" else bench_ctrls.ThreadedEcho()
krait.websockets.response = krait.websockets.WebsocketsResponse(ctrl)
"""


@dataclass
class Target:
    """A server to measure: its name, URL and process id (None when not started here)."""

    name: str
    url: str
    pid: int | None = None
    hold: bool = True


@dataclass
class EchoResult:
    messages_per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_us: float | None


@dataclass
class HoldResult:
    connections: int
    open_seconds: float
    echo_all_seconds: float
    rss_mib: float | None


class ClientConnection(asyncio.Protocol):
    """One client connection: sends the handshake, then collects whole server messages."""

    def __init__(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.upgraded: asyncio.Future[None] = loop.create_future()
        self.buffer = bytearray()
        self.messages: list[bytes] = []
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[:12])
            del self.buffer[: end + 4]
            if status != b"HTTP/1.1 101":
                self.upgraded.set_exception(RuntimeError(f"handshake answered {status!r}"))
                return
            self.upgraded.set_result(None)
        while (frame := self._pop_frame()) is not None:
            opcode, payload = frame
            if opcode == OPCODE_PING:
                self.send(payload, opcode=0xA)
            elif opcode == OPCODE_CLOSE:
                self._deliver_error(ConnectionError("the server closed the connection"))
            else:
                self._deliver(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deliver_error(ConnectionError("connection lost"))

    def send(self, payload: bytes, opcode: int = OPCODE_TEXT) -> None:
        """Send one masked frame; the all-zero mask leaves the payload unchanged."""
        assert self.transport is not None
        self.transport.write(frame_header(opcode, len(payload)) + payload)

    async def receive(self) -> bytes:
        if self.messages:
            return self.messages.pop(0)
        self.waiter = asyncio.get_running_loop().create_future()
        return await self.waiter

    def _deliver(self, payload: bytes) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(payload)
            self.waiter = None
        else:
            self.messages.append(payload)

    def _deliver_error(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    def _pop_frame(self) -> tuple[int, bytes] | None:
        buffer = self.buffer
        if len(buffer) < 2:
            return None
        length, offset = buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, offset = struct.unpack_from("!H", buffer, 2)[0], 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
        if len(buffer) < offset + length:
            return None
        opcode = buffer[0] & 0x0F
        payload = bytes(buffer[offset : offset + length])
        del buffer[: offset + length]
        return opcode, payload


def frame_header(opcode: int, length: int) -> bytes:
    """The header of a final, masked client frame, with a zero masking key."""
    first = 0x80 | opcode
    if length < 126:
        head = struct.pack("!BB", first, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    return head + b"\0\0\0\0"


async def open_connection(
    url: str, protocol: type[ClientConnection] = ClientConnection
) -> ClientConnection:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {HANDSHAKE_KEY}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(lambda: protocol(request), host, port)
    await asyncio.wait_for(connection.upgraded, 10)
    return connection


def close_connection(connection: ClientConnection) -> None:
    if connection.transport is not None and not connection.transport.is_closing():
        connection.send(struct.pack("!H", 1000), opcode=OPCODE_CLOSE)
        connection.transport.close()


async def echo_loop(
    connection: ClientConnection, payload: bytes, until: float, times: list[float] | None
) -> None:
    clock = time.perf_counter
    while (start := clock()) < until:
        connection.send(payload)
        await connection.receive()
        if times is not None:
            times.append(clock() - start)


async def measure_echo(
    url: str, connections: int, size: int, seconds: float, pid: int | None
) -> EchoResult:
    clients = [await open_connection(url) for _ in range(connections)]
    payload = b"x" * size
    try:
        warm_until = time.perf_counter() + 1.0
        await asyncio.gather(*(echo_loop(c, payload, warm_until, None) for c in clients))
        times: list[float] = []
        cpu_before = cpu_seconds(pid)
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(*(echo_loop(c, payload, until, times) for c in clients))
        elapsed = time.perf_counter() - start
        cpu_after = cpu_seconds(pid)
    finally:
        for client in clients:
            close_connection(client)
    times.sort()
    cpu_us = None
    if cpu_before is not None and cpu_after is not None:
        cpu_us = (cpu_after - cpu_before) / len(times) * 1e6
    return EchoResult(
        messages_per_second=len(times) / elapsed,
        p50_ms=times[len(times) // 2] * 1000,
        p99_ms=times[int(len(times) * 0.99)] * 1000,
        server_cpu_us=cpu_us,
    )


async def measure_hold(url: str, count: int, pid: int | None) -> HoldResult:
    opening = asyncio.Semaphore(64)  # the listen backlog is finite: open in waves

    async def open_and_echo(number: int) -> ClientConnection:
        async with opening:
            client = await open_connection(url)
        client.send(b"hello %d" % number)
        if await client.receive() != b"hello %d" % number:
            raise RuntimeError("wrong echo")
        return client

    start = time.perf_counter()
    clients = await asyncio.gather(*(open_and_echo(n) for n in range(count)))
    open_seconds = time.perf_counter() - start
    try:
        await asyncio.sleep(2.0)
        rss = rss_mib(pid) if pid is not None else None
        start = time.perf_counter()
        for client in clients:
            client.send(b"again")
        replies = await asyncio.gather(*(client.receive() for client in clients))
        echo_all = time.perf_counter() - start
        if any(reply != b"again" for reply in replies):
            raise RuntimeError("wrong echo while holding")
    finally:
        for client in clients:
            close_connection(client)
    return HoldResult(count, open_seconds, echo_all, rss)


def cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) the process has used so far."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_site(root: Path) -> Path:
    (root / ".py").mkdir(parents=True)
    (root / ".py" / "init.py").write_text(SITE_INIT)
    (root / ".py" / "bench_ctrls.py").write_text(SITE_CTRLS)
    (root / "echo.py").write_text(SITE_ECHO)
    return root


def start_servers(workdir: Path) -> tuple[list[subprocess.Popen[bytes]], list[Target]]:
    """Start krait and the Autobahn anchor; return the processes and what to measure."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    krait_port, anchor_port, bridge_port = free_port(), free_port(), free_port()
    site = write_site(workdir / "site")
    krait = subprocess.Popen(
        pinned(
            [
                sys.executable,
                "-m",
                "krait",
                str(site),
                "--listen",
                f"tcp:{krait_port}:interface=127.0.0.1:backlog=1024",
                "--no-access-log",
            ],
            "0",
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "krait.log", "wb"),  # noqa: SIM115
    )
    anchor = subprocess.Popen(
        pinned([sys.executable, str(REPO / "bench" / "ws_echo_anchor.py"), str(anchor_port)], "0"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "anchor.log", "wb"),  # noqa: SIM115
    )
    bridge = subprocess.Popen(
        pinned(
            [
                sys.executable,
                str(REPO / "bench" / "ws_echo_anchor.py"),
                str(bridge_port),
                "--bridge",
            ],
            "0",
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "bridge.log", "wb"),  # noqa: SIM115
    )
    processes = [krait, anchor, bridge]
    try:
        wait_for(krait_port, krait)
        wait_for(anchor_port, anchor)
        wait_for(bridge_port, bridge)
    except RuntimeError:
        stop(processes)
        raise
    base = f"ws://127.0.0.1:{krait_port}"
    targets = [
        Target("autobahn", f"ws://127.0.0.1:{anchor_port}/", anchor.pid),
        Target("krait async", f"{base}/async-echo", krait.pid),
        Target("krait threaded", f"{base}/echo", krait.pid, hold=False),
        Target("bare bridge", f"ws://127.0.0.1:{bridge_port}/", bridge.pid, hold=False),
    ]
    return processes, targets


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def print_tables(
    targets: list[Target], echoes: dict[str, EchoResult], holds: dict[str, HoldResult]
) -> None:
    anchor = echoes.get("autobahn")
    print(
        f"\n{'echo':<16} {'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs autobahn':>12}"
        f" {'server CPU us/msg':>18} {'CPU vs autobahn':>16}"
    )
    for target in targets:
        echo = echoes[target.name]
        ratio = cpu_ratio = "-"
        if anchor is not None:
            ratio = f"{echo.messages_per_second / anchor.messages_per_second:.2f}x"
            if anchor.server_cpu_us and echo.server_cpu_us:
                cpu_ratio = f"{anchor.server_cpu_us / echo.server_cpu_us:.2f}x"
        cpu = f"{echo.server_cpu_us:.1f}" if echo.server_cpu_us is not None else "-"
        print(
            f"{target.name:<16} {echo.messages_per_second:>9.0f} {echo.p50_ms:>8.2f} "
            f"{echo.p99_ms:>8.2f} {ratio:>12} {cpu:>18} {cpu_ratio:>16}"
        )
    if not holds:
        return
    print(f"\n{'hold':<16} {'conns':>6} {'open s':>8} {'echo all s':>11} {'RSS MiB':>8}")
    for name, hold in holds.items():
        rss = f"{hold.rss_mib:.0f}" if hold.rss_mib is not None else "-"
        print(
            f"{name:<16} {hold.connections:>6} {hold.open_seconds:>8.2f} "
            f"{hold.echo_all_seconds:>11.3f} {rss:>8}"
        )


def measure_servers(
    measure: Callable[[list[Target], argparse.Namespace], Coroutine[Any, Any, None]],
    args: argparse.Namespace,
    prefix: str,
) -> None:
    """Run ``measure`` from CPU 1, against ``args.urls`` or the servers it starts (and stops)."""
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})
    if args.urls:
        asyncio.run(measure([Target(url, url) for url in args.urls], args))
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        processes, targets = start_servers(Path(workdir))
        try:
            asyncio.run(measure(targets, args))
        finally:
            stop(processes)


async def run(targets: list[Target], args: argparse.Namespace) -> None:
    echoes: dict[str, EchoResult] = {}
    holds: dict[str, HoldResult] = {}
    for round_number in range(1, args.rounds + 1):
        for target in targets:
            print(f"echo, round {round_number}: {target.name} ({target.url}) ...", flush=True)
            result = await measure_echo(
                target.url, args.connections, args.size, args.seconds, target.pid
            )
            best = echoes.get(target.name)
            if best is None or result.messages_per_second > best.messages_per_second:
                echoes[target.name] = result
    for target in targets:
        if target.hold and args.hold > 0:
            print(f"hold: {target.name} ({args.hold} connections) ...", flush=True)
            holds[target.name] = await measure_hold(target.url, args.hold, target.pid)
    print_tables(targets, echoes, holds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("urls", nargs="*", help="echo servers to measure instead of starting any")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per server")
    parser.add_argument("--connections", type=int, default=16, help="echoing connections")
    parser.add_argument("--size", type=int, default=64, help="message size in bytes")
    parser.add_argument("--hold", type=int, default=1000, help="connections for the hold check")
    parser.add_argument(
        "--rounds", type=int, default=3, help="echo rounds per server, interleaved; best counts"
    )
    measure_servers(run, parser.parse_args(), "krait-bench-ws-")


if __name__ == "__main__":
    main()
