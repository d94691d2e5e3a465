"""gzip on the wire: static files (in memory, precompressed siblings) and pages.

``http.client`` is used because it does not decode bodies: the tests see the bytes sent.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, body, fetch, start_server, write_site

MTIME = 1_600_000_000
CSS = ("".join(f".rule{i} {{ color: #{i:06x}; margin: {i}px }}\n" for i in range(400))).encode()
BIG_TEXT = ("".join(f"line {i} of a long text file\n" for i in range(20_000))).encode()
PNG = b"\x89PNG\r\n\x1a\n" + hashlib.sha256(b"x").digest() * 100

SITE: dict[str, str | bytes] = {
    "style.css": CSS,
    "big.txt": BIG_TEXT,
    "tiny.txt": "small\n",
    "photo.png": PNG,
    "pre.js": b"// the source\n" * 200,
    "stale.js": b"// the newer source\n" * 200,
    "page.py": (
        "import krait\nkrait.set_content_type('text/html')\n"
        "krait.response = krait.Response('HTTP/1.1', 200, [], '<p>hi</p>' * 500)\n"
    ),
    "short.py": (
        "import krait\nkrait.set_content_type('text/html')\n"
        "krait.response = krait.Response('HTTP/1.1', 200, [], '<p>hi</p>')\n"
    ),
    ".py/init.py": "import krait\n",
    "encoded.py": (
        "import gzip, krait\n"
        "krait.response = krait.Response(\n"
        "    'HTTP/1.1', 200, [('Content-Encoding', 'gzip')], gzip.compress(b'x' * 5000))\n"
    ),
    "stream.py": (
        "import krait\n"
        "krait.set_content_type('text/html')\n"
        "def chunks():\n"
        "    for _ in range(100):\n"
        "        yield '<p>a streamed chunk</p>'\n"
        "krait.response = krait.Response('HTTP/1.1', 200, [], chunks())\n"
    ),
}
PRECOMPRESSED = b"made ahead of time\n"


def _build(root: Path) -> Path:
    write_site(root, SITE)
    (root / "pre.js.gz").write_bytes(gzip.compress(PRECOMPRESSED))
    (root / "stale.js.gz").write_bytes(gzip.compress(b"an old version\n"))
    for path in root.rglob("*"):
        os.utime(path, (MTIME, MTIME))
    os.utime(root / "pre.js.gz", (MTIME + 10, MTIME + 10))
    os.utime(root / "stale.js.gz", (MTIME - 10, MTIME - 10))
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = _build(tmp_path_factory.mktemp("site"))
    running = start_server(root, tmp_path_factory.mktemp("logs"))
    yield running
    running.stop()


def test_a_css_file_is_gzipped_for_a_client_that_accepts_it(server: Server) -> None:
    answer = fetch(server, "/style.css", Accept_Encoding="gzip, deflate")
    assert answer.status == 200
    assert answer.getheader("Content-Encoding") == "gzip"
    assert answer.getheader("Vary") == "Accept-Encoding"
    assert int(answer.getheader("Content-Length", "0")) == len(body(answer)) < len(CSS)
    assert gzip.decompress(body(answer)) == CSS


def test_the_identity_answer_varies_too_and_has_another_etag(server: Server) -> None:
    zipped = fetch(server, "/style.css", Accept_Encoding="gzip")
    plain = fetch(server, "/style.css", Accept_Encoding="identity")
    assert plain.getheader("Content-Encoding") is None
    assert plain.getheader("Vary") == "Accept-Encoding"
    assert body(plain) == CSS
    assert zipped.getheader("ETag") == plain.getheader("ETag", "")[:-1] + '-gz"'


def test_the_gzip_etag_revalidates_to_304(server: Server) -> None:
    etag = fetch(server, "/style.css", Accept_Encoding="gzip").getheader("ETag", "")
    answer = fetch(server, "/style.css", Accept_Encoding="gzip", If_None_Match=etag)
    assert answer.status == 304
    assert answer.getheader("ETag") == etag
    assert answer.getheader("Vary") == "Accept-Encoding"
    assert answer.getheader("Content-Encoding") is None
    assert body(answer) == b""


def test_head_gets_the_headers_of_the_gzip_get(server: Server) -> None:
    get = fetch(server, "/style.css", Accept_Encoding="gzip")
    head = fetch(server, "/style.css", "HEAD", Accept_Encoding="gzip")
    for name in ("Content-Encoding", "Content-Length", "ETag", "Vary", "Content-Type"):
        assert head.getheader(name) == get.getheader(name)
    assert body(head) == b""


def test_a_range_request_gets_identity_bytes(server: Server) -> None:
    answer = fetch(server, "/style.css", Accept_Encoding="gzip", Range="bytes=0-9")
    assert answer.status == 206
    assert answer.getheader("Content-Encoding") is None
    assert body(answer) == CSS[:10]


def test_a_large_text_file_without_a_sibling_is_sent_as_it_is(server: Server) -> None:
    """Compressing half a megabyte would hold up every other connection: precompress it."""
    answer = fetch(server, "/big.txt", Accept_Encoding="gzip")
    assert answer.getheader("Content-Encoding") is None
    assert answer.getheader("Vary") == "Accept-Encoding"
    assert body(answer) == BIG_TEXT


@pytest.mark.parametrize("path", ["/photo.png", "/tiny.txt"])
def test_images_and_tiny_files_are_never_gzipped(server: Server, path: str) -> None:
    answer = fetch(server, path, Accept_Encoding="gzip")
    assert answer.status == 200
    assert answer.getheader("Content-Encoding") is None
    assert answer.getheader("Vary") is None


def test_a_fresh_precompressed_sibling_is_sent(server: Server) -> None:
    answer = fetch(server, "/pre.js", Accept_Encoding="gzip")
    assert answer.getheader("Content-Encoding") == "gzip"
    assert answer.getheader("Content-Type", "").startswith("text/javascript")
    assert gzip.decompress(body(answer)) == PRECOMPRESSED
    assert answer.getheader("ETag", "").endswith('-gz"')


def test_the_sibling_itself_is_still_served_under_its_own_name(server: Server) -> None:
    answer = fetch(server, "/pre.js.gz", Accept_Encoding="gzip")
    assert answer.getheader("Content-Encoding") is None
    assert gzip.decompress(body(answer)) == PRECOMPRESSED


def test_a_sibling_older_than_the_file_is_ignored(server: Server) -> None:
    answer = fetch(server, "/stale.js", Accept_Encoding="gzip")
    assert answer.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(body(answer)) == b"// the newer source\n" * 200


def test_no_compression_serves_identity(tmp_path: Path) -> None:
    root = _build(tmp_path / "site")
    running = start_server(root, tmp_path / "logs", "--no-compression")
    try:
        for path in ("/style.css", "/pre.js", "/page.py"):
            answer = fetch(running, path, Accept_Encoding="gzip")
            assert answer.status == 200
            assert answer.getheader("Content-Encoding") is None
            assert answer.getheader("Vary") is None
    finally:
        running.stop()


def test_a_page_is_gzipped_with_vary(server: Server) -> None:
    answer = fetch(server, "/page.py", Accept_Encoding="gzip")
    assert answer.status == 200
    assert answer.getheader("Content-Encoding") == "gzip"
    assert answer.getheader("Vary") == "Accept-Encoding"
    assert int(answer.getheader("Content-Length", "0")) == len(body(answer))
    assert gzip.decompress(body(answer)) == b"<p>hi</p>" * 500


def test_a_page_for_a_client_without_gzip_is_identity_and_varies(server: Server) -> None:
    answer = fetch(server, "/page.py")
    assert answer.getheader("Content-Encoding") is None
    assert answer.getheader("Vary") == "Accept-Encoding"
    assert body(answer) == b"<p>hi</p>" * 500


@pytest.mark.parametrize("path", ["/short.py", "/stream.py"])
def test_short_and_streamed_pages_are_left_alone(server: Server, path: str) -> None:
    answer = fetch(server, path, Accept_Encoding="gzip")
    assert answer.status == 200
    assert answer.getheader("Content-Encoding") is None
    assert b"<p>" in body(answer)


def test_a_page_that_encoded_its_body_itself_is_sent_as_it_is(server: Server) -> None:
    answer = fetch(server, "/encoded.py", Accept_Encoding="gzip")
    assert answer.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(body(answer)) == b"x" * 5000


def test_the_sibling_etag_revalidates_to_304(server: Server) -> None:
    etag = fetch(server, "/pre.js", Accept_Encoding="gzip").getheader("ETag", "")
    answer = fetch(server, "/pre.js", Accept_Encoding="gzip", If_None_Match=etag)
    assert answer.status == 304
    assert answer.getheader("Vary") == "Accept-Encoding"
    assert body(answer) == b""


def test_the_identity_etag_does_not_revalidate_the_gzip_form(server: Server) -> None:
    etag = fetch(server, "/style.css", Accept_Encoding="identity").getheader("ETag", "")
    answer = fetch(server, "/style.css", Accept_Encoding="gzip", If_None_Match=etag)
    assert answer.status == 200
    assert answer.getheader("Content-Encoding") == "gzip"


def test_head_of_a_page_gets_the_headers_of_its_gzip_get(server: Server) -> None:
    get = fetch(server, "/page.py", Accept_Encoding="gzip")
    head = fetch(server, "/page.py", "HEAD", Accept_Encoding="gzip")
    for name in ("Content-Encoding", "Content-Length", "Vary"):
        assert head.getheader(name) == get.getheader(name)
    assert body(head) == b""
