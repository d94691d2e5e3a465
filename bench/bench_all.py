"""Every figure of issue 12 in one run: krait beside its anchors, as ratios measured together.

One site serves every krait page: ``hello.py`` (``return b"Hello, World!\\n"``), a Pyml page
and an MVC page that render the same 20-row list as Jinja2 on a plain Resource, a 1 KiB and a
100 MiB file. Each server runs alone, pinned to CPU 0, with wrk (or the clients) on CPU 1:

- throughput and saturation p50/p99 with ``wrk --latency`` (keep-alive), for each round,
  and the server's CPU time per request (``/proc/PID/stat``), the figure that moves least
  on a shared machine, with CPU efficiencies (the anchor's CPU per request over krait's);
- 100 MiB fetched by four clients at once: MB/s and the server's RSS before and after;
- open-loop latency (``open_loop.py``) at 25%, 50% and 90% of each server's own peak;
- WebSocket round trips beside Autobahn, by ``bench_websockets.py`` (``--websockets``);
- last, issue 12's goals: each one's value in every round, the median, and whether the
  median meets the goal.

    python bench/bench_all.py [--seconds 5] [--rounds 3] [--connections 32] [--websockets]

The machine is shared and has two cores: read the ratios of one round, compare the rounds
to see the noise. Needs wrk and curl; Klein and Jinja2 from the dev dependencies; nginx
when installed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    WrkResult,
    cpu_seconds,
    free_port,
    pinned,
    rss_mib,
    start_krait,
    stop_process,
    wait_for,
    wrk,
)
from bench_static import make_files, parallel_download_mbps, start_nginx, start_twistd_web
from open_loop import Latencies, open_loop

BENCH = Path(__file__).resolve().parent
HELLO_SCRIPT = (
    'krait.set_content_type(raw="text/plain; charset=utf-8")\nreturn b"Hello, World!\\n"\n'
)
ITEMS_VIEW = """<!DOCTYPE html>
<html><head><title>Items</title></head><body>
<ul>
@for number, name in ctrl.rows:
<li class="row-@number@">@number@: @name@</li>
@/for
</ul>
</body></html>
"""
PYML_PAGE = "@{\nctrl = ItemsCtrl()\n}\n" + ITEMS_VIEW
INIT_PY = """import builtins

import krait
from krait.config import Route
from krait.mvc import CtrlBase, route_ctrl_decorator


class ItemsCtrl(CtrlBase):
    rows = [(number, f"item <{number}>") for number in range(20)]

    def get_view(self):
        return ".view/items.pyml"


