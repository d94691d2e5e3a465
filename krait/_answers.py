"""Every error answer krait sends: one body format, and the one rule for HTML or plain text.

An error body states the status line and, when there is one, the reason (``404 Not Found``,
``413 Content Too Large: the request body is over 100 bytes``). It comes in two forms, and
which one is decided here only:

* HTML, for every request that reached the resource tree (a route, a file, a page, an
  upgrade): a browser asked for a page and shows this one in its place. It is a whole page
  with its style inline, readable on a phone; a site may replace the 404 and 500 ones with
  pages of its own (``_error_page_writer``), which fall back to these.
* Plain text, for requests the connection layer refused before dispatch (a malformed or
  oversized head, a body over the limit, a bad Host): nothing of the request was understood
  well enough to answer it as a page, and such clients are rarely browsers.

Domain exceptions raised by user code (a malformed multipart form, any other error) become
statuses in :func:`write_failure` and nowhere else.
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Sequence
from enum import Enum
from http import HTTPStatus
from typing import IO
from urllib.parse import parse_qsl

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.server import Request

from krait._debug_page import RequestFacts, debug_page
from krait._errors import ClientInputError
from krait._forms import (
    MultipartError,
    boundary_from_content_type,
    iter_multipart,
    parse_content_type,
)
from krait._tracebacks import user_frames, user_traceback

log = Logger(namespace="krait")


class BodyForm(Enum):
    """How an error body is rendered."""

    HTML = "text/html; charset=utf-8"
    TEXT = "text/plain; charset=utf-8"


_PHRASES = {status.value: status.phrase for status in HTTPStatus} | {
    # RFC 9110 renamed these; Python's HTTPStatus before 3.13 has the RFC 7231 names.
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
}


def phrase_of(status: int) -> str:
    """The standard reason phrase of a status (``"Too Many Requests"`` for 429), or ``""``."""
    return _PHRASES.get(status, "")


def reason_phrase(status: int) -> bytes:
    """The reason phrase for a status line.

    twisted.web knows only the statuses of RFC 2616 and sends ``Unknown Status`` for the rest;
    a status without a registered phrase gets none (RFC 9112 allows an empty reason).
    """
    return _ENCODED_PHRASES.get(status, b"")


_ENCODED_PHRASES = {status: phrase.encode("ascii") for status, phrase in _PHRASES.items()}


def error_body(
    code: int, detail: str = "", form: BodyForm = BodyForm.HTML, phrase: str = ""
) -> bytes:
    """The body of an error answer: the status, its phrase, and the reason if there is one."""
    title = f"{code} {phrase or phrase_of(code)}"
    if form is BodyForm.TEXT:
        return f"{title}: {detail}\n".encode() if detail else f"{title}\n".encode()
    extra = f"<pre>{html.escape(detail)}</pre>" if detail else ""
    if code == 404:
        extra += '<p><a href="/">Go to the home page</a></p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"{_VIEWPORT}<title>{title}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{title}</h1>{extra}</main></body></html>"
    ).encode()


_VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'
# Small enough to send with every error, so the page needs no second request (nor a file).
_STYLE = (
    "body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f4f3ef;"
    "color:#1d2330;font:16px/1.5 system-ui,sans-serif}"
    "main{box-sizing:border-box;width:min(36rem,100% - 2rem);margin:1rem;padding:1.5rem 2rem;"
    "background:#fff;border:1px solid #ddd;border-top:4px solid #a4262c;border-radius:6px}"
    "h1{margin:0;font-size:1.4rem;font-weight:600}"
    "pre{margin:.8rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.9rem}"
    "p{margin:.8rem 0 0}a{color:#2f5f9e}"
)


def write_error(request: Request, code: int, phrase: str = "", detail: str = "") -> bytes:
    """Set up ``request`` for an HTML error answer and return the body (for ``render``).

    Args:
        request: a request that reached the resource tree.
        code: the status.
        phrase: the reason phrase, if not the standard one.
        detail: the reason, shown in the page (escaped).
    """
    phrase = phrase or phrase_of(code)
    body = error_body(code, detail, BodyForm.HTML, phrase)
    request.setResponseCode(code, phrase.encode("latin-1"))
    # An error describes this request, not the resource: no cache may keep it in its place.
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"content-type", BodyForm.HTML.value.encode("ascii"))
    request.setHeader(b"content-length", b"%d" % len(body))
    return body


def send_error(request: Request, code: int, detail: str = "") -> None:
    """Write and finish an HTML error answer (for a request answered after ``render``)."""
    body = write_error(request, code, "", detail)
    request.write(body)
    request.finish()


def write_failure(request: Request, failure: Failure, debug: bool) -> bytes:
    """Log what user code raised, set ``request`` up for its error answer, return the body.

    A malformed form or JSON body is the client's fault (400, with the reason); anything else
    is the site's (500, with the traceback only when ``debug``).
    """
    if is_client_error(failure):
        reason = str(failure.value)
        log.info("400 for {uri!r}: {reason}", uri=request.uri, reason=reason)
        return write_error(request, 400, "", reason)
    error = failure.value
    assert error is not None
    text = log_site_error(request, error)
    body = write_error(request, 500)
    if not debug:
        return body
    exception = "".join(traceback.format_exception_only(type(error), error)).strip()
    page = debug_page(
        500, phrase_of(500), exception, user_frames(error), request_facts(request), text
    )
    request.setHeader(b"content-length", b"%d" % len(page))
    return page


def log_site_error(request: Request, error: BaseException) -> str:
    """Log what the site's code raised for ``request`` (its 500); returns the traceback."""
    text = user_traceback(error)
    uri = request.uri.decode("latin-1")
    log.error("500 for {uri}: error in the site's code\n{traceback}", uri=uri, traceback=text)
    return text


