"""Redis pub/sub clients for krait's channels: publish -> deliver on the reactor, measured.

    python bench/bench_redis_clients.py [--redis redis://127.0.0.1:6379/0] [--count 20000]

Without ``--redis`` it starts a ``redis-server`` of its own on a free loopback port. Each
candidate runs in a process of its own (the asyncio reactor has to be installed before
anything imports the default one):

- ``txredisapi``: a subscriber and a publisher connection on the Twisted reactor; a thread
  publishes through ``callFromThread`` (what a page thread would do through krait's hand-off);
- ``redis-py``: the synchronous client, with hiredis: a thread calls ``publish`` itself (a
  round trip per message), a dedicated thread reads the subscription and hands each message
  to the reactor with ``callFromThread``;
- ``redis-py-pipelined``: the same, but the thread only queues the message, and one
  dedicated thread sends what waits as one pipeline (what krait would have to do for
  publishes from the reactor, which must not wait for a round trip);
- ``redis.asyncio``: redis-py's asyncio client on Twisted's asyncio reactor, publishing and
  reading on the reactor's loop (the thread publishes through ``callFromThread``).

For each it measures delivery to a callback on the reactor thread, which is where krait hands
a message to its WebSocket connections: ``throughput``, a thread publishing ``--count``
100-byte messages as fast as it can, messages per second until the last one arrived; and
the process's CPU time per message over that run (publishing and receiving together: less
disturbed by other load than a rate); and ``latency``, ``--rate`` messages per second for
``--seconds`` seconds, p50 and p99 from the ``publish`` call to the callback. Each candidate
runs ``--rounds`` times and the best round of each figure is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from _common import free_port, pinned, stop_process, wait_for

CANDIDATES = ("txredisapi", "redis-py", "redis-py-pipelined", "redis.asyncio")
CHANNEL = "bench-redis-clients"
PAYLOAD = 100


class Recorder:
    """Arrival times of numbered messages, written on the reactor thread."""

    def __init__(self, expected: int) -> None:
        self.arrived: dict[int, float] = {}
        self.expected = expected
        self.done = threading.Event()

    def record(self, payload: bytes) -> None:
        number = int(payload[:12])
        self.arrived[number] = time.perf_counter()
        if len(self.arrived) >= self.expected:
            self.done.set()


def numbered(number: int) -> bytes:
    return b"%012d" % number + b"x" * (PAYLOAD - 12)


def drive(
    publish: Callable[[bytes], None], recorder_for: Callable[[int], Recorder], args: Any
) -> dict[str, float]:
    """Run both measurements from a publishing thread; returns the figures."""
    recorder = recorder_for(args.count)
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    for number in range(args.count):
        publish(numbered(number))
    if not recorder.done.wait(60):
        raise RuntimeError(f"only {len(recorder.arrived)} of {args.count} messages arrived")
    throughput = args.count / (max(recorder.arrived.values()) - started)
    cpu_us = (_cpu_seconds() - cpu_before) / args.count * 1e6

    total = int(args.rate * args.seconds)
    recorder = recorder_for(total)
    sent: dict[int, float] = {}
    interval = 1.0 / args.rate
    start = time.perf_counter()
    for number in range(total):
        due = start + number * interval
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent[number] = time.perf_counter()
        publish(numbered(number))
    if not recorder.done.wait(60):
        raise RuntimeError(f"only {len(recorder.arrived)} of {total} paced messages arrived")
    latencies = sorted(recorder.arrived[n] - sent[n] for n in range(total))
    return {
        "throughput": throughput,
        "cpu_us": cpu_us,
        "p50_us": latencies[len(latencies) // 2] * 1e6,
        "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_candidate(name: str, args: Any) -> dict[str, float]:
    """Measure one candidate in this process (the reactor runs in the main thread)."""
    if name == "redis.asyncio":
        from twisted.internet import asyncioreactor

        asyncioreactor.install()
    from twisted.internet import reactor

    url = urlsplit(args.redis)
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def recorder_for(expected: int) -> Recorder:
        holder["recorder"] = Recorder(expected)
        return holder["recorder"]

    def on_reactor(payload: bytes) -> None:
        holder["recorder"].record(payload)

    publish = globals()[f"_setup_{name.replace('-', '_').replace('.', '_')}"](
        reactor, host, port, on_reactor, ready
    )
    outcome: dict[str, Any] = {}

    def measure() -> None:
        try:
            if not ready.wait(10):
                raise RuntimeError("the subscription did not start")
            outcome.update(drive(publish, recorder_for, args))
        except Exception as error:  # reported by the parent
            outcome["error"] = repr(error)
        finally:
            reactor.callFromThread(reactor.stop)

    threading.Thread(target=measure, daemon=True).start()
    reactor.run()
    return outcome


def _setup_txredisapi(reactor: Any, host: str, port: int, deliver: Any, ready: Any) -> Any:
    import txredisapi
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    class Subscriber(txredisapi.SubscriberProtocol):
        def messageReceived(self, pattern: Any, channel: Any, message: bytes) -> None:
            deliver(message)

    publisher = txredisapi.RedisProtocol(charset=None)
    subscriber = Subscriber(charset=None)

    def subscribed(_: object) -> None:
        ready.set()

    def connected(_: object) -> None:
        subscriber.subscribe(CHANNEL).addCallback(subscribed)

    endpoint = TCP4ClientEndpoint(reactor, host, port)
    connectProtocol(endpoint, publisher)
    connectProtocol(endpoint, subscriber).addCallback(connected)

    def publish(payload: bytes) -> None:
        reactor.callFromThread(publisher.publish, CHANNEL, payload)

    return publish


def _setup_redis_py(reactor: Any, host: str, port: int, deliver: Any, ready: Any) -> Any:
    import redis

    client = redis.Redis(host=host, port=port)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)

    def listen() -> None:
        ready.set()
        for message in pubsub.listen():
            if message["type"] == "message":
                reactor.callFromThread(deliver, message["data"])

    threading.Thread(target=listen, daemon=True).start()
    return lambda payload: client.publish(CHANNEL, payload)


def _setup_redis_py_pipelined(reactor: Any, host: str, port: int, deliver: Any, ready: Any) -> Any:
    import queue

    import redis

    publish_direct = _setup_redis_py(reactor, host, port, deliver, ready)
    client = redis.Redis(host=host, port=port)
    waiting: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def send() -> None:
        while True:
            batch = [waiting.get()]
            while not waiting.empty():
                batch.append(waiting.get())
            pipe = client.pipeline(transaction=False)
            for payload in batch:
                pipe.publish(CHANNEL, payload)
            pipe.execute()

    del publish_direct
    threading.Thread(target=send, daemon=True).start()
    return waiting.put


def _setup_redis_asyncio(reactor: Any, host: str, port: int, deliver: Any, ready: Any) -> Any:
    import asyncio

    import redis.asyncio as aioredis

    client = aioredis.Redis(host=host, port=port)

    async def listen() -> None:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL)
        ready.set()
        async for message in pubsub.listen():
            if message["type"] == "message":
                deliver(message["data"])

    waiting: list[bytes] = []
    wake = asyncio.Event()

    async def send() -> None:
        # One task, pipelining what waits: a task per publish would open a connection each.
        while True:
            await wake.wait()
            wake.clear()
            batch, waiting[:] = list(waiting), []
            pipe = client.pipeline(transaction=False)
            for payload in batch:
                pipe.publish(CHANNEL, payload)
            await pipe.execute()

    tasks: list[asyncio.Future[None]] = []

    def start() -> None:
        tasks.extend([asyncio.ensure_future(listen()), asyncio.ensure_future(send())])

    reactor.callWhenRunning(start)

    def publish_on_loop(payload: bytes) -> None:
        waiting.append(payload)
        wake.set()

    return lambda payload: reactor.callFromThread(publish_on_loop, payload)


def start_redis() -> tuple[subprocess.Popen[bytes], str, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is missing: apt-get install redis-server, or pass --redis URL")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="bench-redis-")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder]
    process = subprocess.Popen(pinned(command, "1"), stdout=subprocess.DEVNULL)
    wait_for(port, process)
    return process, f"redis://127.0.0.1:{port}/0", folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="a Redis URL (default: start redis-server)")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--candidate", choices=CANDIDATES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.candidate:
        print(json.dumps(run_candidate(args.candidate, args)))
        return
    server, folder = None, None
    if args.redis is None:
        server, args.redis, folder = start_redis()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in CANDIDATES}
    try:
        for round_number in range(args.rounds):
            for name in CANDIDATES:
                command = [sys.executable, __file__, "--candidate", name, "--redis", args.redis]
                command += ["--count", str(args.count), "--rate", str(args.rate)]
                command += ["--seconds", str(args.seconds)]
                done = subprocess.run(
                    pinned(command, "0"),
                    capture_output=True,
                    text=True,
                    timeout=300,
                    env=dict(os.environ, PYTHONPATH=os.path.dirname(__file__)),
                )
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                if "error" in figures:
                    raise RuntimeError(f"{name}: {figures['error']}")
                results[name].append(figures)
                print(f"round {round_number + 1} {name}: {figures}", file=sys.stderr)
    finally:
        if server is not None:
            stop_process(server)
            shutil.rmtree(folder or "", ignore_errors=True)
    print(f"\n| client | msg/s | CPU µs/msg | p50 µs at {args.rate:.0f}/s | p99 µs |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, rounds in results.items():
        best = max(rounds, key=lambda figures: figures["throughput"])
        cheapest = min(figures["cpu_us"] for figures in rounds)
        calm = min(rounds, key=lambda figures: figures["p50_us"])
        print(
            f"| {name} | {best['throughput']:,.0f} | {cheapest:.1f} | {calm['p50_us']:,.0f} "
            f"| {calm['p99_us']:,.0f} |"
        )


if __name__ == "__main__":
    main()