builtins.ItemsCtrl = ItemsCtrl
route_ctrl_decorator(url="/mvc")(ItemsCtrl)
krait.config.routes.append(Route())
"""


@dataclass
class Server:
    """One server of the benchmark and the paths it is measured on."""

    name: str
    start: Callable[[Path, Path, int], subprocess.Popen[bytes] | None]
    paths: dict[str, str]
    results: dict[str, list[WrkResult]] = field(default_factory=dict)
    cpu_us: dict[str, list[float | None]] = field(default_factory=dict)
    """Server CPU µs per request in each round (None: the work is in child processes)."""


def write_site(root: Path) -> None:
    """The krait site: the hello script, the pages, the files."""
    (root / ".py").mkdir(parents=True)
    (root / ".view").mkdir()
    (root / "hello.py").write_text(HELLO_SCRIPT)
    (root / "page.pyml").write_text(PYML_PAGE)
    (root / ".view" / "items.pyml").write_text(ITEMS_VIEW)
    (root / ".py" / "init.py").write_text(INIT_PY)
    make_files(root)
    old = os.stat(root / "small.bin").st_mtime - 60  # a settled file, as on a real site
    os.utime(root / "small.bin", (old, old))


def anchor(kind: str) -> Callable[[Path, Path, int], subprocess.Popen[bytes]]:
    """A starter for one of the servers of ``hello_servers.py``."""

    def start(root: Path, logs: Path, port: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, str(BENCH / "hello_servers.py"), kind, str(port)]
        return subprocess.Popen(pinned(command, "0"), stderr=subprocess.DEVNULL)

    return start


def krait(*options: str) -> Callable[[Path, Path, int], subprocess.Popen[bytes]]:
    """A starter for krait with ``options`` (``{logs}`` in them names the log folder)."""

    def start(root: Path, logs: Path, port: int) -> subprocess.Popen[bytes]:
        return start_krait(root, port, *(option.format(logs=logs) for option in options))

    return start


SERVERS = [
    Server(
        "krait, access log",
        krait("--access-log", "{logs}/krait-access.log"),
        {"hello": "/hello", "static 1 KiB": "/small.bin"},
    ),
    Server(
        "krait, no log",
        krait("--no-access-log"),
        {"hello": "/hello", "Pyml page": "/page.pyml", "MVC page": "/mvc"},
    ),
    Server("twisted.web Resource", anchor("resource"), {"hello": "/hello"}),
    Server("Klein", anchor("klein"), {"hello": "/hello"}),
    Server("Jinja2 on a Resource", anchor("jinja"), {"Jinja2 page": "/"}),
    Server("twistd web, access log", start_twistd_web, {"static 1 KiB": "/small.bin"}),
    Server("nginx, access log", start_nginx, {"static 1 KiB": "/small.bin"}),
]

RATIOS = [
    (
        "hello .py (log) / Resource",
        ("krait, access log", "hello"),
        ("twisted.web Resource", "hello"),
    ),
    (
        "hello .py (no log) / Resource",
        ("krait, no log", "hello"),
        ("twisted.web Resource", "hello"),
    ),
    ("hello .py (log) / Klein", ("krait, access log", "hello"), ("Klein", "hello")),
    (
        "static 1 KiB / Resource hello",
        ("krait, access log", "static 1 KiB"),
        ("twisted.web Resource", "hello"),
    ),
    (
        "static 1 KiB / twistd web",
        ("krait, access log", "static 1 KiB"),
        ("twistd web, access log", "static 1 KiB"),
    ),
    (
        "static 1 KiB / nginx",
        ("krait, access log", "static 1 KiB"),
        ("nginx, access log", "static 1 KiB"),
    ),
    ("Pyml page / Jinja2", ("krait, no log", "Pyml page"), ("Jinja2 on a Resource", "Jinja2 page")),
    ("MVC page / Jinja2", ("krait, no log", "MVC page"), ("Jinja2 on a Resource", "Jinja2 page")),
]


def check(url: str) -> None:
    """A 200 with a body, or the figures would mean nothing."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        if answer.status != 200 or not answer.read():
            raise RuntimeError(f"{url} answered {answer.status} without a body")


def measure_round(servers: list[Server], root: Path, logs: Path, args: argparse.Namespace) -> None:
    """Each server in turn: start, check, warm up, time every path, stop."""
    for server in servers:
        port = free_port()
        proc = server.start(root, logs, port)
        if proc is None:
            continue
        try:
            wait_for(port, proc)
            for label, path in server.paths.items():
                url = f"http://127.0.0.1:{port}{path}"
                check(url)
                wrk(url, 1, args.connections)
                before = cpu_seconds(proc.pid)
                result = wrk(url, args.seconds, args.connections)
                after = cpu_seconds(proc.pid)
                server.results.setdefault(label, []).append(result)
                server.cpu_us.setdefault(label, []).append(
                    cpu_per_request(before, after, result.rps * args.seconds, server)
                )
        finally:
            stop_process(proc)


def cpu_per_request(
    before: float | None, after: float | None, requests: float, server: Server
) -> float | None:
    """Server CPU µs per request over one wrk run; None for nginx (its workers are
    children, not counted) or when the figures are missing."""
    if before is None or after is None or requests <= 0 or server.name.startswith("nginx"):
        return None
    return (after - before) * 1e6 / requests


def _cpu_text(value: float | None) -> str:
    return f"{value:>7.0f}" if value is not None else f"{'-':>7}"


