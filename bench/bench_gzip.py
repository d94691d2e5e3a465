"""Compressed static files: krait beside nginx with ``gzip_static on``, one run.

A 64 KiB stylesheet is fetched with ``Accept-Encoding: gzip`` (and ``br``) by wrk, from:

- krait with a precompressed sibling (``pre.css.gz``, ``pre.css.br``), sent by sendfile or
  from memory like any file;
- krait without one (``live.css``): compressed once, kept in memory, sent from there;
- nginx with ``gzip_static on`` (the same ``pre.css.gz``), and nginx's ``gzip on`` at level
  6 for ``live.css``, which nginx compresses again for every request.

Servers on CPU 0, wrk on CPU 1, access logs on for both. Each URL is checked first: it must
answer 200 in the coding asked for, or the row would measure something else. The servers take
turns for ``--rounds`` rounds and each row shows its best round, which filters out moments
when something else on the machine took the CPU.

    python bench/bench_gzip.py [--seconds 10] [--connections 32] [--rounds 2]

Needs wrk and nginx (Debian packages). Prints req/s, MB/s of compressed body and ratios.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import brotli
from _common import free_port, pinned, start_krait, stop_process, wait_for, wrk_rps

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SIZE = 64 * 1024


@dataclass(frozen=True)
class Case:
    """One row: a server, a path and the coding asked for."""

    server: str
    label: str
    path: str
    coding: str


@dataclass(frozen=True)
class Row:
    case: Case
    rps: float
    body_bytes: int

    @property
    def mbps(self) -> float:
        return self.rps * self.body_bytes / 1e6


KRAIT_CASES = [
    Case("krait", "identity (reference)", "/live.css", "identity"),
    Case("krait", ".gz sibling", "/pre.css", "gzip"),
    Case("krait", "kept gzip (no sibling)", "/live.css", "gzip"),
    Case("krait", ".br sibling", "/pre.css", "br"),
    Case("krait", "kept br (no sibling)", "/live.css", "br"),
]
NGINX_CASES = [
    Case("nginx", "identity (reference)", "/live.css", "identity"),
    Case("nginx", "gzip_static on", "/pre.css", "gzip"),
    Case("nginx", "gzip on, level 6", "/live.css", "gzip"),
]


def stylesheet() -> bytes:
    """64 KiB of plausible CSS (repetitive as real CSS is, so it compresses about 6:1)."""
    rules = []
    for i in range(2000):
        rules.append(
            f".c{i} > .item-{i % 37} {{ color: #{(i * 7919) % 0xFFFFFF:06x}; "
            f"margin: {i % 13}px {i % 7}px; font-weight: {(i % 9 + 1) * 100} }}\n"
        )
    return "".join(rules).encode()[:SIZE]


def make_site(root: Path) -> None:
    css = stylesheet()
    for name in ("pre.css", "live.css"):
        (root / name).write_bytes(css)
    (root / "pre.css.gz").write_bytes(gzip.compress(css, 9, mtime=0))
    (root / "pre.css.br").write_bytes(brotli.compress(css, quality=11))
    # Siblings newer than their source, and every file older than a second (krait keeps
    # only files untouched that long in memory).
    for path in root.iterdir():
        stamp = 1_600_000_000 + (10 if path.suffix in (".gz", ".br") else 0)
        os.utime(path, (stamp, stamp))


def start_nginx(root: Path, logs: Path, port: int) -> subprocess.Popen[bytes]:
    conf = logs / "nginx.conf"
    conf.write_text(
        f"""daemon off; worker_processes 1; pid {logs}/nginx.pid; error_log {logs}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  types {{ text/css css; }}
  access_log {logs}/nginx-access.log combined;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  gzip_static on; gzip on; gzip_comp_level 6; gzip_types text/css; gzip_vary on;
  client_body_temp_path {logs}; proxy_temp_path {logs}; fastcgi_temp_path {logs};
  uwsgi_temp_path {logs}; scgi_temp_path {logs};
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""
    )
    return subprocess.Popen(pinned([NGINX, "-c", str(conf)], "0"), stderr=subprocess.DEVNULL)


def body_size(base: str, case: Case) -> int:
    """The compressed body's size, after checking the answer is in the coding asked for."""
    request = urllib.request.Request(base + case.path, headers={"Accept-Encoding": case.coding})
    with urllib.request.urlopen(request) as response:
        got = response.headers.get("Content-Encoding", "identity")
        if response.status != 200 or got != case.coding:
            raise RuntimeError(f"{base}{case.path}: {response.status} in {got}, not {case.coding}")
        return len(response.read())


def measure(
    proc: subprocess.Popen[bytes], port: int, cases: list[Case], args: argparse.Namespace
) -> list[Row]:
    try:
        wait_for(port, proc)
        base = f"http://127.0.0.1:{port}"
        rows = []
        for case in cases:
            size = body_size(base, case)
            header = (f"Accept-Encoding: {case.coding}",)
            rps = wrk_rps(base + case.path, args.seconds, args.connections, header)
            rows.append(Row(case, rps, size))
        return rows
    finally:
        stop_process(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None or not Path(NGINX).exists():
        sys.exit("bench_gzip: needs wrk and nginx (apt-get install wrk nginx)")
    with tempfile.TemporaryDirectory() as tmp:
        # nginx's worker runs as an unprivileged user: it must be able to read the files.
        os.chmod(tmp, 0o755)
        root, logs = Path(tmp) / "site", Path(tmp) / "logs"
        root.mkdir()
        logs.mkdir()
        make_site(root)
        best: dict[Case, Row] = {}
        for _ in range(args.rounds):
            port = free_port()
            krait = start_krait(root, port, "--access-log", str(logs / "krait-access.log"))
            rows = measure(krait, port, KRAIT_CASES, args)
            port = free_port()
            rows += measure(start_nginx(root, logs, port), port, NGINX_CASES, args)
            for row in rows:
                if row.case not in best or row.rps > best[row.case].rps:
                    best[row.case] = row
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s; best of {args.rounds} rounds")
    print_table([best[case] for case in KRAIT_CASES + NGINX_CASES])


def print_table(rows: list[Row]) -> None:
    print(f"64 KiB text/css, {len(stylesheet())} bytes identity")
    print(f"{'server':<7} {'form':<24} {'coding':<8} {'body B':>7} {'req/s':>8} {'MB/s':>7}")
    for row in rows:
        case = row.case
        print(
            f"{case.server:<7} {case.label:<24} {case.coding:<8} {row.body_bytes:>7} "
            f"{row.rps:>8.0f} {row.mbps:>7.1f}"
        )
    by_label = {(row.case.server, row.case.label): row for row in rows}
    reference = (
        by_label["krait", "identity (reference)"].rps
        / by_label["nginx", "identity (reference)"].rps
    )
    print(f"krait identity / nginx identity: {reference:.2f}× req/s")
    anchor = by_label["nginx", "gzip_static on"]
    for label in (".gz sibling", "kept gzip (no sibling)"):
        row = by_label["krait", label]
        print(f"krait {label} / nginx gzip_static: {row.rps / anchor.rps:.2f}× req/s")
    live = by_label["nginx", "gzip on, level 6"]
    kept = by_label["krait", "kept gzip (no sibling)"]
    print(f"krait kept gzip / nginx gzip on (per request): {kept.rps / live.rps:.2f}× req/s")


if __name__ == "__main__":
    main()
