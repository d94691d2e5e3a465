"""What ``--metrics-listen`` costs a hello ``.py``: krait with and without it, in rounds.

The anchor is the same krait without the option (nothing is counted then). With it, every
request is counted and timed, and a scraper reads ``/metrics`` every second while wrk runs
(Prometheus scrapes every 15 s by default: this is the heavier case). Each round starts
both servers one after the other, pinned to CPU 0 with the access log off, and wrk runs on
CPU 1 with keep-alive connections. Besides req/s it reports the server's CPU time per
request (utime + stime from ``/proc`` over the wrk run, divided by the requests), which
moves far less than req/s on a shared machine. ``--base DIR`` adds a third server: the
krait checkout in DIR (the commit before the metrics, say), to show that the option's
absence costs nothing.

    python bench/bench_metrics.py [--seconds 8] [--rounds 3] [--connections 32] [--base DIR]
    python bench/bench_metrics.py --micro
    python bench/bench_metrics.py --harness

``--micro`` times, in process, what one request costs the counting alone: krait's tally
beside prometheus-client's ``Counter`` and ``Histogram`` updated per request, in its
default mode and in its multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``), the two ways
krait could have counted instead.

``--harness`` times the whole request path in process, without sockets or threads: a real
``KraitSite`` (built by ``build_site``) is fed 1,000 pipelined GETs of a 1 KiB static file
through a ``StringTransport``, with its tally on or off (and, with ``--base``, the other
checkout's), each in fresh processes taking turns; the figure is the best CPU time per
request. What differs is only what the option adds to every request (the kind, the start
time, the count), not the scrapes.

Needs wrk (Debian package). Prints one row per server and round, and the ratios to the
server without metrics measured in the same round.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import timeit
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _common import REPO, free_port, pinned, stop_process, wait_for, wrk_rps
from bench_scripts import BODY, HELLO_SCRIPT
from bench_websockets import cpu_seconds


@dataclass(frozen=True)
class Variant:
    """One server to measure: its name, the krait checkout it runs, its extra options."""

    name: str
    checkout: Path
    metrics: bool


@dataclass(frozen=True)
class Result:
    """One server's figures in one round."""

    name: str
    round: int
    rps: float
    cpu_us: float


def start(variant: Variant, site: Path, port: int, metrics_port: int) -> subprocess.Popen[bytes]:
    """``python -m krait`` from the variant's checkout, pinned to CPU 0, access log off."""
    command = [
        sys.executable,
        "-m",
        "krait",
        str(site),
        "--listen",
        f"tcp:{port}:interface=127.0.0.1",
        "--no-access-log",
    ]
    if variant.metrics:
        command += ["--metrics-listen", f"tcp:{metrics_port}:interface=127.0.0.1"]
    env = dict(os.environ, PYTHONPATH=str(variant.checkout))
    return subprocess.Popen(pinned(command, "0"), env=env, stderr=subprocess.DEVNULL)


def scrape_every_second(url: str, stop: threading.Event, count: list[int]) -> None:
    """Read ``url`` once a second until ``stop`` is set, counting the scrapes."""
    while not stop.wait(1.0):
        with urllib.request.urlopen(url, timeout=10) as answer:
            if b"krait_http_requests_total" not in answer.read():
                raise RuntimeError(f"{url} holds no krait_http_requests_total")
        count[0] += 1


def measure(variant: Variant, site: Path, round_number: int, args: argparse.Namespace) -> Result:
    """Start the server, check its body, warm up, time it with wrk; always stops it."""
    port, metrics_port = free_port(), free_port()
    proc = start(variant, site, port, metrics_port)
    stop = threading.Event()
    scrapes = [0]
    scraper = threading.Thread(
        target=scrape_every_second,
        args=(f"http://127.0.0.1:{metrics_port}/metrics", stop, scrapes),
    )
    try:
        wait_for(port, proc)
        url = f"http://127.0.0.1:{port}/hello"
        with urllib.request.urlopen(url, timeout=10) as answer:
            if answer.read() != BODY:
                raise RuntimeError(f"{variant.name} answered something else than {BODY!r}")
        wrk_rps(url, 1, args.connections)
        if variant.metrics:
            wait_for(metrics_port, proc)
            scraper.start()
        before = cpu_seconds(proc.pid) or 0.0
        rps = wrk_rps(url, args.seconds, args.connections)
        used = (cpu_seconds(proc.pid) or 0.0) - before
        return Result(variant.name, round_number, rps, used / (rps * args.seconds) * 1e6)
    finally:
        stop.set()
        if scraper.is_alive():
            scraper.join(15)
        stop_process(proc)