def print_throughput(servers: list[Server]) -> None:
    print(
        f"\n{'server':<24} {'page':<14} {'req/s per round':<18} {'p99 ms per round':<18} "
        "CPU µs/request per round"
    )
    for server in servers:
        for label, runs in server.results.items():
            rates = " ".join(f"{run.rps:>7.0f}" for run in runs)
            p99s = " ".join(f"{run.p99_ms:>7.1f}" for run in runs)
            cpus = " ".join(_cpu_text(value) for value in server.cpu_us.get(label, []))
            print(f"{server.name:<24} {label:<14} {rates:<18} {p99s:<18} {cpus}")
    by_name = {server.name: server for server in servers}
    print(f"\n{'ratio (per round)':<34} values")
    for title, (name, label), (anchor_name, anchor_label) in RATIOS:
        if anchor_name not in by_name or anchor_label not in by_name[anchor_name].results:
            continue
        ours = by_name[name].results[label]
        theirs = by_name[anchor_name].results[anchor_label]
        ratios = " ".join(f"{a.rps / b.rps:.2f}" for a, b in zip(ours, theirs, strict=True))
        p99 = " ".join(f"{a.p99_ms / b.p99_ms:.1f}x" for a, b in zip(ours, theirs, strict=True))
        print(f"{title:<34} {ratios}   (p99 at saturation: {p99})")
    print(f"\n{'CPU efficiency (anchor CPU / ours)':<34} per round, best")
    for title, (name, label), (anchor_name, anchor_label) in RATIOS:
        if anchor_name not in by_name or anchor_label not in by_name[anchor_name].cpu_us:
            continue
        pairs = zip(
            by_name[name].cpu_us[label], by_name[anchor_name].cpu_us[anchor_label], strict=True
        )
        values = [theirs / ours for ours, theirs in pairs if ours and theirs]
        if values:
            rounds = " ".join(f"{value:.2f}" for value in values)
            print(f"{title:<34} {rounds}   best {max(values):.2f}")


GOALS = [
    # (what, the row of RATIOS, "cpu", "rps" or "p99", the goal)
    ("hello .py (log), CPU efficiency vs Resource", "hello .py (log) / Resource", "cpu", 0.8),
    ("hello .py (log), req/s vs Resource", "hello .py (log) / Resource", "rps", 0.8),
    ("hello .py (no log), CPU efficiency vs Resource", "hello .py (no log) / Resource", "cpu", 0.9),
    ("hello .py (no log), req/s vs Resource", "hello .py (no log) / Resource", "rps", 0.9),
    ("hello .py p99 at saturation vs Resource", "hello .py (no log) / Resource", "p99", 2.0),
    ("hello .py (log), req/s vs Klein", "hello .py (log) / Klein", "rps", 1.5),
    ("static 1 KiB, req/s vs Resource hello", "static 1 KiB / Resource hello", "rps", 0.75),
    (
        "static 1 KiB, CPU efficiency vs Resource hello",
        "static 1 KiB / Resource hello",
        "cpu",
        0.75,
    ),
]
"""Issue 12's goals, read from the rounds: a p99 goal is a most, the others a least."""


def round_ratios(servers: list[Server], title: str, kind: str) -> list[float]:
    """One ratio per round for the row ``title`` of :data:`RATIOS`: req/s, CPU efficiency
    (the anchor's CPU per request over ours) or p99 (ours over the anchor's)."""
    by_name = {server.name: server for server in servers}
    for row_title, (name, label), (anchor_name, anchor_label) in RATIOS:
        if row_title != title or anchor_name not in by_name:
            continue
        ours, theirs = by_name[name], by_name[anchor_name]
        if label not in ours.results or anchor_label not in theirs.results:
            return []
        if kind == "cpu":
            pairs = zip(ours.cpu_us[label], theirs.cpu_us[anchor_label], strict=True)
            return [b / a for a, b in pairs if a and b]
        runs = zip(ours.results[label], theirs.results[anchor_label], strict=True)
        if kind == "p99":
            return [a.p99_ms / b.p99_ms for a, b in runs]
        return [a.rps / b.rps for a, b in runs]
    return []


def print_goals(servers: list[Server], large: tuple[float, float] | None) -> None:
    """Each goal of issue 12 beside its value in every round, the median, and whether the
    median meets it."""
    print(f"\n{'goal (issue 12)':<48} {'rounds':<16} {'median':>7} {'goal':>7}  met")
    for what, title, kind, goal in GOALS:
        values = round_ratios(servers, title, kind)
        if not values:
            continue
        middle = statistics.median(values)
        met = middle <= goal if kind == "p99" else middle >= goal
        rounds = " ".join(f"{value:.2f}" for value in values)
        sign = "<=" if kind == "p99" else ">="
        print(
            f"{what:<48} {rounds:<16} {middle:>7.2f} {sign}{goal:>5.2f}  {'yes' if met else 'no'}"
        )
    if large is not None:
        ratio, growth = large
        met = ratio >= 0.95 and growth < 5
        print(
            f"{'100 MiB x4, MB/s vs nginx (RSS growth MiB)':<48} "
            f"{f'{ratio:.2f} ({growth:+.1f})':<16} {ratio:>7.2f} >={0.95:>5.2f}  "
            f"{'yes' if met else 'no'}"
        )


