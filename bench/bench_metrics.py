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


def main() -> None:
    """Runs every server once per round and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="timed seconds per server")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all servers")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--base", type=Path, help="another krait checkout, measured as 'base'")
    args = parser.parse_args()
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
