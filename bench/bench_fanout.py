"""Channel fan-out: one published message to 1,000 WebSocket subscribers, in process and via Redis.

    python bench/bench_fanout.py [--subscribers 1000] [--messages 30] [--interval 0.2]

It starts, on 127.0.0.1, a ``redis-server`` and krait serving a site whose asynchronous
controller subscribes every connection to the channel ``fanout`` (and says which worker
holds it), and whose page ``/publish`` publishes one message stamped with the time it was
published. For each setup below, two client processes (asyncio, minimal framing) open
``--subscribers`` connections between them, then the page is fetched ``--messages`` times,
``--interval`` seconds apart; each subscriber notes when each message arrived. The table
gives, over every (message, subscriber) pair, the p50 and p99 delivery latency (publish call
to arrival at the client), the p99 of the last arrival per message (the whole fan-out), and
how the connections were spread over the workers:

- ``in-process, 1 worker``: the default backend, all subscribers in one process;
- ``Redis, 1 worker``: the same process, its channels through Redis (``--pubsub-url``);
- ``Redis, 2 workers``: ``--workers 2``; the kernel spreads the connections over both, and
  the message published in one worker reaches the other's subscribers through Redis.

The machine has two cores that the servers, Redis and the clients share, so the figures
include the clients' own parsing of 1,000 frames per message: compare the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any, cast

from _common import REPO, free_port, stop_process, wait_for
from bench_websockets import ClientConnection, close_connection, open_connection

SITE_INIT = """\
from krait.config import Route

krait.config.routes = [
    Route("WEBSOCKET", url="/fanout", target="subscribe.py"),
    Route("GET", url="/publish", target="publish.py"),
]
"""
SITE_CTRL = """\
import os

from krait.websockets import WebsocketsAsyncCtrlBase


class Subscriber(WebsocketsAsyncCtrlBase):
    def on_open(self):
        self.subscribe("fanout")
        self.send(f"pid {os.getpid()}")
"""
SITE_SUBSCRIBE = """\
from fanout import Subscriber

krait.websockets.response = krait.websockets.WebsocketsResponse(Subscriber())
"""
SITE_PUBLISH = """\
import time