LARGE_ROUNDS = 6
"""Rounds of four 100 MiB downloads per server; one takes a fraction of a second, so a
single one says more about the machine's moment than about the server."""


def measure_large(root: Path, logs: Path) -> tuple[float, float] | None:
    """100 MiB to four clients at once: MB/s and RSS, krait beside nginx.

    Both servers run at once and take turns, one round of four downloads each, for
    :data:`LARGE_ROUNDS` rounds; each server's best round counts.

    Returns:
        krait's MB/s over nginx's and krait's RSS growth in MiB, or None without nginx.
    """
    size = (root / "large.bin").stat().st_size
    print(f"\n{'server':<24} {'100 MiB x4 MB/s, best of ' + str(LARGE_ROUNDS):>30}", end="")
    print(f" {'RSS MiB before -> after':>26}")
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name, start in (("krait", krait("--no-access-log")), ("nginx", start_nginx)):
            port = free_port()
            proc = start(root, logs, port)
            if proc is None:
                return None
            procs[name] = (proc, port)
            wait_for(port, proc)
        before = {name: rss_mib(proc.pid) or 0.0 for name, (proc, _) in procs.items()}
        rates: dict[str, list[float]] = {name: [] for name in procs}
        for _ in range(LARGE_ROUNDS):
            for name, (_, port) in procs.items():
                url = f"http://127.0.0.1:{port}/large.bin"
                rates[name].append(parallel_download_mbps(url, size, rounds=1))
        after = {name: rss_mib(proc.pid) or 0.0 for name, (proc, _) in procs.items()}
    finally:
        for proc, _ in procs.values():
            stop_process(proc)
    for name in procs:
        rounds = " ".join(f"{rate:.0f}" for rate in rates[name])
        print(f"{name:<24} {max(rates[name]):>8.0f}  ({rounds})", end="")
        print(f"   {before[name]:>6.1f} -> {after[name]:<9.1f}")
    ratio = max(rates["krait"]) / max(rates["nginx"])
    print(f"krait / nginx: {ratio:.2f}")
    return ratio, after["krait"] - before["krait"]


def measure_latency(
    servers: list[Server], root: Path, logs: Path, args: argparse.Namespace
) -> None:
    """Open-loop latency of the hello page at fractions of each server's own peak."""
    print(f"\n{'server (hello)':<24} {'load':>5} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for server in servers:
        if server.name not in ("krait, no log", "twisted.web Resource"):
            continue
        peak = max(run.rps for run in server.results["hello"])
        port = free_port()
        proc = server.start(root, logs, port)
        assert proc is not None
        try:
            wait_for(port, proc)
            url = f"http://127.0.0.1:{port}/hello"
            for fraction in (0.25, 0.5, 0.9):
                result: Latencies = asyncio.run(
                    open_loop(url, peak * fraction, args.seconds, args.connections)
                )
                print(
                    f"{server.name:<24} {fraction:>5.0%} {result.rate:>7.0f} "
                    f"{result.p50_ms:>8.2f} {result.p99_ms:>8.2f}"
                )
        finally:
            stop_process(proc)


def main() -> None:
    """Parses the command line, runs every part and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="timed seconds per page")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--websockets", action="store_true", help="run bench_websockets.py too")
    args = parser.parse_args()
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_all: {tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # nginx's worker runs as an unprivileged user
        root, logs = Path(tmp) / "site", Path(tmp) / "logs"
        logs.mkdir()
        write_site(root)
        # The 100 MiB file is dirty page cache until the kernel writes it back, some 30 s
        # later, in the middle of the first round: write it back now, outside the rounds.
        os.sync()
        for _ in range(args.rounds):
            measure_round(SERVERS, root, logs, args)
        print(
            f"wrk -t1 -c{args.connections} -d{args.seconds}s --latency; servers on CPU 0, "
            f"clients on CPU 1; {args.rounds} rounds"
        )
        print_throughput(SERVERS)
        large = measure_large(root, logs)
        measure_latency(SERVERS, root, logs, args)
        print_goals(SERVERS, large)
    if args.websockets:
        print()
        subprocess.run([sys.executable, str(BENCH / "bench_websockets.py")], check=False)


if __name__ == "__main__":
    main()
