"""What ``krait.config.cors`` costs: the same site without it (the anchor) and with it.

Serves a 1 KiB static file and a hello ``.py`` from one site, started twice on 127.0.0.1
(pinned to CPU 0, wrk on CPU 1): once without CORS, once with ``krait.config.cors`` covering
every path. wrk sends ``Origin`` of an allowed origin to both, so the second server adds
``Access-Control-Allow-Origin`` and ``Vary`` to every answer. For each it prints req/s and
the server's CPU time per request (utime+stime from ``/proc/PID/stat`` over the run, divided
by the requests), which moves far less than req/s on a shared machine, and the ratio to the
anchor measured in the same round.

    python bench/bench_cors.py [--seconds 5] [--connections 16] [--rounds 3]

Needs wrk (a Debian package).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from _common import free_port, pinned, start_krait, stop_process, wait_for

ORIGIN = "http://app.example"
CORS_INIT = f"krait.config.cors = krait.config.Cors([{ORIGIN!r}])\n"


def make_site(root: Path, cors: bool) -> Path:
    (root / ".py").mkdir(parents=True)
    (root / ".py" / "init.py").write_text(CORS_INIT if cors else "")
    (root / "hello.py").write_text("krait.response = krait.Response('HTTP/1.1', 200, [], 'hi')\n")
    (root / "small.bin").write_bytes(os.urandom(1024))
    old = time.time() - 10  # an old file is answered from memory
    os.utime(root / "small.bin", (old, old))
    return root


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, pid: int, seconds: int, connections: int) -> tuple[float, float]:
    """req/s and the server's CPU µs per request for wrk on ``url``, with ``Origin``."""
    before = cpu_seconds(pid)
    done = subprocess.run(
        pinned(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Origin: {ORIGIN}", url],
            "1",
        ),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    used = cpu_seconds(pid) - before
    if "Non-2xx" in done.stdout:
        raise RuntimeError(f"{url}: wrk saw error answers:\n{done.stdout}")
    total = next(int(line.split()[0]) for line in done.stdout.splitlines() if "requests in" in line)
    rps = next(
        float(line.split()[1]) for line in done.stdout.splitlines() if "Requests/sec" in line
    )
    return rps, used / total * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        servers = {}
        for label, cors in (("no CORS (anchor)", False), ("krait.config.cors", True)):
            port = free_port()
            site = make_site(Path(folder) / label.split()[0], cors)
            log = Path(folder) / f"{label.split()[0]}.log"
            process = start_krait(site, port, "--access-log", str(log))
            wait_for(port, process)
            servers[label] = (process, port)
        try:
            print(f"{'round':>5} {'path':<11} {'server':<18} {'req/s':>8} {'CPU µs/req':>11} ratio")
            for round_number in range(1, options.rounds + 1):
                for path in ("/small.bin", "/hello"):
                    anchor = None
                    for label, (process, port) in servers.items():
                        url = f"http://127.0.0.1:{port}{path}"
                        rps, cpu = measure(url, process.pid, options.seconds, options.connections)
                        anchor = anchor or cpu
                        print(
                            f"{round_number:>5} {path:<11} {label:<18} {rps:>8.0f} {cpu:>11.1f}"
                            f" {cpu / anchor:.3f}"
                        )
        finally:
            for process, _ in servers.values():
                stop_process(process)


if __name__ == "__main__":
    main()