def is_client_error(failure: Failure) -> bool:
    """Whether user code failed on the client's input (a 400), not on its own error."""
    return bool(failure.check(ClientInputError))


def write_start_error(request: Request, page: bytes) -> bytes:
    """Set up ``request`` for the 500 of a site that cannot start, and return ``page``.

    Only ``--reload`` serves it (:mod:`krait._start_error_site`); the page is the error
    :func:`krait._debug_page.start_error_page` made of it.
    """
    write_error(request, 500)
    request.setHeader(b"content-length", b"%d" % len(page))
    return page


DEBUG_FORM_LIMIT = 1024 * 1024
"""The largest form body the ``--debug`` page parses to show its fields."""


def request_facts(request: Request) -> RequestFacts:
    """What the ``--debug`` page shows of ``request``: method, path, query, headers, form."""
    uri = request.uri.decode("latin-1")
    path, _, query = uri.partition("?")
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in request.requestHeaders.getAllRawHeaders()
        for value in values
    ]
    form, note = _form_fields(request)
    return RequestFacts(
        method=request.method.decode("latin-1"),
        path=path,
        query=parse_qsl(query, keep_blank_values=True, errors="replace"),
        headers=headers,
        form=form,
        body_note=note,
    )


def _form_fields(request: Request) -> tuple[list[tuple[str, str]], str]:
    """The body's form fields, or a note saying what the body is."""
    content: IO[bytes] | None = request.content
    if content is None:
        return [], ""
    size = content.seek(0, 2)
    if not size:
        return [], ""
    raw_type = (request.getHeader(b"content-type") or b"").decode("latin-1")
    media_type = parse_content_type(raw_type)[0] if raw_type else ""
    note = f"a body of {size} bytes" + (f" ({raw_type})" if raw_type else "")
    if size > DEBUG_FORM_LIMIT:
        return [], note
    content.seek(0)
    try:
        if media_type == "application/x-www-form-urlencoded":
            text = content.read().decode("utf-8", "replace")
            return parse_qsl(text, keep_blank_values=True), ""
        if media_type == "multipart/form-data":
            return _multipart_fields(content, boundary_from_content_type(raw_type)), ""
    except MultipartError as problem:
        return [], f"{note}: {problem}"
    finally:
        content.seek(0)
    return [], note


def _multipart_fields(content: IO[bytes], boundary: bytes) -> list[tuple[str, str]]:
    fields = []
    for part in iter_multipart(content, boundary, memory_budget=DEBUG_FORM_LIMIT):
        if part.filename is None:
            value = part.file.read(4096).decode("utf-8", "replace")
        else:
            value = f"file {part.filename!r}, {part.size} bytes, {part.content_type}"
        fields.append((part.name, value))
    return fields


def send_refusal(request: Request, code: int, detail: str) -> None:
    """Answer a request refused before dispatch with a plain-text body, on its own stream.

    Used where the request has a stream of its own to answer on (HTTP/2); an HTTP/1.1
    connection is answered with :func:`refusal_bytes` and closed.
    """
    body = error_body(code, detail, BodyForm.TEXT)
    request.setResponseCode(code, reason_phrase(code))
    request.setHeader(b"date", http.datetimeToString())
    request.setHeader(b"content-type", BodyForm.TEXT.value.encode("ascii"))
    request.setHeader(b"content-length", b"%d" % len(body))
    request.write(body)
    request.finish()


def refusal_bytes(code: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
    """A complete HTTP/1.1 answer refusing a request head, in plain text, closing the connection.

    Args:
        code: the status.
        detail: the reason, in the body.
        headers: more header fields (``Retry-After``, say).
    """
    body = error_body(code, detail, BodyForm.TEXT)
    extra = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return (
        b"HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
        % (
            code,
            reason_phrase(code),
            http.datetimeToString(),
            BodyForm.TEXT.value.encode("ascii"),
            len(body),
        )
        + extra
        + b"Connection: close\r\n\r\n"
        + body
    )


_REFUSAL_REASONS = {
    400: "the request is malformed",
    413: "the request body is over %d bytes",
    414: "the request line is over %d bytes",
    431: "the request head is over %d bytes",
    501: "krait decodes no transfer coding but chunked",
}


def refusal_reason(code: int, limit: int = 0) -> str:
    """Why a request was refused at the connection level, naming the limit it broke."""
    reason = _REFUSAL_REASONS[code]
    return reason % limit if "%d" in reason else reason


def refusal(code: int, limit: int = 0) -> bytes:
    """A complete HTTP/1.1 answer for a request refused at the connection level, with a reason."""
    return refusal_bytes(code, refusal_reason(code, limit))
