"""Server memory under big multipart uploads: bounded per request, whatever the body's shape.

A body cut into parts just under 1 MiB used to be held whole (a threshold per part), so 16
concurrent 99 MiB uploads took the server to 1.6 GB. Each test here starts its own
``twistd krait``, so VmHWM (the peak resident set since the process started) is that test's
peak; the client streams every body, so the client holds no body in memory either, and the
site's script stores each part on disk and answers a SHA-256 of what it stored, which the
test checks against what it sent and against the files on disk.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

import pytest
from conftest import Server, start_server, write_site

pytestmark = pytest.mark.slow

MIB = 1 << 20
PART_SIZE = 800 * 1024
"""Under the old 1 MiB threshold per part, so each part used to stay in memory."""

BOUNDARY = "krait-memory-boundary-19c2"
ALLOWED_GROWTH_MIB = 150

STORE = r"""
import hashlib, json, os

folder = krait.get_full_path(".uploads/" + krait.request.query["id"])
os.makedirs(folder, exist_ok=True)
digest = hashlib.sha256()
stored = 0
for part in krait.request.get_uploads():
    with open(os.path.join(folder, "%04d" % stored), "wb") as out:
        while chunk := part.file.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    stored += 1
krait.set_content_type(raw="application/json")
return json.dumps({"parts": stored, "sha256": digest.hexdigest()})
"""

INIT = """\
from krait.config import Route
import krait

krait.config.routes = [Route("POST", url="/store"), Route()]
"""

NOISE = random.Random(11).randbytes(2 * MIB)


def part_content(upload: int, index: int, size: int) -> bytes:
    """A part's content, different for every upload and part, without generating new noise."""
    stamp = b"%08d:%08d:" % (upload, index)
    start = (upload * 7919 + index * 4093) % MIB
    return stamp + NOISE[start : start + size - len(stamp)]


def memory_mib(pid: int) -> dict[str, float]:
    """The server's VmRSS (resident now) and VmHWM (peak resident) in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(value.split()[0]) / 1024
    return values


@dataclass
class Upload:
    """What one upload sent, and what the server answered."""

    parts: int
    sent_sha256: str
    answer: dict[str, object]


def post_parts(server: Server, upload: int, parts: int, chunked: bool = False) -> Upload:
    """Stream a multipart body of ``parts`` file parts of PART_SIZE bytes to /store."""
    heads = [
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=f{index}; "
        f'filename="f{index}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        for index in range(parts)
    ]
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    length = sum(map(len, heads)) + parts * PART_SIZE + 2 * (parts - 1) + len(tail)
    connection = HTTPConnection("127.0.0.1", server.port, timeout=120)

    def send(data: bytes) -> None:
        connection.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

    digest = hashlib.sha256()
    try:
        connection.putrequest("POST", f"/store?id={upload}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        else:
            connection.putheader("Content-Length", str(length))
        connection.endheaders()
        for index, head in enumerate(heads):
            send((b"\r\n" if index else b"") + head)
            content = part_content(upload, index, PART_SIZE)
            digest.update(content)
            send(content)
        send(tail)
        if chunked:
            connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, body[:300]
    finally:
        connection.close()
    return Upload(parts, digest.hexdigest(), json.loads(body))


def stored_sha256(folder: Path) -> str:
    """The SHA-256 of the files the script stored, in part order."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        with path.open("rb") as file:
            while chunk := file.read(MIB):
                digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    root = write_site(tmp_path / "site", {".py/init.py": INIT, "store.py": STORE})
    yield root
    # Up to 1.6 GB of stored parts: not left behind in pytest's kept temporary folders.
    shutil.rmtree(root / ".uploads", ignore_errors=True)


def start_warm_server(site: Path, log_dir: Path, *args: str) -> tuple[Server, float]:
    """Start ``twistd krait`` and serve one small upload; return it and its resident MiB."""
    server = start_server(site, log_dir, *args, twistd=True)
    post_parts(server, upload=9999, parts=2)
    return server, memory_mib(server.process.pid)["VmRSS"]


def assert_stored_intact(site: Path, uploads: list[tuple[int, Upload]]) -> None:
    for number, upload in uploads:
        assert upload.answer == {"parts": upload.parts, "sha256": upload.sent_sha256}
        assert stored_sha256(site / ".uploads" / str(number)) == upload.sent_sha256


def test_sixteen_concurrent_99_mib_uploads_of_small_parts_stay_within_150_mib(
    site: Path, tmp_path: Path
) -> None:
    """One upload per server thread, each 126 parts of 800 KiB: 98.4 MiB, under the limit."""
    server, idle = start_warm_server(site, tmp_path / "logs")
    try:
        with ThreadPoolExecutor(16) as pool:
            uploads = list(pool.map(lambda number: post_parts(server, number, 126), range(16)))
        memory = memory_mib(server.process.pid)
    finally:
        server.stop()
    assert_stored_intact(site, list(enumerate(uploads)))
    growth = memory["VmHWM"] - idle
    assert growth < ALLOWED_GROWTH_MIB, (
        f"peak {memory['VmHWM']:.0f} MiB against {idle:.0f} MiB idle: "
        f"the server grew by {growth:.0f} MiB for 16 concurrent uploads"
    )


def test_200_mib_chunked_body_of_small_parts_stays_within_150_mib(
    site: Path, tmp_path: Path
) -> None:
    """256 parts of 800 KiB, chunked (so of unknown length), with --max-body-size raised."""
    server, idle = start_warm_server(site, tmp_path / "logs", "--max-body-size", str(210 * MIB))
    try:
        upload = post_parts(server, 0, 256, chunked=True)
        memory = memory_mib(server.process.pid)
    finally:
        server.stop()
    assert_stored_intact(site, [(0, upload)])
    growth = memory["VmHWM"] - idle
    assert growth < ALLOWED_GROWTH_MIB, (
        f"peak {memory['VmHWM']:.0f} MiB against {idle:.0f} MiB idle: "
        f"the server grew by {growth:.0f} MiB for one 200 MiB body"
    )
