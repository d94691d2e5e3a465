"""What every benchmark needs: free ports, waiting for a server, CPU pinning, process RSS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 20
) -> None:
    """Wait until something accepts connections on ``port`` (or the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def pinned(command: list[str], cpu: str) -> list[str]:
    """``command`` run on the given CPU when taskset is available (servers on 0, clients on 1)."""
    return (["taskset", "-c", cpu] if shutil.which("taskset") else []) + command


def rss_mib(pid: int) -> float | None:
    """The resident memory of a process in MiB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of every thread of process ``pid`` so far, in seconds (None if gone).

    Children are not counted: for nginx, whose workers do the work, this says nothing.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class WrkResult:
    """Throughput and latency percentiles wrk measured (closed loop: at saturation)."""

    rps: float
    p50_ms: float
    p99_ms: float


def wrk(url: str, seconds: int, connections: int, headers: tuple[str, ...] = ()) -> WrkResult:
    """Run wrk on ``url`` (one thread, keep-alive, on CPU 1) and read its figures.

    ``headers`` are sent with every request (``"Accept-Encoding: gzip"``).

    Raises:
        RuntimeError: wrk saw error answers (fast and meaningless) or printed no result.
    """
    extra = [arg for header in headers for arg in ("-H", header)]
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url]
    done = subprocess.run(
        pinned(command, "1"),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    if "Non-2xx" in done.stdout:
        raise RuntimeError(f"{url}: wrk saw error answers:\n{done.stdout}")
    figures: dict[str, float] = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        if line.startswith("Requests/sec:"):
            figures["rps"] = float(fields[1])
        elif len(fields) == 2 and fields[0] in ("50%", "99%"):
            figures[fields[0]] = _milliseconds(fields[1])
    if len(figures) != 3:
        raise RuntimeError(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
    return WrkResult(figures["rps"], figures["50%"], figures["99%"])


def _milliseconds(text: str) -> float:
    """wrk's ``812.00us``, ``3.20ms`` or ``1.02s`` in milliseconds."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)


def wrk_rps(url: str, seconds: int, connections: int, headers: tuple[str, ...] = ()) -> float:
    """Requests per second wrk reaches on ``url`` (see :func:`wrk`)."""
    return wrk(url, seconds, connections, headers).rps


def start_krait(
    site: Path, port: int, *options: str, checkout: Path = REPO
) -> subprocess.Popen[bytes]:
    """``python -m krait`` from ``checkout`` (this one by default) serving ``site`` on
    127.0.0.1:``port``, pinned to CPU 0."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    command = [
        sys.executable,
        "-m",
        "krait",
        str(site),
        "--listen",
        f"tcp:{port}:interface=127.0.0.1",
        *options,
    ]
    return subprocess.Popen(pinned(command, "0"), env=env, cwd=checkout, stderr=subprocess.DEVNULL)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server, killing it if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