def print_table(results: list[Result], anchor: str) -> None:
    """A row per server and round, with ratios to ``anchor`` in the same round."""
    header = f"{'round':>5} {'server':<26} {'req/s':>8} {'µs CPU/req':>11}"
    print(f"{header} {'req/s ×':>8} {'CPU ×':>6}")
    for result in results:
        base = next(r for r in results if r.round == result.round and r.name == anchor)
        print(
            f"{result.round:>5} {result.name:<26} {result.rps:>8.0f} {result.cpu_us:>11.1f} "
            f"{result.rps / base.rps:>8.3f} {result.cpu_us / base.cpu_us:>6.3f}"
        )
    print("best of the rounds (µs CPU per request):")
    for name in dict.fromkeys(r.name for r in results):
        best = min(r.cpu_us for r in results if r.name == name)
        print(f"  {name:<26} {best:.1f}")


MICRO_ROUNDS = 200_000

PROMETHEUS_PER_REQUEST = """\
import sys, timeit
from prometheus_client import CollectorRegistry, Counter, Histogram
registry = CollectorRegistry()
requests = Counter("r_total", "r", ["status", "kind"], registry=registry)
latency = Histogram("d_seconds", "d", ["kind"], registry=registry)
def count():
    requests.labels("200", "script").inc()
    latency.labels("script").observe(0.0012)
print(timeit.timeit(count, number=int(sys.argv[1])) / int(sys.argv[1]) * 1e6)
"""


def krait_tally_us() -> float:
    """µs per request of krait's own counting (RequestTally.finished)."""
    from krait._metrics_tally import RequestTally, mark_route_kind

    class Finished:
        code = 200
        started_at = 1.0

    tally, request = RequestTally(), Finished()

    def count() -> None:
        mark_route_kind(request, "script")
        tally.finished(request)

    return timeit.timeit(count, number=MICRO_ROUNDS) / MICRO_ROUNDS * 1e6


