"""Static files in process: the fast path and the full path answer with the same headers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from shell import header, make_request

from krait._caching import CachePolicy
from krait._static import StaticFiles, serve_file

HEADERS = (b"etag", b"last-modified", b"content-type", b"cache-control", b"content-length")


@pytest.fixture
def old_file(tmp_path: Path) -> str:
    path = tmp_path / "style.css"
    path.write_bytes(b"body { color: red }\n")
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    return str(path)


@pytest.mark.parametrize(
    "policy", [CachePolicy(store=True, header="max-age=60"), CachePolicy(False, "no-store")]
)
def test_fast_and_full_paths_send_the_same_headers(old_file: str, policy: CachePolicy) -> None:
    files = StaticFiles()
    files.serve(make_request(), old_file, "text/css", policy)  # fills the memory cache
    fast = make_request()
    fast_body = files.serve(fast, old_file, "text/css", policy)
    full = make_request()
    full_body = serve_file(full, old_file, "text/css", policy)
    assert fast_body == full_body == b"body { color: red }\n"
    for name in HEADERS:
        assert header(fast, name) == header(full, name), name
    assert (header(fast, b"etag") is not None) is policy.store


def test_a_conditional_request_takes_the_full_path_and_gets_304(old_file: str) -> None:
    policy = CachePolicy(store=True, header="max-age=60")
    files = StaticFiles()
    first = make_request()
    files.serve(first, old_file, "text/css", policy)
    etag = (header(first, b"etag") or b"").decode()
    again = make_request(if_none_match=etag)
    files.serve(again, old_file, "text/css", policy)
    assert again.code == 304


def test_a_missing_file_is_the_same_html_404_as_a_missing_route(tmp_path: Path) -> None:
    request = make_request()
    body = serve_file(request, str(tmp_path / "gone"), "text/plain", CachePolicy(False, "no-store"))
    assert request.code == 404
    assert header(request, b"content-type") == b"text/html; charset=utf-8"
    assert isinstance(body, bytes)
    assert b"<h1>404 Not Found</h1>" in body


def test_an_unsatisfiable_range_is_a_416_with_the_size(old_file: str) -> None:
    request = make_request(range="bytes=999-")
    serve_file(request, old_file, "text/css", CachePolicy(True, "max-age=60"))
    assert request.code == 416
    assert header(request, b"content-range") == b"bytes */20"