krait.websockets.publish("fanout", f"{krait.request.query['seq']} {time.time()!r}")
"""


class Subscriber(ClientConnection):
    """Notes the arrival time of every message (the wall clock: the server's is the same)."""

    def __init__(self, request: bytes) -> None:
        super().__init__(request)
        self.arrivals: list[tuple[float, bytes]] = []

    def _deliver(self, payload: bytes) -> None:
        if payload.startswith(b"pid "):
            super()._deliver(payload)
        else:
            self.arrivals.append((time.time(), payload))


async def subscribe_all(url: str, count: int) -> list[Subscriber]:
    subscribers: list[Subscriber] = []
    for start in range(0, count, 50):  # in batches, so that the accept queue never overflows
        batch = [open_connection(url, Subscriber) for _ in range(start, min(count, start + 50))]
        subscribers += [cast(Subscriber, opened) for opened in await asyncio.gather(*batch)]
    return subscribers


def client(url: str, count: int, messages: int, ready: Queue[Any], done: Queue[Any]) -> None:
    """A client process: ``count`` subscribers; reports the workers, then the latencies."""

    async def run() -> None:
        subscribers = await subscribe_all(url, count)
        pids = Counter([(await s.receive()).decode().split()[1] for s in subscribers])
        ready.put(dict(pids))
        deadline = time.monotonic() + messages * 2 + 30
        while time.monotonic() < deadline:
            if all(len(s.arrivals) >= messages for s in subscribers):
                break
            await asyncio.sleep(0.05)
        latencies: dict[int, list[float]] = {}
        for subscriber in subscribers:
            for arrived, payload in subscriber.arrivals:
                seq, published = payload.decode().split()
                latencies.setdefault(int(seq), []).append(arrived - float(published))
            close_connection(subscriber)
        done.put(latencies)

    asyncio.run(run())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(port: int, args: argparse.Namespace) -> tuple[dict[str, float], dict[str, int]]:
    """Subscribe, publish, and gather the latencies of one running setup."""
    context = multiprocessing.get_context("spawn")
    ready: Queue[Any] = context.Queue()
    done: Queue[Any] = context.Queue()
    url = f"ws://127.0.0.1:{port}/fanout"
    halves = [args.subscribers // 2, args.subscribers - args.subscribers // 2]
    clients = [
        context.Process(target=client, args=(url, half, args.messages, ready, done))
        for half in halves
    ]
    for process in clients:
        process.start()
    workers: Counter[str] = Counter()
    for _ in clients:
        workers.update(ready.get(timeout=120))
    time.sleep(1.0)  # let the subscriptions (through Redis: SUBSCRIBE) settle
    for seq in range(args.messages):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/publish?seq={seq}", timeout=10):
            pass
        time.sleep(args.interval)
    by_message: dict[int, list[float]] = {}
    for _ in clients:
        for seq, values in done.get(timeout=120).items():
            by_message.setdefault(seq, []).extend(values)
    for process in clients:
        process.join(30)
    every = [value for values in by_message.values() for value in values]
    expected = args.subscribers * args.messages
    return (
        {
            "p50": percentile(every, 0.5) * 1000,
            "p99": percentile(every, 0.99) * 1000,
            "last_p99": percentile([max(v) for v in by_message.values()], 0.99) * 1000,
            "delivered": len(every) / expected,
        },
        dict(workers),
    )


def write_site(root: Path) -> Path:
    (root / ".py").mkdir(parents=True)
    (root / ".py" / "init.py").write_text(SITE_INIT)
    (root / ".py" / "fanout.py").write_text(SITE_CTRL)
    (root / "subscribe.py").write_text(SITE_SUBSCRIBE)
    (root / "publish.py").write_text(SITE_PUBLISH)
    return root


def start_krait(site: Path, port: int, *options: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "krait", str(site), "--no-access-log"]
    command += ["--listen", f"tcp:{port}:interface=127.0.0.1", *options]
    return subprocess.Popen(
        command, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, stderr=subprocess.PIPE
    )


def wait_until_ready(process: subprocess.Popen[bytes], workers: int) -> None:
    """Read the server's log until every worker (or the single process) serves."""
    assert process.stderr is not None
    needed = workers if workers > 1 else 1
    marker = b"is ready" if workers > 1 else b"serving"
    seen = 0
    while seen < needed:
        line = process.stderr.readline()
        if not line:
            raise RuntimeError("krait exited before it served")
        seen += marker in line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is missing: apt-get install redis-server")
    workdir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    site = write_site(workdir / "site")
    redis_port = free_port()
    redis = subprocess.Popen(
        [
            *("redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"),
            *("--save", "", "--dir", str(workdir)),
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_for(redis_port, redis)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    setups = [
        ("in-process, 1 worker", 1, ()),
        ("Redis, 1 worker", 1, ("--pubsub-url", redis_url)),
        ("Redis, 2 workers", 2, ("--pubsub-url", redis_url, "--workers", "2")),
    ]
    rows = []
    try:
        for name, workers, options in setups:
            port = free_port()
            server = start_krait(site, port, *options)
            try:
                wait_until_ready(server, workers)
                figures, spread = measure(port, args)
            finally:
                stop_process(server)
            rows.append((name, figures, spread))
            print(f"{name}: {figures} {spread}", file=sys.stderr)
    finally:
        stop_process(redis)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{args.subscribers} subscribers, {args.messages} messages {args.interval}s apart\n")
    print("| setup | p50 ms | p99 ms | last arrival p99 ms | delivered | connections per worker |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, figures, spread in rows:
        print(
            f"| {name} | {figures['p50']:.1f} | {figures['p99']:.1f} | {figures['last_p99']:.1f} "
            f"| {figures['delivered']:.0%} | {' / '.join(map(str, sorted(spread.values())))} |"
        )


if __name__ == "__main__":
    main()
