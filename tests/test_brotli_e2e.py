"""Brotli on the wire: negotiation against gzip, static files, ``.br`` siblings, pages.

``http.client`` sees the bytes as sent (it decodes nothing); curl, a real client that asks
for ``br`` with ``--compressed``, checks that what it decodes is the file.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest
from conftest import Server, body, fetch, start_server, write_site

MTIME = 1_600_000_000
CSS = ("".join(f".rule{i} {{ color: #{i:06x}; margin: {i}px }}\n" for i in range(400))).encode()
BIG_PAGE_ROWS = 20_000
BROWSER_ACCEPT = "gzip, deflate, br, zstd"

SITE: dict[str, str | bytes] = {
    "style.css": CSS,
    "pre.js": b"// the source\n" * 200,
    "stale.js": b"// the newer source\n" * 200,
    "page.py": (
        "import krait\nkrait.set_content_type('text/html')\n"
        "krait.response = krait.Response(\n"
        "    'HTTP/1.1', 200, [('ETag', '\"v1\"')], '<p>hi</p>' * 500)\n"
    ),
    "big.py": (
        "import krait\nkrait.set_content_type('text/html')\n"
        f"rows = ''.join(f'<tr><td>{{i}}</td></tr>' for i in range({BIG_PAGE_ROWS}))\n"
        "krait.response = krait.Response('HTTP/1.1', 200, [], rows)\n"
    ),
    ".py/init.py": "import krait\n",
}
PRECOMPRESSED = b"made ahead of time, at quality 11\n"


def _build(root: Path) -> Path:
    write_site(root, SITE)
    (root / "pre.js.br").write_bytes(brotli.compress(PRECOMPRESSED, quality=11))
    (root / "stale.js.br").write_bytes(brotli.compress(b"an old version\n"))
    for path in root.rglob("*"):
        os.utime(path, (MTIME, MTIME))
    os.utime(root / "pre.js.br", (MTIME + 10, MTIME + 10))
    os.utime(root / "stale.js.br", (MTIME - 10, MTIME - 10))
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = _build(tmp_path_factory.mktemp("site"))
    running = start_server(root, tmp_path_factory.mktemp("logs"))
    yield running
    running.stop()


def test_a_browser_offer_gets_brotli_for_a_css_file(server: Server) -> None:
    answer = fetch(server, "/style.css", Accept_Encoding=BROWSER_ACCEPT)
    assert answer.status == 200
    assert answer.headers["Content-Encoding"] == "br"
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert answer.headers["ETag"].endswith('-br"')
    assert "Accept-Ranges" not in answer.headers
    assert brotli.decompress(body(answer)) == CSS
    assert int(answer.headers["Content-Length"]) == len(body(answer))


def test_a_client_preferring_gzip_by_q_value_gets_gzip(server: Server) -> None:
    answer = fetch(server, "/style.css", Accept_Encoding="br;q=0.5, gzip")
    assert answer.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body(answer)) == CSS


def test_each_coding_has_its_own_etag_and_each_revalidates_only_itself(server: Server) -> None:
    as_brotli = fetch(server, "/style.css", Accept_Encoding="br")
    as_gzip = fetch(server, "/style.css", Accept_Encoding="gzip")
    identity = fetch(server, "/style.css")
    tags = {as_brotli.headers["ETag"], as_gzip.headers["ETag"], identity.headers["ETag"]}
    assert len(tags) == 3
    same = fetch(
        server, "/style.css", Accept_Encoding="br", If_None_Match=as_brotli.headers["ETag"]
    )
    assert same.status == 304
    other = fetch(server, "/style.css", Accept_Encoding="br", If_None_Match=as_gzip.headers["ETag"])
    assert other.status == 200 and brotli.decompress(body(other)) == CSS


def test_a_range_request_gets_identity_bytes_even_from_a_brotli_client(server: Server) -> None:
    answer = fetch(server, "/style.css", Accept_Encoding=BROWSER_ACCEPT, Range="bytes=0-9")
    assert answer.status == 206
    assert "Content-Encoding" not in answer.headers
    assert body(answer) == CSS[:10]


def test_a_fresh_br_sibling_is_sent_and_a_stale_one_is_not(server: Server) -> None:
    fresh = fetch(server, "/pre.js", Accept_Encoding=BROWSER_ACCEPT)
    assert fresh.headers["Content-Encoding"] == "br"
    assert brotli.decompress(body(fresh)) == PRECOMPRESSED
    stale = fetch(server, "/stale.js", Accept_Encoding=BROWSER_ACCEPT)
    assert stale.headers["Content-Encoding"] == "br"
    assert brotli.decompress(body(stale)) == b"// the newer source\n" * 200


def test_a_br_sibling_is_not_sent_to_a_gzip_only_client(server: Server) -> None:
    answer = fetch(server, "/pre.js", Accept_Encoding="gzip")
    assert answer.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body(answer)) == b"// the source\n" * 200


def test_a_page_is_sent_in_brotli_with_its_etag_suffixed(server: Server) -> None:
    answer = fetch(server, "/page", Accept_Encoding=BROWSER_ACCEPT)
    assert answer.headers["Content-Encoding"] == "br"
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert answer.headers["ETag"] == '"v1-br"'
    assert brotli.decompress(body(answer)) == b"<p>hi</p>" * 500


def test_a_page_larger_than_64_kib_is_compressed_in_its_worker(server: Server) -> None:
    expected = "".join(f"<tr><td>{i}</td></tr>" for i in range(BIG_PAGE_ROWS)).encode()
    assert len(expected) > 64 * 1024
    answer = fetch(server, "/big", Accept_Encoding="gzip")
    assert answer.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body(answer)) == expected


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("path", ["/style.css", "/page"])
def test_curl_negotiates_brotli_and_decodes_the_original(server: Server, path: str) -> None:
    completed = subprocess.run(
        ["curl", "-sS", "--compressed", "-D", "-", "-o", "-", server.url + path],
        capture_output=True,
        timeout=20,
        check=True,
    )
    head, _, decoded = completed.stdout.partition(b"\r\n\r\n")
    assert b"\r\ncontent-encoding: br" in head.lower()
    expected = CSS if path == "/style.css" else b"<p>hi</p>" * 500
    assert decoded == expected