def prometheus_us(multiprocess_dir: str | None) -> float:
    """µs per request of a prometheus-client counter and histogram, in a fresh interpreter
    (the multiprocess mode is chosen when prometheus-client is imported)."""
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if multiprocess_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
    done = subprocess.run(
        [sys.executable, "-c", PROMETHEUS_PER_REQUEST, str(MICRO_ROUNDS)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return float(done.stdout)


HARNESS_REQUESTS = 1000


def harness_site(root: Path, count: int = HARNESS_REQUESTS) -> tuple[object, bytes]:
    """A real KraitSite for a site with a 1 KiB file, and ``count`` pipelined GETs of it."""
    from twisted.internet.testing import MemoryReactorClock

    from krait._app import build_site

    (root / "small.txt").write_bytes(b"x" * 1024)
    _, site = build_site(str(root), reactor=MemoryReactorClock(), access_log=None)
    request = b"GET /small.txt HTTP/1.1\r\nHost: bench\r\n\r\n"
    return site, request * count


def harness_round(site: object, data: bytes, count: int = HARNESS_REQUESTS) -> float:
    """CPU µs per request of one round of pipelined GETs on a fresh connection."""
    from twisted.internet.testing import StringTransport

    protocol = site.buildProtocol(None)  # type: ignore[attr-defined]
    transport = StringTransport()
    protocol.makeConnection(transport)
    started = time.process_time()
    protocol.dataReceived(data)
    used = time.process_time() - started
    if transport.value().count(b"HTTP/1.1 200 OK") != count:
        raise RuntimeError(f"the harness did not get {count} answers of 200")
    protocol.connectionLost(None)
    return used / count * 1e6


def harness_child(mode: str, count: int, rounds: int) -> None:
    """Print the best CPU µs per request of ``rounds`` rounds of ``count`` requests with the
    tally ``on`` or ``off``. Under callgrind, one round of 1,100 requests minus one of 100
    gives the instructions of 1,000 (``--harness-requests``, ``--harness-rounds 1``)."""
    with tempfile.TemporaryDirectory() as tmp:
        site, data = harness_site(Path(tmp), count)
        if mode == "on":
            from krait._metrics_tally import RequestTally

            site.metrics = RequestTally()  # type: ignore[attr-defined]
        print(min(harness_round(site, data, count) for _ in range(rounds)))


def harness(base: Path | None) -> None:
    """Print the best CPU µs per request of each variant over 6 rounds of fresh processes
    (alternating: a noisy moment hurts every variant alike), and the ratios to "off"."""
    variants = [("no --metrics-listen", REPO, "off"), ("--metrics-listen", REPO, "on")]
    if base is not None:
        variants.insert(0, (f"base ({base.name})", base.resolve(), "off"))
    best = {name: float("inf") for name, _, _ in variants}
    for _ in range(6):
        for name, checkout, mode in variants:
            done = subprocess.run(
                [sys.executable, __file__, "--checkout", str(checkout), "--harness-child", mode],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            )
            best[name] = min(best[name], float(done.stdout))
    anchor = best["no --metrics-listen"]
    print("in process: 1 KiB static GETs, pipelined; best of 6 processes x 5 rounds of 1,000")
    for name, cpu in best.items():
        print(f"  {name:<26} {cpu:6.1f} µs CPU per request  {cpu / anchor:.3f}x")


def micro() -> None:
    """Print the per-request cost of each way of counting, three rounds, as ratios."""
    print(f"µs per request to count it, {MICRO_ROUNDS} requests per figure, in process")
    print(f"{'round':>5} {'krait tally':>12} {'prometheus':>11} {'multiprocess':>13}")
    for round_number in range(1, 4):
        with tempfile.TemporaryDirectory() as directory:
            tally, plain, shared = krait_tally_us(), prometheus_us(None), prometheus_us(directory)
        print(
            f"{round_number:>5} {tally:>12.2f} {plain:>7.2f} {plain / tally:>3.0f}x "
            f"{shared:>8.2f} {shared / tally:>3.0f}x"
        )


def main() -> None:
    """Runs every server once per round and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="timed seconds per server")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all servers")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--base", type=Path, help="another krait checkout, measured as 'base'")
    parser.add_argument("--micro", action="store_true", help="time the counting alone")
    parser.add_argument("--harness", action="store_true", help="time requests in process")
    parser.add_argument("--harness-child", choices=["on", "off"], help=argparse.SUPPRESS)
    parser.add_argument("--checkout", type=Path, default=REPO, help=argparse.SUPPRESS)
    parser.add_argument("--harness-requests", type=int, default=HARNESS_REQUESTS, help="child")
    parser.add_argument("--harness-rounds", type=int, default=5, help="child")
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout))  # in process: that krait, whatever the venv holds
    if args.harness_child:
        harness_child(args.harness_child, args.harness_requests, args.harness_rounds)
        return
    if args.micro:
        micro()
        return
    if args.harness:
        harness(args.base)
        return
    if shutil.which("wrk") is None:
        sys.exit("bench_metrics: wrk is not installed (apt-get install wrk)")
    variants = [
        Variant("krait, no --metrics-listen", REPO, metrics=False),
        Variant("krait --metrics-listen", REPO, metrics=True),
    ]
    if args.base is not None:
        variants.insert(0, Variant(f"base ({args.base.name})", args.base.resolve(), False))
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        (site / "hello.py").write_text(HELLO_SCRIPT)
        for round_number in range(1, args.rounds + 1):
            for variant in variants:
                results.append(measure(variant, site, round_number, args))
    print(
        f"GET /hello, wrk -t1 -c{args.connections} -d{args.seconds}s (keep-alive); servers on "
        "CPU 0, wrk on CPU 1, access log off; with --metrics-listen, /metrics read every second"
    )
    print_table(results, variants[-2].name)


if __name__ == "__main__":
    main()
