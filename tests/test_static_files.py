"""Static files on the wire: types, validators, Cache-Control, conditional requests, ranges.

One server serves one site for the whole module; every test talks to it over real sockets,
with ``requests`` or, where the exact bytes on the wire matter (HEAD, 304), a raw socket.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

import pytest
import requests
from conftest import Server, raw_exchange, start_server, write_site

from krait._caching import http_date

MTIME = 1_600_000_000
"""Every file of the site is dated 2020-09-13 12:26:40 UTC, long enough ago to be strong."""

DATA = bytes((i * 7 + 3) % 256 for i in range(1000))
BIG = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(300_000 // 32 + 1))[:300_000]

INIT = """\
import krait

krait.config.cache_no_store = [r"cache/no_store.*"]
krait.config.cache_private = [r"cache/private.*", r"cache/no_store_private\\.txt"]
krait.config.cache_public = [r"cache/.*public\\.txt"]
krait.config.cache_long_term = [r"cache/long.*", r"cache/private_long\\.txt"]
"""

SITE: dict[str, str | bytes] = {
    ".py/init.py": INIT,
    "index.html": "<h1>home</h1>\n",
    "page.html": "<p>a template without code is a static file</p>\n",
    "style.css": "body { color: black }\n",
    "app.js": "console.log('hi');\n",
    "logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "font.woff2": b"wOF2\x00\x01\x00\x00",
    "module.wasm": b"\x00asm\x01\x00\x00\x00",
    "data.json": '{"a": 1}\n',
    "notes.txt": "plain text\n",
    "photo.png": b"\x89PNG\r\n\x1a\n",
    "blob.xyz": b"\x01\x02\x03",
    "LICENSE": "no extension at all\n",
    "data.bin": DATA,
    "big.bin": BIG,
    "empty.bin": b"",
    "mutable.txt": "first version\n",
}
CACHE_FILES = (
    "none",
    "no_store",
    "private",
    "public",
    "long",
    "long_public",
    "private_long",
    "no_store_private",
    "private_public",
)
for _name in CACHE_FILES:
    SITE[f"cache/{_name}.txt"] = f"{_name}\n"
SITE["notcache/private.txt"] = "outside the cache/ patterns\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = write_site(tmp_path_factory.mktemp("static") / "site", SITE)
    for path in site.rglob("*"):
        os.utime(path, (MTIME, MTIME))
    os.symlink("notes.txt", site / "alias.css")
    return site


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    running = start_server(site, site.parent / "logs")
    yield running
    running.stop()


@dataclass
class Wire:
    """A response as it came off a raw socket."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name.lower()]
        return values[-1] if values else None

    @property
    def names(self) -> set[str]:
        return {key for key, _ in self.headers}


