"""What one CPU-bound page costs everyone else: by switch interval and by CPU affinity.

A page that computes without pause shares the interpreter with the reactor thread, which
serves every connection. This runs a 1 KiB static file under wrk (on CPU 1) twice per setting:
alone, and while one request keeps a ``while True`` page busy; the anchor is the same server
with no such page. Settings: the interpreter's switch interval (``sys.setswitchinterval``, set
by the site's init.py) with the server free to use every CPU, and ``--cpu-affinity auto``
(the whole server on one CPU).

    python bench/bench_cpu_page.py [--seconds 5] [--connections 16]

Needs wrk and curl (Debian packages).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, free_port, stop_process, wait_for, wrk_rps

SETTINGS = (
    ("any CPU, 5 ms", 0.005, "none"),
    ("any CPU, 1 ms", 0.001, "none"),
    ("any CPU, 0.2 ms", 0.0002, "none"),
    ("--cpu-affinity auto, 5 ms", 0.005, "auto"),
)
"""(label, switch interval in seconds, --cpu-affinity): CPython's default slice first."""


def write_site(root: Path, interval: float) -> None:
    (root / ".py").mkdir(parents=True, exist_ok=True)
    (root / ".py" / "init.py").write_text(f"import sys\nsys.setswitchinterval({interval})\n")
    (root / "spin.py").write_text("total = 0\nwhile True:\n    total += 1\n")
    (root / "hello.txt").write_bytes(b"x" * 1024)


def measure(interval: float, affinity: str, busy: bool, seconds: int, connections: int) -> float:
    """Static req/s of a fresh server (not pinned by taskset), with or without a busy page."""
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder)
        write_site(site, interval)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "krait",
                str(site),
                "--listen",
                f"tcp:{port}:interface=127.0.0.1",
                "--no-access-log",
                "--page-timeout",
                "0",
                "--cpu-affinity",
                affinity,
            ],
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            stderr=subprocess.DEVNULL,
        )
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
    print(f"{'setting':>26} {'alone req/s':>12} {'beside a busy page':>19} {'ratio':>6}")
    for label, interval, affinity in SETTINGS:
        alone = measure(interval, affinity, False, args.seconds, args.connections)
        busy = measure(interval, affinity, True, args.seconds, args.connections)
        print(f"{label:>26} {alone:>12,.0f} {busy:>19,.0f} {busy / alone:>6.2f}")


if __name__ == "__main__":
    main()
