"""What one CPU-bound page costs everyone else, at several interpreter switch intervals.

A page that computes without pause shares the interpreter with the reactor thread, which
serves every connection. This runs, for each switch interval (``sys.setswitchinterval``, set
by the site's init.py), a 1 KiB static file under wrk twice: alone, and while one request
keeps a ``while True`` page busy. The anchor is the same server with no such page.

    python bench/bench_cpu_page.py [--seconds 5] [--connections 16]

Needs wrk and curl (Debian packages). Servers are pinned to CPU 0, clients to CPU 1.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _common import free_port, start_krait, stop_process, wait_for, wrk_rps

INTERVALS = (0.005, 0.001, 0.0002)
"""Seconds: CPython's default (5 ms), then shorter slices for the busy page."""


def write_site(root: Path, interval: float) -> None:
    (root / ".py").mkdir(parents=True, exist_ok=True)
    (root / ".py" / "init.py").write_text(f"import sys\nsys.setswitchinterval({interval})\n")
    (root / "spin.py").write_text("total = 0\nwhile True:\n    total += 1\n")
    (root / "hello.txt").write_bytes(b"x" * 1024)


def measure(interval: float, busy: bool, seconds: int, connections: int) -> float:
    """Static req/s of a fresh server, with or without one spinning page."""
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder)
        write_site(site, interval)
        port = free_port()
        server = start_krait(site, port, "--no-access-log", "--page-timeout", "0")
        spinner = None
        try:
            wait_for(port, server)
            if busy:
                spinner = subprocess.Popen(
                    ["curl", "-s", "-m", str(seconds + 20), f"http://127.0.0.1:{port}/spin"],
                    stdout=subprocess.DEVNULL,
                )
                time.sleep(0.5)
            return wrk_rps(f"http://127.0.0.1:{port}/hello.txt", seconds, connections)
        finally:
            server.kill()  # a spinning page would hold a graceful stop for its full timeout
            server.wait()
            if spinner is not None:
                stop_process(spinner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    print(f"{'switch interval':>16} {'alone req/s':>12} {'beside a busy page':>19} {'ratio':>6}")
    for interval in INTERVALS:
        alone = measure(interval, False, args.seconds, args.connections)
        busy = measure(interval, True, args.seconds, args.connections)
        print(f"{interval * 1000:>14.1f}ms {alone:>12,.0f} {busy:>19,.0f} {busy / alone:>6.2f}")


if __name__ == "__main__":
    main()