def exchange(server: Server, method: str, path: str, headers: dict[str, str] | None = None) -> Wire:
    """Send one request with ``Connection: close`` and read the answer up to EOF."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    received = raw_exchange(server.port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    pairs = [line.split(":", 1) for line in header_lines]
    return Wire(
        status=int(status_line.split()[1]),
        headers=[(name.strip().lower(), value.strip()) for name, value in pairs],
        body=body,
    )


def etag_of(server: Server, http: requests.Session, path: str) -> str:
    return str(http.get(server.url + path).headers["ETag"])


def parse_byteranges(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/byteranges body into (part headers, part bytes), strictly."""
    kind, _, boundary = content_type.partition("; boundary=")
    assert kind == "multipart/byteranges"
    delimiter = b"--" + boundary.encode()
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n")
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    parts = []
    for part in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, separator, data = part.partition(b"\r\n\r\n")
        assert separator
        fields = [line.split(":", 1) for line in head.decode("latin-1").split("\r\n")]
        parts.append(({name.lower(): value.strip() for name, value in fields}, data))
    return parts


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/page.html", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/logo.svg", "image/svg+xml; charset=utf-8"),
        ("/data.json", "application/json; charset=utf-8"),
        ("/notes.txt", "text/plain; charset=utf-8"),
        ("/font.woff2", "font/woff2"),
        ("/module.wasm", "application/wasm"),
        ("/photo.png", "image/png"),
        ("/blob.xyz", "application/octet-stream"),
        ("/LICENSE", "application/octet-stream"),
    ],
)
def test_content_type_follows_the_extension_and_text_declares_utf8(
    server: Server, http: requests.Session, path: str, content_type: str
) -> None:
    response = http.get(server.url + path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type


@pytest.mark.parametrize("path", ["/page.html", "/font.woff2", "/data.bin", "/LICENSE"])
def test_files_are_sent_byte_for_byte(server: Server, http: requests.Session, path: str) -> None:
    expected = SITE[path.lstrip("/")]
    expected = expected.encode() if isinstance(expected, str) else expected
    response = http.get(server.url + path)
    assert response.content == expected
    assert response.headers["Content-Length"] == str(len(expected))


def test_static_file_has_a_strong_etag_and_last_modified(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/data.bin")
    etag = response.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
    assert response.headers["Last-Modified"] == http_date(MTIME)
    assert response.headers["Accept-Ranges"] == "bytes"


def test_etag_changes_when_the_file_changes(
    server: Server, http: requests.Session, site: Path
) -> None:
    old = etag_of(server, http, "/mutable.txt")
    (site / "mutable.txt").write_text("second version, longer\n")
    response = http.get(server.url + "/mutable.txt", headers={"If-None-Match": old})
    assert response.status_code == 200
    assert response.text == "second version, longer\n"
    assert response.headers["ETag"] != old


@pytest.mark.parametrize(
    ("name", "cache_control"),
    [
        ("none", "max-age=300, must-revalidate"),
        ("no_store", "no-cache, no-store, must-revalidate"),
        ("private", "private, max-age=300, must-revalidate"),
        ("public", "max-age=300, must-revalidate"),
        ("long", "max-age=864000, must-revalidate"),
        ("long_public", "max-age=864000, must-revalidate"),
        ("private_long", "private, max-age=864000, must-revalidate"),
        ("no_store_private", "private, max-age=300, must-revalidate"),
        ("private_public", "max-age=300, must-revalidate"),
    ],
)
def test_cache_control_follows_the_cache_lists(
    server: Server, http: requests.Session, name: str, cache_control: str
) -> None:
    """Later lists override earlier ones: no_store, then private, public and long_term."""
    response = http.get(f"{server.url}/cache/{name}.txt")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == cache_control
    assert ("ETag" in response.headers) == (name != "no_store")


def test_cache_list_patterns_must_match_the_whole_path(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/notcache/private.txt")
    assert response.headers["Cache-Control"] == "max-age=300, must-revalidate"


def test_no_store_file_has_no_etag_to_match(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/cache/no_store.txt", headers={"If-None-Match": '"x"'})
    assert response.status_code == 200
    assert "ETag" not in response.headers


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", '"other", {etag}, "more"', "*", "W/{etag}"],
    ids=["exact", "list", "star", "weak"],
)
def test_if_none_match_hit_is_not_modified_without_body(
    server: Server, http: requests.Session, if_none_match: str
) -> None:
    etag = etag_of(server, http, "/data.bin")
    wire = exchange(server, "GET", "/data.bin", {"If-None-Match": if_none_match.format(etag=etag)})
    assert wire.status == 304
    assert wire.header("etag") == etag
    assert wire.header("cache-control") == "max-age=300, must-revalidate"
    assert wire.header("date") is not None
    assert wire.body == b""
    assert "content-length" not in wire.names
    assert "content-type" not in wire.names


def test_if_none_match_miss_sends_the_file(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/data.bin", headers={"If-None-Match": '"stale", W/"old"'})
    assert response.status_code == 200
    assert response.content == DATA


@pytest.mark.parametrize("offset", [0, 3600], ids=["equal", "later"])
def test_if_modified_since_not_before_mtime_is_not_modified(server: Server, offset: int) -> None:
    wire = exchange(server, "GET", "/data.bin", {"If-Modified-Since": http_date(MTIME + offset)})
    assert wire.status == 304
    assert wire.body == b""


def test_if_modified_since_before_mtime_sends_the_file(
    server: Server, http: requests.Session
) -> None:
    response = http.get(
        server.url + "/data.bin", headers={"If-Modified-Since": http_date(MTIME - 1)}
    )
    assert response.status_code == 200
    assert response.content == DATA


def test_invalid_if_modified_since_is_ignored(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/data.bin", headers={"If-Modified-Since": "yesterday"})
    assert response.status_code == 200


def test_if_none_match_takes_precedence_over_if_modified_since(
    server: Server, http: requests.Session
) -> None:
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": http_date(MTIME + 3600)}
    assert http.get(server.url + "/data.bin", headers=headers).status_code == 200


def test_if_match_mismatch_fails_the_precondition(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/data.bin", headers={"If-Match": '"not-the-etag"'})
    assert response.status_code == 412
    assert response.content != DATA


@pytest.mark.parametrize("if_match", ["{etag}", "*"])
def test_if_match_hit_sends_the_file(server: Server, http: requests.Session, if_match: str) -> None:
    etag = etag_of(server, http, "/data.bin")
    response = http.get(server.url + "/data.bin", headers={"If-Match": if_match.format(etag=etag)})
    assert response.status_code == 200
    assert response.content == DATA


def test_if_match_with_a_weak_etag_fails(server: Server, http: requests.Session) -> None:
    """If-Match compares strongly, so a W/ tag never matches."""
    etag = etag_of(server, http, "/data.bin")
    response = http.get(server.url + "/data.bin", headers={"If-Match": "W/" + etag})
    assert response.status_code == 412


def test_if_unmodified_since_before_mtime_fails(server: Server, http: requests.Session) -> None:
    headers = {"If-Unmodified-Since": http_date(MTIME - 60)}
    assert http.get(server.url + "/data.bin", headers=headers).status_code == 412


def test_if_unmodified_since_at_mtime_sends_the_file(
    server: Server, http: requests.Session
) -> None:
    headers = {"If-Unmodified-Since": http_date(MTIME)}
    assert http.get(server.url + "/data.bin", headers=headers).status_code == 200


def test_failed_precondition_is_not_cacheable_as_the_file(server: Server) -> None:
    wire = exchange(server, "GET", "/data.bin", {"If-Match": '"nope"'})
    assert wire.status == 412
    assert wire.header("cache-control") == "no-store"
    assert "etag" not in wire.names


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=-10", 990, 999),
        ("bytes=995-", 995, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=0-0", 0, 0),
    ],
    ids=["closed", "suffix", "open", "clipped", "first-byte"],
)
def test_single_range_is_partial_content(
    server: Server, http: requests.Session, range_header: str, start: int, end: int
) -> None:
    response = http.get(server.url + "/data.bin", headers={"Range": range_header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/1000"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.content == DATA[start : end + 1]


def test_suffix_longer_than_the_file_is_the_whole_file_as_partial_content(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/data.bin", headers={"Range": "bytes=-5000"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 0-999/1000"
    assert response.content == DATA


def test_multiple_ranges_are_multipart_byteranges(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/data.bin", headers={"Range": "bytes=0-9,500-509,990-"})
    assert response.status_code == 206
    assert "Content-Range" not in response.headers
    assert response.headers["Content-Length"] == str(len(response.content))
    parts = parse_byteranges(response.headers["Content-Type"], response.content)
    assert [headers["content-range"] for headers, _ in parts] == [
        "bytes 0-9/1000",
        "bytes 500-509/1000",
        "bytes 990-999/1000",
    ]
    assert all(headers["content-type"] == "application/octet-stream" for headers, _ in parts)
    assert [data for _, data in parts] == [DATA[0:10], DATA[500:510], DATA[990:1000]]


def test_multiple_ranges_of_a_large_file_are_streamed_byte_exact(
    server: Server, http: requests.Session
) -> None:
    ranges = [(0, 99_999), (150_000, 150_009), (200_000, 299_999)]
    header = "bytes=" + ",".join(f"{start}-{end}" for start, end in ranges)
    response = http.get(server.url + "/big.bin", headers={"Range": header})
    assert response.status_code == 206
    parts = parse_byteranges(response.headers["Content-Type"], response.content)
    assert [data for _, data in parts] == [BIG[start : end + 1] for start, end in ranges]


def test_large_file_is_streamed_whole(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/big.bin")
    assert response.headers["Content-Length"] == str(len(BIG))
    assert response.content == BIG


def test_overlapping_ranges_are_coalesced_into_one(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/data.bin", headers={"Range": "bytes=0-99,50-149,140-160"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 0-160/1000"
    assert response.content == DATA[:161]


def test_range_past_the_end_is_not_satisfiable(server: Server) -> None:
    wire = exchange(server, "GET", "/data.bin", {"Range": "bytes=1000-"})
    assert wire.status == 416
    assert wire.header("content-range") == "bytes */1000"
    assert wire.header("cache-control") == "no-store"
    assert DATA not in wire.body


@pytest.mark.parametrize(
    "range_header", ["bytes=abc", "bytes=5-2", "items=0-5", "bytes 0-5", "bytes=--5", "bytes="]
)
def test_invalid_range_header_is_ignored(
    server: Server, http: requests.Session, range_header: str
) -> None:
    response = http.get(server.url + "/data.bin", headers={"Range": range_header})
    assert response.status_code == 200
    assert response.content == DATA


def test_if_range_with_current_etag_applies_the_range(
    server: Server, http: requests.Session
) -> None:
    etag = etag_of(server, http, "/data.bin")
    response = http.get(server.url + "/data.bin", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert response.status_code == 206
    assert response.content == DATA[:10]


@pytest.mark.parametrize("stale", ['"0-0-0"', "W/{etag}"], ids=["old", "weak"])
def test_if_range_with_other_etag_sends_the_whole_file(
    server: Server, http: requests.Session, stale: str
) -> None:
    etag = etag_of(server, http, "/data.bin")
    headers = {"Range": "bytes=0-9", "If-Range": stale.format(etag=etag)}
    response = http.get(server.url + "/data.bin", headers=headers)
    assert response.status_code == 200
    assert response.content == DATA


@pytest.mark.parametrize(("date", "status"), [(MTIME, 206), (MTIME + 60, 200), (MTIME - 60, 200)])
def test_if_range_date_must_equal_last_modified(
    server: Server, http: requests.Session, date: int, status: int
) -> None:
    headers = {"Range": "bytes=0-9", "If-Range": http_date(date)}
    assert http.get(server.url + "/data.bin", headers=headers).status_code == status


def test_future_mtime_is_sent_as_now_and_is_too_weak_for_if_range(
    server: Server, http: requests.Session, site: Path
) -> None:
    future = site / "future.txt"
    future.write_text("0123456789")
    os.utime(future, (time.time() + 86400, time.time() + 86400))
    response = http.get(server.url + "/future.txt")
    assert response.headers["Last-Modified"] == response.headers["Date"]
    headers = {"Range": "bytes=0-1", "If-Range": response.headers["Last-Modified"]}
    ranged = http.get(server.url + "/future.txt", headers=headers)
    assert ranged.status_code == 200
    assert ranged.text == "0123456789"


def test_empty_file_is_served_with_zero_length(server: Server) -> None:
    wire = exchange(server, "GET", "/empty.bin")
    assert wire.status == 200
    assert wire.header("content-length") == "0"
    assert wire.body == b""


def test_range_on_an_empty_file(server: Server, http: requests.Session) -> None:
    """A first-byte range cannot be satisfied; a suffix range gets the whole (empty) file."""
    unsatisfiable = http.get(server.url + "/empty.bin", headers={"Range": "bytes=0-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == "bytes */0"
    suffix = http.get(server.url + "/empty.bin", headers={"Range": "bytes=-5"})
    assert suffix.status_code == 200
    assert suffix.content == b""


def comparable_headers(wire: Wire) -> list[tuple[str, str]]:
    """The headers without Date and without the (random) multipart boundary."""
    return [
        (name, value.split("; boundary=")[0] if name == "content-type" else value)
        for name, value in wire.headers
        if name != "date"
    ]


HEAD_CASES = [
    ("/data.bin", {}),
    ("/", {}),
    ("/empty.bin", {}),
    ("/big.bin", {}),
    ("/cache/no_store.txt", {}),
    ("/data.bin", {"Range": "bytes=0-9"}),
    ("/data.bin", {"Range": "bytes=0-9,500-509"}),
    ("/big.bin", {"Range": "bytes=0-99999,200000-299999"}),
    ("/data.bin", {"Range": "bytes=5000-"}),
    ("/data.bin", {"If-None-Match": "*"}),
    ("/data.bin", {"If-Match": '"nope"'}),
    ("/missing.txt", {}),
]


@pytest.mark.parametrize(("path", "headers"), HEAD_CASES)
def test_head_has_the_headers_of_get_and_no_body(
    server: Server, path: str, headers: dict[str, str]
) -> None:
    get = exchange(server, "GET", path, headers)
    head = exchange(server, "HEAD", path, headers)
    assert head.status == get.status
    assert comparable_headers(head) == comparable_headers(get)
    assert head.body == b""
    assert len(get.body) == int(get.header("content-length") or "0")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_on_a_static_file_are_not_allowed(server: Server, method: str) -> None:
    wire = exchange(server, method, "/data.bin")
    assert wire.status == 405
    assert wire.header("allow") == "GET, HEAD, OPTIONS"
    assert DATA not in wire.body


def test_options_on_a_static_file_lists_the_methods(server: Server) -> None:
    wire = exchange(server, "OPTIONS", "/data.bin")
    assert wire.status == 204
    assert wire.header("allow") == "GET, HEAD, OPTIONS"
    assert wire.body == b""


def test_content_type_follows_the_requested_name_not_the_symlink_target(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/alias.css")
    assert response.text == "plain text\n"
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"


def test_bodyless_answers_keep_the_connection_usable(
    server: Server, http: requests.Session
) -> None:
    """304, HEAD, 204 and 416 answers on one keep-alive connection frame correctly."""
    etag = etag_of(server, http, "/data.bin")
    connection = HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        exchanges = [
            ("GET", {"If-None-Match": etag}, 304, b""),
            ("HEAD", {}, 200, b""),
            ("OPTIONS", {}, 204, b""),
            ("GET", {"Range": "bytes=0-4"}, 206, DATA[:5]),
            ("GET", {"Range": "bytes=9999-"}, 416, None),
            ("GET", {}, 200, DATA),
        ]
        for method, headers, status, body in exchanges:
            connection.request(method, "/data.bin", headers=headers)
            response = connection.getresponse()
            content = response.read()
            assert response.status == status
            if body is not None:
                assert content == body
    finally:
        connection.close()
