"""LogWriter, and the access log it writes: a log nobody reads never stalls the server."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import REPO, free_port, wait_for_port, write_site

from krait._log_writer import LogWriter


def test_lines_reach_the_file_in_order_and_close_flushes_them(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    with path.open("w", encoding="utf-8") as file:
        writer = LogWriter(file)
        for number in range(1000):
            writer.write(f"line {number}\n")
        assert writer.close() is True
    assert path.read_text().splitlines() == [f"line {number}" for number in range(1000)]


def test_records_are_formatted_by_the_writer_in_order_with_text(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    with path.open("w", encoding="utf-8") as file:
        writer = LogWriter(file, formatter=lambda records: "".join(f"{r}\n" for r in records))
        writer.write_records([1, 2])
        writer.write("text\n")
        writer.write_records([3])
        assert writer.close() is True
    assert path.read_text().splitlines() == ["1", "2", "text", "3"]


def test_a_pipe_nobody_reads_never_blocks_the_writer_and_drops_beyond_the_bound() -> None:
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)  # fill the pipe first, as a reader that stopped would
        with contextlib.suppress(BlockingIOError):
            while True:
                os.write(write_end, b"x" * 4096)
        os.set_blocking(write_end, True)
        with os.fdopen(write_end, "w", closefd=False) as file:
            writer = LogWriter(file, max_pending=10_000)
            started = time.monotonic()
            for _ in range(20_000):  # about 1.2 MB: far over the bound
                writer.write("x" * 59 + "\n")
            assert time.monotonic() - started < 5
            assert writer.take_dropped() > 0
            assert writer.take_dropped() == 0  # counted once
            assert writer.close(timeout=0.2) is False  # still stuck, but close returned
    finally:
        os.close(read_end)  # the stuck write now fails, and the thread ends
        os.close(write_end)


def test_server_with_an_unread_stdout_keeps_serving_and_stops_on_sigterm(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "home"})
    port = free_port()
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "krait", str(site), "--listen", f"tcp:{port}:interface=127.0.0.1"],
        stdout=subprocess.PIPE,  # the access log's pipe, never read
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    try:
        wait_for_port(port, process)
        agent = "a" * 4000  # long lines fill the 64 KiB pipe after a few dozen requests
        for _ in range(300):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/", headers={"User-Agent": agent}
            )
            assert urllib.request.urlopen(request, timeout=5).read() == b"home"
        process.terminate()
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
