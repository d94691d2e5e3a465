"""Compressing a page's result in its worker, from plain PageResults."""

from __future__ import annotations

import gzip

import brotli

from krait._context import RequestState
from krait._page_compression import compress_page
from krait._pages import PageResult

HTML = b"<p>a paragraph of the page</p>\n" * 100


def _result(headers: list[tuple[str, str]], body: bytes = HTML, status: int = 200) -> PageResult:
    return PageResult(status=status, headers=headers, body=body, state=RequestState())


def test_an_html_page_is_sent_in_the_preferred_coding_with_vary() -> None:
    result = compress_page(_result([("Content-Type", "text/html")]), "gzip, br", "page.py")
    assert ("Content-Encoding", "br") in result.headers
    assert ("Vary", "Accept-Encoding") in result.headers
    assert brotli.decompress(result.body) == HTML


def test_the_page_etag_gets_the_coding_suffix_and_its_vary_is_kept() -> None:
    page = _result([("Content-Type", "text/html"), ("ETag", '"v2"'), ("Vary", "Cookie")])
    result = compress_page(page, "gzip", "page.py")
    assert ("ETag", '"v2-gz"') in result.headers
    assert ("Vary", "Cookie, Accept-Encoding") in result.headers
    assert gzip.decompress(result.body) == HTML


def test_a_client_accepting_no_coding_gets_identity_that_still_varies() -> None:
    result = compress_page(_result([("Content-Type", "text/html")]), None, "page.py")
    assert result.body == HTML
    assert ("Vary", "Accept-Encoding") in result.headers
    assert not any(name == "Content-Encoding" for name, _ in result.headers)


def test_the_default_content_type_of_the_target_decides_without_a_header() -> None:
    assert compress_page(_result([]), "br", "report.html").body != HTML
    assert compress_page(_result([]), "br", "script.py").body == HTML


def test_partial_no_body_encoded_and_binary_answers_are_left_alone() -> None:
    html = [("Content-Type", "text/html")]
    for page in (
        _result(html, status=206),
        _result(html, status=304),
        _result([*html, ("Content-Encoding", "gzip")]),
        _result([("Content-Type", "image/png")]),
        _result(html, body=b"<p>short</p>"),
    ):
        assert compress_page(page, "br, gzip", "page.py") is page
