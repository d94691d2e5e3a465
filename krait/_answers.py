"""Error answers: the one place that writes the body and headers of an HTTP error."""

from __future__ import annotations

import html
from typing import Any


def error_page(code: int, phrase: str, detail: str = "") -> bytes:
    """A small HTML error page."""
    extra = f"<pre>{html.escape(detail)}</pre>" if detail else ""
    return (
        f"<html><head><title>{code} {phrase}</title></head>"
        f"<body><h1>{code} {phrase}</h1>{extra}</body></html>"
    ).encode()


def write_error(request: Any, code: int, phrase: str, detail: str = "") -> bytes:
    """Set up ``request`` for an error answer and return the body."""
    body = error_page(code, phrase, detail)
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"content-length", b"%d" % len(body))
    request.setHeader(b"cache-control", b"no-store")
    return body
