"""Where a server's CPU goes under wrk, by Python function, with the kernel's share: perf maps.

Sampling profilers that read a Python process from outside (py-spy) cannot tell a thread
that runs from one blocked in ``epoll_wait`` or on a lock, and deterministic profilers
(cProfile, yappi) cost so much per call that they rank code by its number of calls. This
runs the server under a Python 3.12+ interpreter with ``-X perf``, which gives every Python
function a trampoline the kernel profiler can name, records ``perf record --call-graph
dwarf`` on CPU 0 while wrk loads it from CPU 1, and charges each sample to the innermost
Python function on its stack: a function's own bytecode, the C code it calls (dict
lookups, object creation) and the system calls it makes (``send``, ``stat``). It prints
µs per request for each function, krait beside the plain Resource.

    python bench/profile_functions.py --python /path/to/python3.12 [--page /hello]
        [--seconds 5] [--top 60] [--krait-options "--access-log /tmp/a.log"]

The interpreter given must have krait's dependencies installed (a venv of its own:
``python3.12 -m venv v && v/bin/pip install -e .``). The figures include perf's own overhead
(about a third more than unprofiled): compare rows with each other, not with req/s.
Needs ``perf`` (Debian's linux-perf) and wrk.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import REPO, free_port, pinned, stop_process, wait_for
from cpu_per_request import PAGES, write_site, wrk_requests

BENCH = Path(__file__).resolve().parent
FREQUENCY = 2000
PERF_RECORD = ("perf", "record", "-e", "cpu-clock", "--call-graph", "dwarf,8192")


def server_command(python: str, which: str, site: Path, port: int, options: list[str]) -> list[str]:
    """The command of krait (``python -m krait``) or of the Resource, under ``-X perf``."""
    if which == "resource":
        return [python, "-X", "perf", str(BENCH / "hello_servers.py"), "resource", str(port)]
    listen = f"tcp:{port}:interface=127.0.0.1"
    return [python, "-X", "perf", "-m", "krait", str(site), "--listen", listen, *options]


def record(command: list[str], port: int, url_path: str, seconds: int, data: Path) -> int:
    """Run the server, load it, record perf samples of CPU 0; the requests wrk completed."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    server = subprocess.Popen(pinned(command, "0"), env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server)
        url = f"http://127.0.0.1:{port}{url_path}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
        wrk_requests(url, 1, 32)
        perf = subprocess.Popen(
            [*PERF_RECORD, "-F", str(FREQUENCY), "-p", str(server.pid), "-o", str(data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        requests = wrk_requests(url, seconds, 32)
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
        return requests
    finally:
        stop_process(server)


def by_function(data: Path) -> collections.Counter[str]:
    """Samples per innermost Python function (``?`` when a stack has none)."""
    script = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "ip,sym"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: collections.Counter[str] = collections.Counter()
    for sample in script.split("\n\n"):
        frames = [line.split(None, 1) for line in sample.strip().splitlines()]
        symbols = [parts[1] for parts in frames if len(parts) == 2]
        if not symbols:
            continue
        python = next((symbol for symbol in symbols if symbol.startswith("py::")), None)
        counts[_short(python) if python else "?"] += 1
    return counts


def _short(symbol: str) -> str:
    """``py::Class.method:/path/to/module.py`` as ``Class.method (module.py)``."""
    name, _, path = symbol.removeprefix("py::").partition(":")
    return f"{name} ({Path(path).name})"


def main() -> None:
    """Profile krait's page and the Resource's hello; print µs per request per function."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="a Python 3.12+ with krait's deps")
    parser.add_argument("--page", default="hello", choices=sorted(PAGES))
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--krait-options", default="--no-access-log")
    args = parser.parse_args()
    per_request: dict[str, dict[str, float]] = {}
    totals: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        write_site(site)
        for which in ("krait", "resource"):
            port = free_port()
            options = args.krait_options.split()
            command = server_command(args.python, which, site, port, options)
            path = "/hello" if which == "resource" else PAGES[args.page]
            data = Path(tmp) / f"{which}.data"
            requests = record(command, port, path, args.seconds, data)
            scale = 1e6 / FREQUENCY / max(requests, 1)
            counts = by_function(data)
            per_request[which] = {name: count * scale for name, count in counts.items()}
            totals[which] = sum(counts.values()) * scale
    krait, resource = per_request["krait"], per_request["resource"]
    print(
        f"µs per request under perf: krait {totals['krait']:.1f}, Resource {totals['resource']:.1f}"
    )
    print(f"{'krait':>7} {'Resource':>8}  innermost Python function (module)")
    names = sorted(
        set(krait) | set(resource), key=lambda n: -(krait.get(n, 0) + resource.get(n, 0))
    )
    for name in names[: args.top]:
        print(f"{krait.get(name, 0):7.2f} {resource.get(name, 0):8.2f}  {name}")


if __name__ == "__main__":
    main()
