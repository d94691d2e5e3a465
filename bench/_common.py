"""What every benchmark needs: free ports, waiting for a server, CPU pinning, process RSS."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


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
