"""CPU time per request of krait's hello ``.py`` beside a plain twisted.web Resource.

On a shared machine req/s moves with whatever else runs; the CPU time the server process
spends per request (utime + stime of all its threads, from ``/proc/PID/stat``, over a wrk
run, divided by the requests wrk completed) moves far less. Servers are pinned to CPU 0 and
wrk to CPU 1; the servers are measured one after the other, ``--rounds`` times, and the
table shows every round and the best (lowest) figure per server.

    python bench/cpu_per_request.py [--seconds 4] [--rounds 3] [--connections 32]
        [--servers krait-log,krait,resource] [--page hello] [--krait-options "--threads 4"]
        [--compare-with CHECKOUT]

``--compare-with`` adds ``other-log`` and ``other``: krait from another checkout (before/after
a change), measured in the same rounds. The rounds interleave the servers, so a disturbance
of the machine hits them alike.

``--page`` picks the krait page: ``hello`` (a ``.py`` script), ``pyml`` (a Pyml template
with code), ``mvc`` (a controller and its view), ``static`` (a 1 KiB file).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from _common import cpu_seconds, free_port, pinned, start_krait, stop_process, wait_for

BENCH = Path(__file__).resolve().parent

PAGES = {"hello": "/hello", "pyml": "/page.pyml", "mvc": "/mvc", "static": "/small.bin"}

INIT = """from krait import config, mvc


class PageCtrl(mvc.CtrlBase):
    def get_view(self):
        return ".view/page.pyml"


config.routes = [
    config.Route(url="/mvc", ctrl_class=PageCtrl),
    config.Route(),
]
"""


def write_site(root: Path) -> None:
    """The pages the servers answer: hello.py, a Pyml page, an MVC route, a 1 KiB file."""
    root.mkdir()
    (root / "hello.py").write_text('return "Hello, World!\\n"\n')
    (root / "page.pyml").write_text("<p><?= 1 + 1 ?></p>\n")
    (root / ".py").mkdir()
    (root / ".py" / "init.py").write_text(INIT)
    (root / ".view").mkdir()
    (root / ".view" / "page.pyml").write_text("<p><?= 1 + 1 ?></p>\n")
    (root / "small.bin").write_bytes(os.urandom(1024))


def start_resource(port: int) -> subprocess.Popen[bytes]:
    """The plain twisted.web Resource of ``hello_servers.py``, pinned to CPU 0."""
    command = [sys.executable, str(BENCH / "hello_servers.py"), "resource", str(port)]
    return subprocess.Popen(pinned(command, "0"), stderr=subprocess.DEVNULL)


def server_pid(proc: subprocess.Popen[bytes]) -> int:
    """The server's own pid (taskset execs it, so it is the Popen's pid)."""
    return proc.pid


def wrk_requests(url: str, seconds: int, connections: int) -> int:
    """Requests wrk completed on ``url`` in ``seconds`` (on CPU 1)."""
    done = subprocess.run(
        pinned(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url], "1"),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    if "Non-2xx" in done.stdout:
        raise RuntimeError(f"{url}: wrk saw error answers:\n{done.stdout}")
    found = re.search(r"(\d+) requests in", done.stdout)
    if found is None:
        raise RuntimeError(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
    return int(found.group(1))


def measure(
    start: Callable[[int], subprocess.Popen[bytes]], path: str, args: argparse.Namespace
) -> float:
    """Microseconds of server CPU per request, one wrk run after a warm-up."""
    port = free_port()
    proc = start(port)
    try:
        wait_for(port, proc)
        url = f"http://127.0.0.1:{port}{path}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
        wrk_requests(url, 1, args.connections)
        before = cpu_seconds(server_pid(proc)) or 0.0
        requests = wrk_requests(url, args.seconds, args.connections)
        after = cpu_seconds(server_pid(proc)) or 0.0
        return (after - before) * 1e6 / max(requests, 1)
    finally:
        stop_process(proc)


def main() -> None:
    """Measure each server ``--rounds`` times and print µs per request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--servers", default="krait-log,krait,resource")
    parser.add_argument("--page", default="hello", choices=sorted(PAGES))
    parser.add_argument("--krait-options", default="", help="more krait options, one string")
    parser.add_argument("--compare-with", type=Path, help="another checkout of krait to run too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        write_site(site)
        log = str(Path(tmp) / "access.log")
        more = args.krait_options.split()
        starts: dict[str, Callable[[int], subprocess.Popen[bytes]]] = {
            "krait-log": lambda port: start_krait(site, port, "--access-log", log, *more),
            "krait": lambda port: start_krait(site, port, "--no-access-log", *more),
            "resource": start_resource,
        }
        names = args.servers.split(",")
        other = args.compare_with
        if other is not None:
            starts["other-log"] = lambda port: start_krait(
                site, port, "--access-log", log, *more, checkout=other
            )
            starts["other"] = lambda port: start_krait(
                site, port, "--no-access-log", *more, checkout=other
            )
            names += [f"other{name[len('krait') :]}" for name in names if name.startswith("krait")]
        figures: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.rounds):
            for name in names:
                path = "/hello" if name == "resource" else PAGES[args.page]
                figures[name].append(measure(starts[name], path, args))
    print(f"server CPU µs per request, wrk -t1 -c{args.connections} -d{args.seconds}s")
    for name in names:
        rounds = " ".join(f"{value:7.1f}" for value in figures[name])
        page = "hello" if name == "resource" else args.page
        best, median = min(figures[name]), statistics.median(figures[name])
        print(f"{name:<10} {page:<7} {rounds}   best {best:7.1f}  median {median:7.1f}")
    if "resource" in figures:
        anchor = min(figures["resource"])
        for name in names:
            if name != "resource":
                print(f"efficiency {name}: {anchor / min(figures[name]):.2f}")


if __name__ == "__main__":
    main()
