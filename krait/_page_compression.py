"""Compresses a page's body in the worker thread that rendered it, never on the reactor.

A page's bytes body worth compressing (``_compression.is_compressible``, up to
``MAX_PAGE_COMPRESS``) is sent in the coding the client prefers, Brotli or gzip, with the
page's ETag given the coding's suffix and ``Vary: Accept-Encoding`` added whether or not it
was compressed. Compressing takes milliseconds for tens of kilobytes: done here, in the thread
the page ran in, it costs that page's latency and no other connection's. Left alone: bodies
streamed from a generator, 204, 206 and 304 answers, and pages that set Content-Encoding
themselves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from krait._compression import (
    MAX_PAGE_COMPRESS,
    MIN_COMPRESS_SIZE,
    add_vary,
    choose_encoding,
    compress,
    encoded_etag,
    is_compressible,
)
from krait._pages import PageJob, PageResult, default_content_type
from krait._request import RawRequest

_LEFT_ALONE_STATUSES = frozenset({204, 206, 304})


def compress_page(
    result: PageResult, accept_encoding: str | None, base_filename: str
) -> PageResult:
    """``result`` with its body compressed for a client sending ``accept_encoding``.

    Args:
        result: what the page produced.
        accept_encoding: the request's Accept-Encoding value (repeats joined), or None.
        base_filename: the page's file, which its default Content-Type follows.

    Returns:
        ``result`` itself when nothing applies, else a copy with new headers (and body).
    """
    body = result.body
    if (
        not isinstance(body, bytes)
        or result.status in _LEFT_ALONE_STATUSES
        or not MIN_COMPRESS_SIZE <= len(body) <= MAX_PAGE_COMPRESS
    ):
        return result  # a small page, the common case, costs no header scan
    content_type = None
    vary: list[str] = []
    etag = None
    for name, value in result.headers:
        lower = name.lower()
        if lower == "content-encoding":
            return result
        if lower == "content-type":
            content_type = value
        elif lower == "vary":
            vary.append(value)
        elif lower == "etag":
            etag = value
    if content_type is None:
        content_type = default_content_type(base_filename, result.state)
    if not is_compressible(content_type, len(body)):
        return result
    headers = [(name, value) for name, value in result.headers if name.lower() != "vary"]
    headers.append(("Vary", add_vary(", ".join(vary) or None)))
    coding = choose_encoding(accept_encoding)
    if coding is None:
        return dataclasses.replace(result, headers=headers)
    if etag is not None:
        headers = [(name, value) for name, value in headers if name.lower() != "etag"]
        headers.append(("ETag", encoded_etag(etag, coding)))
    headers.append(("Content-Encoding", coding))
    return dataclasses.replace(result, headers=headers, body=compress(body, coding))


def render_compressed(
    render: Callable[..., PageResult],
    accept_encoding: str | None,
    job: PageJob,
    raw: RawRequest,
    upgrade: bool = False,
) -> PageResult:
    """Run ``render(job, raw, upgrade)`` and compress what it produced (in the worker)."""
    return compress_page(render(job, raw, upgrade), accept_encoding, job.base_filename)
