"""Instructions per request of krait's hello ``.py`` (or a plain Resource), counted in process.

A real ``KraitSite`` is fed pipelined GETs through ``StringTransport`` connections of 100
requests each, the page run inline (``PageGuard.run`` replaced: no thread hop), on a
``MemoryReactorClock``. Under callgrind the difference between 1,100 and 100 requests,
divided by 1,000, is the instructions of one request: deterministic, so a cut can be measured
on a loaded machine (with a fixed ``PYTHONHASHSEED``: string hashes move the count).
Syscalls (the script's ``stat``) and the hop to the pool are left out. To compare two trees,
give both the same ``--site``: the default site is made in a new temporary folder, and its name
alone moves the count by a few thousand instructions. ``--access-log`` logs to a temporary file
(the site started and stopped, so the writer thread formats and writes every line: callgrind
counts all threads; the writes themselves are syscalls, not counted).

    python bench/instructions_per_request.py [--site DIR] [--requests N] [--path /hello]
        [--resource] [--access-log]   # run N requests once (what callgrind counts)
    python bench/instructions_per_request.py --callgrind [--resource] [--access-log]
                                # both counts under valgrind, and the figure per request
"""

from __future__ import annotations

import argparse
import contextvars
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
HEAD = b"HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"


def build(site_dir: Path, resource: bool, access_log: str | None = None) -> Any:
    """The site under test: krait's, pages run inline, or the plain hello Resource."""
    from twisted.internet.testing import MemoryReactorClock

    if resource:
        sys.path.insert(0, str(BENCH))
        from hello_servers import Hello, QuietSite

        return QuietSite(Hello())
    import krait._page_guard as page_guard
    from krait._app import build_site

    def run_inline(self: Any, request: Any, what: Any, func: Any, args: Any, sink: Any) -> None:
        sink(True, contextvars.copy_context().run(func, *args))

    page_guard.PageGuard.run = run_inline  # type: ignore[method-assign,assignment]
    _, site = build_site(str(site_dir), reactor=MemoryReactorClock(), access_log=access_log)
    return site


def serve(site: Any, path: str, requests: int) -> None:
    """``requests`` pipelined GETs of ``path``, 100 per connection; checks the first answer."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport

    head = b"GET " + path.encode() + b" " + HEAD
    for number in range(max(1, requests // 100)):
        protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1234))
        wire = StringTransport()
        protocol.makeConnection(wire)
        for _ in range(100):
            protocol.dataReceived(head)
        if number == 0 and not wire.value().startswith(b"HTTP/1.1 200 "):
            raise SystemExit(f"not a 200: {wire.value()[:300]!r}")


def counted(arguments: list[str], requests: int) -> int:
    """Instructions callgrind counts for a run of ``requests``."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    command += [__file__, *arguments, "--requests", str(requests)]
    # A fixed hash seed: dict and set layouts, and so the count, are the same run after run.
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(done.stderr[-2000:])
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a site directory (default: a hello site)")
    parser.add_argument("--path", default="/hello")
    parser.add_argument("--requests", type=int, default=1100)
    parser.add_argument("--resource", action="store_true", help="the plain Resource instead")
    parser.add_argument("--callgrind", action="store_true", help="count under valgrind")
    parser.add_argument("--access-log", action="store_true", help="log to a temporary file")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        site_dir = options.site
        if site_dir is None:
            site_dir = Path(scratch)
            (site_dir / "hello.py").write_text('return "Hello, World!\\n"\n')
        if options.callgrind:
            arguments = ["--site", str(site_dir), "--path", options.path]
            arguments += ["--resource"] if options.resource else []
            arguments += ["--access-log"] if options.access_log else []
            few, many = counted(arguments, 100), counted(arguments, 1100)
            print(f"{(many - few) // 1000:,} instructions per request")
            return
        log_file = str(Path(scratch) / "access.log") if options.access_log else None
        site = build(site_dir, options.resource, log_file)
        if log_file is not None:
            site.doStart()
        serve(site, options.path, options.requests)
        if log_file is not None:
            site.doStop()
            lines = Path(log_file).read_text().count("\n")
            if lines != max(100, options.requests // 100 * 100):
                raise SystemExit(f"{lines} access lines for {options.requests} requests")


if __name__ == "__main__":
    main()
