"""A hello-world ``.py`` script on krait beside plain twisted.web and Klein, in req/s.

Each server answers ``GET /hello`` with the same 14 bytes: krait runs ``hello.py`` in its
thread pool, the anchors (``bench/hello_servers.py``) return the bytes from a Resource and a
Klein route. Every server runs pinned to CPU 0 with its access log off; wrk runs on CPU 1 with
keep-alive connections. Each body is checked before anything is timed.

    python bench/bench_scripts.py [--seconds 10] [--connections 32] [--threads 16]

Needs wrk (Debian package) and Klein (``pip install klein``). Prints req/s and the ratio to
the plain Resource.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _common import free_port, pinned, start_krait, stop_process, wait_for, wrk_rps

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
BODY = b"Hello, World!\n"
HELLO_SCRIPT = (
    'krait.set_content_type(raw="text/plain; charset=utf-8")\nreturn b"Hello, World!\\n"\n'
)


@dataclass(frozen=True)
class Result:
    """One server's throughput."""

    name: str
    rps: float


def start_anchor(kind: str, port: int) -> subprocess.Popen[bytes]:
    """One of the servers of ``hello_servers.py``."""
    command = [sys.executable, str(BENCH / "hello_servers.py"), kind, str(port)]
    return subprocess.Popen(pinned(command, "0"), stderr=subprocess.DEVNULL)


def measure(
    name: str, proc: subprocess.Popen[bytes], port: int, args: argparse.Namespace
) -> Result:
    """Check the body, warm up, then time the server; always stops it."""
    try:
        wait_for(port, proc)
        url = f"http://127.0.0.1:{port}/hello"
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = answer.read()
        if body != BODY:
            raise RuntimeError(f"{name} answered {body!r}, not {BODY!r}")
        wrk_rps(url, 1, args.connections)
        return Result(name, wrk_rps(url, args.seconds, args.connections))
    finally:
        stop_process(proc)


def print_table(results: list[Result]) -> None:
    """req/s per server and the ratio to the plain Resource."""
    anchor = next(result for result in results if result.name == "twisted.web Resource")
    print(f"{'server':<24} {'req/s':>9} {'vs Resource':>12}")
    for result in results:
        print(f"{result.name:<24} {result.rps:>9.0f} {result.rps / anchor.rps:>11.2f}x")


def main() -> None:
    """Runs the three servers one after the other and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="timed seconds per server")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=16, help="krait --threads")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_scripts: wrk is not installed (apt-get install wrk)")
    try:
        import klein  # noqa: F401
    except ImportError:
        sys.exit("bench_scripts: Klein is not installed (pip install klein)")
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        (site / "hello.py").write_text(HELLO_SCRIPT)
        results: list[Result] = []
        port = free_port()
        krait = start_krait(site, port, "--no-access-log", "--threads", str(args.threads))
        results.append(measure("krait .py script", krait, port, args))
        for name, kind in (("twisted.web Resource", "resource"), ("Klein", "klein")):
            port = free_port()
            results.append(measure(name, start_anchor(kind, port), port, args))
    print(
        f"GET /hello, {len(BODY)}-byte body, wrk -t1 -c{args.connections} -d{args.seconds}s "
        "(keep-alive); servers on CPU 0, wrk on CPU 1; access logs off for all"
    )
    print_table(results)


if __name__ == "__main__":
    main()
