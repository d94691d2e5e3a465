"""Big multipart uploads: streamed to disk by the server, never held in its memory."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import pytest
import requests
from conftest import Server, start_server, write_site

SAVE = r"""
import hashlib, json, os

target_dir = krait.get_full_path(".uploads")
os.makedirs(target_dir, exist_ok=True)
saved = []
for part in krait.request.get_uploads():
    if part.filename is None:
        saved.append([part.name, None, part.size, part.file.read().decode()])
        continue
    # The client's name is untrusted and may be a Windows path: keep its last component only.
    name = os.path.basename(part.filename.replace("\\", "/"))
    digest = hashlib.sha256()
    with open(os.path.join(target_dir, name), "wb") as out:
        while chunk := part.file.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    saved.append([part.name, name, part.size, digest.hexdigest()])
krait.set_content_type(raw="application/json")
return json.dumps(saved)
"""

INIT = """\
from krait.config import Route
import krait

krait.config.routes = [Route("POST", url="/save"), Route()]
"""

MIB = 1 << 20
UPLOAD_MIB = 56
BOUNDARY = "krait-upload-boundary-7f3a"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Server]:
    root = write_site(tmp_path / "site", {".py/init.py": INIT, "save.py": SAVE})
    server = start_server(root, tmp_path / "logs")
    yield server
    server.stop()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc")


def file_blocks(count: int, seed: int) -> Iterator[bytes]:
    """``count`` MiB of reproducible pseudo-random bytes, one MiB at a time."""
    generator = random.Random(seed)
    for _ in range(count):
        yield generator.randbytes(MIB)


def post_big_upload(server: Server, size_mib: int) -> tuple[dict[str, object], str]:
    """Stream a multipart body with one field and one ``size_mib`` file; return the answer and
    the file's sha256 as sent."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nholiday\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video"; '
        f'filename="C:\\\\clips\\\\big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    digest = hashlib.sha256()
    connection = HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        connection.putrequest("POST", "/save")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        connection.putheader("Content-Length", str(len(head) + size_mib * MIB + len(tail)))
        connection.endheaders()
        connection.send(head)
        for block in file_blocks(size_mib, seed=1234):
            digest.update(block)
            connection.send(block)
        connection.send(tail)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        answer = json.loads(response.read())
    finally:
        connection.close()
    return {"parts": answer}, digest.hexdigest()


@pytest.mark.slow
def test_big_upload_is_saved_intact_without_growing_server_memory(site: Server) -> None:
    requests.post(site.url + "/save", files={"warm": ("w.txt", b"up")}, timeout=30)
    before = rss_bytes(site.process.pid)
    answer, sent_sha256 = post_big_upload(site, UPLOAD_MIB)
    growth = rss_bytes(site.process.pid) - before
    assert answer["parts"] == [
        ["title", None, 7, "holiday"],
        ["video", "big.bin", UPLOAD_MIB * MIB, sent_sha256],
    ]
    assert growth < UPLOAD_MIB * MIB // 4, f"the server grew by {growth / MIB:.1f} MiB"


@pytest.mark.slow
def test_saved_upload_matches_what_was_sent(site: Server, tmp_path: Path) -> None:
    _answer, sent_sha256 = post_big_upload(site, 3)
    saved = tmp_path / "site" / ".uploads" / "big.bin"
    assert saved.stat().st_size == 3 * MIB
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == sent_sha256


def test_uploads_in_a_hidden_folder_cannot_be_downloaded(site: Server) -> None:
    requests.post(site.url + "/save", files={"doc": ("secret.txt", b"s3cret")}, timeout=30)
    assert requests.get(site.url + "/.uploads/secret.txt", timeout=10).status_code == 404
