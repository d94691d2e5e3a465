"""Static files: krait beside plain ``twistd web --path`` (and nginx when installed), one run.

Serves the same folder with each server on 127.0.0.1, pinned to CPU 0 (clients on CPU 1), and
measures:

- req/s for a 1 KiB file with wrk (keep-alive), access logs on for every server;
- MB/s for a 100 MiB file fetched by four clients at once (curl), and the server's RSS
  before and after (memory must stay flat).

    python bench/bench_static.py [--seconds 10] [--connections 32]

Needs wrk and curl (Debian packages); nginx is optional. Prints a table with ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _common import free_port, pinned, rss_mib, start_krait, stop_process, wait_for, wrk_rps

REPO = Path(__file__).resolve().parent.parent
PYTHON_BIN = Path(sys.executable).parent


@dataclass
class Result:
    name: str
    small_rps: float
    large_mbps: float
    rss_before_mib: float
    rss_after_mib: float


def make_files(root: Path) -> None:
    (root / "small.bin").write_bytes(os.urandom(1024))
    block = os.urandom(1 << 20)
    with open(root / "large.bin", "wb") as large:
        for _ in range(100):
            large.write(block)


def parallel_download_mbps(url: str, size: int, clients: int = 4, rounds: int = 3) -> float:
    """The best of ``rounds`` runs of ``clients`` simultaneous full downloads, in MB/s."""
    best = 0.0
    fetch = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url]
    for _ in range(rounds):
        start = time.perf_counter()
        procs = [
            subprocess.Popen(pinned(fetch, "1"), stdout=subprocess.PIPE, text=True)
            for _ in range(clients)
        ]
        outcomes = [proc.communicate(timeout=120)[0] for proc in procs]
        elapsed = time.perf_counter() - start
        if any(outcome != f"200 {size}" for outcome in outcomes):
            raise RuntimeError(f"{url}: a download did not get the whole file: {outcomes}")
        best = max(best, clients * size / elapsed / 1e6)
    return best


def check_served(base: str, root: Path) -> None:
    """Make sure the server really serves the files (a 403 or 404 is fast, and meaningless)."""
    with urllib.request.urlopen(base + "/small.bin") as response:
        if response.read() != (root / "small.bin").read_bytes():
            raise RuntimeError(f"{base}/small.bin does not serve the file")


def measure(
    name: str, proc: subprocess.Popen[bytes], port: int, args: argparse.Namespace
) -> Result:
    try:
        wait_for(port)
        base = f"http://127.0.0.1:{port}"
        check_served(base, args.root)
        before = rss_mib(proc.pid) or 0.0
        small = wrk_rps(base + "/small.bin", args.seconds, args.connections)
        large = parallel_download_mbps(
            base + "/large.bin", (args.root / "large.bin").stat().st_size
        )
        after = rss_mib(proc.pid) or 0.0
        return Result(name, small, large, before, after)
    finally:
        stop_process(proc)


def start_krait_logged(root: Path, logs: Path, port: int) -> subprocess.Popen[bytes]:
    """krait with its access log on, as twistd web and nginx keep theirs."""
    return start_krait(root, port, "--access-log", str(logs / "krait-access.log"))


def start_twistd_web(root: Path, logs: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        str(PYTHON_BIN / "twistd"),
        "-n",
        "--pidfile=",
        "--logfile",
        str(logs / "tw.log"),
        "web",
        "--path",
        str(root),
        "--listen",
        f"tcp:{port}:interface=127.0.0.1",
        "--logfile",
        str(logs / "tw-access.log"),
    ]
    return subprocess.Popen(pinned(command, "0"), stderr=subprocess.DEVNULL)


def start_nginx(root: Path, logs: Path, port: int) -> subprocess.Popen[bytes] | None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return None
    conf = logs / "nginx.conf"
    conf.write_text(
        f"""daemon off; worker_processes 1; pid {logs}/nginx.pid; error_log {logs}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log {logs}/nginx-access.log combined;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path {logs}; proxy_temp_path {logs}; fastcgi_temp_path {logs};
  uwsgi_temp_path {logs}; scgi_temp_path {logs};
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""
    )
    return subprocess.Popen(pinned([nginx, "-c", str(conf)], "0"), stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_static: {tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory() as tmp:
        # nginx's worker runs as an unprivileged user: it must be able to read the files.
        os.chmod(tmp, 0o755)
        root, logs = Path(tmp) / "site", Path(tmp) / "logs"
        root.mkdir()
        logs.mkdir()
        make_files(root)
        args.root = root
        results: list[Result] = []
        for name, starter in (
            ("krait", start_krait_logged),
            ("twistd web", start_twistd_web),
            ("nginx", start_nginx),
        ):
            port = free_port()
            proc = starter(root, logs, port)
            if proc is None:
                print(f"({name} not installed: skipped)")
                continue
            results.append(measure(name, proc, port, args))
    print_table(results)


def print_table(results: list[Result]) -> None:
    krait = results[0]
    print(f"{'server':<12} {'1 KiB req/s':>12} {'100 MiB MB/s':>13} {'RSS MiB before→after':>22}")
    for r in results:
        print(
            f"{r.name:<12} {r.small_rps:>12.0f} {r.large_mbps:>13.0f} "
            f"{r.rss_before_mib:>10.1f} → {r.rss_after_mib:<9.1f}"
        )
    for other in results[1:]:
        print(
            f"krait / {other.name}: {krait.small_rps / other.small_rps:.2f}× req/s (1 KiB), "
            f"{krait.large_mbps / other.large_mbps:.2f}× MB/s (100 MiB)"
        )


if __name__ == "__main__":
    main()
