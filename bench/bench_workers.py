"""Worker processes: req/s with ``--workers 1`` and ``--workers 2``, and wrk through reloads.

Serves a hello-world ``.py`` script and a 1 KiB static file, once with one worker (the single
process) and once with two, and measures req/s with wrk (keep-alive). Nothing is pinned: the
two workers need both cores, and wrk runs on the same cores (this is a 2-core machine; the
load tool's CPU is part of the figure). Then, with ``--workers 2``, a wrk load runs while the
server is reloaded with SIGHUP three times, each reload awaited, and wrk's error counts are
reported (the goal is none).

    python bench/bench_workers.py [--seconds 10] [--connections 32]

Needs wrk (Debian package). Prints two tables.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _common import free_port, stop_process, wait_for

REPO = Path(__file__).resolve().parent.parent
BODY = b"Hello, World!\n"


@dataclass
class Result:
    workers: int
    hello_rps: float
    static_rps: float


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_count(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text)


def make_site(root: Path) -> None:
    (root / ".py").mkdir(parents=True)
    (root / ".py" / "init.py").write_text("")
    (root / "hello.py").write_text(f"return {BODY!r}\n")
    (root / "small.bin").write_bytes(os.urandom(1024))


def start(site: Path, workers: int, log: Path) -> Server:
    """krait with ``--workers``, once every worker is ready and the pages answer."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "krait",
        str(site),
        "--listen",
        f"tcp:{port}:interface=127.0.0.1",
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(command, env=env, stderr=log.open("wb"))
    server = Server(process, port, log)
    wait_for(port, process)
    deadline = time.monotonic() + 60
    while workers > 1 and server.log_count("is ready") < workers:
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"the workers did not start:\n{log.read_text()}")
        time.sleep(0.1)
    with urllib.request.urlopen(server.url("/hello"), timeout=10) as answer:
        assert answer.read() == BODY
    return server


def wrk(url: str, seconds: int, connections: int) -> str:
    """wrk's report for ``url`` (two threads, keep-alive)."""
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    return done.stdout


def rps_of(report: str) -> float:
    if "Non-2xx" in report:
        raise RuntimeError(f"wrk saw error answers:\n{report}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", report)
    if match is None:
        raise RuntimeError(f"wrk gave no result:\n{report}")
    return float(match.group(1))


def errors_of(report: str) -> dict[str, int]:
    """wrk's socket errors and non-2xx answers (all 0 when it printed none)."""
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "non-2xx": 0}
    match = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    if match:
        for name, value in zip(
            ("connect", "read", "write", "timeout"), match.groups(), strict=True
        ):
            errors[name] = int(value)
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    if match:
        errors["non-2xx"] = int(match.group(1))
    return errors


def measure(site: Path, workers: int, log: Path, seconds: int, connections: int) -> Result:
    server = start(site, workers, log)
    try:
        wrk(server.url("/hello"), 2, connections)  # warm-up
        hello = rps_of(wrk(server.url("/hello"), seconds, connections))
        static = rps_of(wrk(server.url("/small.bin"), seconds, connections))
    finally:
        stop_process(server.process)
    return Result(workers, hello, static)


def through_reloads(site: Path, log: Path, connections: int, reloads: int = 3) -> str:
    """wrk on ``/hello`` while the server reloads ``reloads`` times; wrk's report."""
    server = start(site, 2, log)
    seconds = 8 + 8 * reloads
    try:
        load = subprocess.Popen(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", server.url("/hello")],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        for done in range(1, reloads + 1):
            server.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while server.log_count("drains and stops") < 2 * done:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"reload {done} did not finish:\n{log.read_text()}")
                time.sleep(0.1)
            print(f"reload {done} done", file=sys.stderr)
            time.sleep(1)
        report, _ = load.communicate(timeout=seconds + 60)
    finally:
        stop_process(server.process)
    return report


def main() -> None:
    """Measures one worker, then two, then the reloads, and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        make_site(site)
        results = [
            measure(site, workers, Path(folder) / f"w{workers}.log", args.seconds, args.connections)
            for workers in (1, 2)
        ]
        report = through_reloads(site, Path(folder) / "reload.log", 16)
    print(f"cores: {os.cpu_count()}; wrk -t2 -c{args.connections} on the same cores, unpinned")
    print(f"{'workers':<8} {'hello .py req/s':>16} {'1 KiB static req/s':>19}")
    for result in results:
        print(f"{result.workers:<8} {result.hello_rps:>16.0f} {result.static_rps:>19.0f}")
    one, two = results
    print(
        f"{'ratio':<8} {two.hello_rps / one.hello_rps:>15.2f}x "
        f"{two.static_rps / one.static_rps:>18.2f}x"
    )
    total = re.search(r"(\d+) requests in", report)
    served = total.group(1) if total else "?"
    print(f"\nwrk -c16 on /hello through 3 SIGHUP reloads ({served} requests):")
    for name, count in errors_of(report).items():
        print(f"  {name:<8} errors: {count}")


if __name__ == "__main__":
    main()
