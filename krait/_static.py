"""Serves files: validators, conditional requests, byte ranges and a back-pressured producer.

The decisions (which status, which ranges, which Cache-Control) are made by the pure cores in
``_caching`` and ``_ranges``; this module only reads the file and writes the answer.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import IO

from twisted.web.server import NOT_DONE_YET, Request

from krait._answers import write_error
from krait._caching import (
    CachePolicy,
    Precondition,
    evaluate_preconditions,
    http_date,
    make_etag,
    parse_http_date,
)
from krait._compressed_files import Compressed, CompressedForms
from krait._compression import add_vary, choose_encoding, encoded_etag, is_compressible
from krait._producers import SegmentProducer
from krait._ranges import (
    ByteRange,
    UnsatisfiableRange,
    content_range,
    if_range_matches,
    make_boundary,
    multipart_parts,
    parse_range,
    unsatisfied_content_range,
)
from krait._request_headers import decode_headers
from krait._sendfile import SendfileProducer, sendfile_transport
from krait._static_entities import SMALL_FILE, Entity, StaticEntities
from krait._twisted_compat import put_prepared_headers
from krait._whole_response import send_whole

SEND_BUFFER = 4 * 1024 * 1024
"""Socket send buffer for large files sent with ``sendfile``."""


_CONDITIONAL_HEADERS = frozenset(
    {b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since", b"range"}
)


class StaticFiles:
    """Serves files, answering plain GETs of small unchanged files from memory.

    A request without validators or ranges for a small file whose inode, size and mtime are
    unchanged gets the headers and bytes computed the first time (see ``_static_entities``);
    one ``stat`` per request checks the file. Everything else goes through
    :func:`serve_file`.

    With ``compression``, a client that accepts Brotli or gzip gets that form of a
    compressible file (see ``_compressed_files``) unless it asked for a range, and every
    answer for such a file says ``Vary: Accept-Encoding``.

    Args:
        max_bytes: the most file bytes kept in memory.
        compression: send Brotli or gzip to clients that accept it (``--no-compression``
            turns it off).
    """

    def __init__(self, max_bytes: int = 32 * 1024 * 1024, compression: bool = True) -> None:
        self.compression = compression
        self._entities = StaticEntities(max_bytes, compression)
        self._forms = CompressedForms()

    def serve(
        self, request: Request, path: str, content_type: str, policy: CachePolicy
    ) -> bytes | int:
        """Answer a request for the file at ``path`` (see :func:`serve_file`)."""
        compressible = self.compression and is_compressible(content_type)
        if request.method in (b"GET", b"HEAD"):
            plain = not _is_conditional(request)
            coding = _wanted_coding(request) if compressible else None
            if coding is not None:
                answer = self._serve_encoded(request, path, content_type, policy, coding, plain)
                if answer is not None:
                    return answer
            if plain:
                entity = self._entities.file(path, content_type, policy)
                if entity is not None:
                    return _write_entity(request, entity)
        return serve_file(request, path, content_type, policy, compression=compressible)

    def _serve_encoded(
        self,
        request: Request,
        path: str,
        content_type: str,
        policy: CachePolicy,
        coding: str,
        plain: bool,
    ) -> bytes | int | None:
        """Answer with the ``coding`` form of the file, or None when identity is to be sent."""
        try:
            source = os.stat(path)
        except OSError:
            return None
        if not is_compressible(content_type, source.st_size):
            return None
        form = self._forms.find(path, source, coding)
        if form is None:
            return None
        if isinstance(form, str):
            entity = self._entities.file(form, content_type, policy, coding) if plain else None
            if entity is not None:
                return _write_entity(request, entity)
            return serve_file(request, form, content_type, policy, coding=coding)
        entity = self._entities.kept(path, form, content_type, policy, coding) if plain else None
        if entity is not None:
            return _write_entity(request, entity)
        return _serve_compressed(request, form, content_type, policy, coding)


def _write_entity(request: Request, entity: Entity) -> bytes | int:
    """Answer with a kept entity: in one write when ``send_whole`` can, else as twisted.web
    writes a rendered body."""
    put_prepared_headers(request.responseHeaders, entity.headers)
    if send_whole(request, entity.body, at_once=False):
        return NOT_DONE_YET
    return b"" if request.method == b"HEAD" else entity.body


def _is_conditional(request: Request) -> bool:
    """Whether the request has a validator or a range (one pass over its header names)."""
    return any(
        name.lower() in _CONDITIONAL_HEADERS
        for name, _ in request.requestHeaders.getAllRawHeaders()
    )


def _wanted_coding(request: Request) -> str | None:
    """The coding to send, or None: none accepted, or a range asked for (ranges count
    identity bytes)."""
    headers = request.requestHeaders
    if headers.hasHeader(b"range"):
        return None
    accepted = b", ".join(headers.getRawHeaders(b"accept-encoding") or [])
    return choose_encoding(accepted.decode("latin-1"))


def _serve_compressed(
    request: Request, form: Compressed, content_type: str, policy: CachePolicy, coding: str
) -> bytes | int:
    """Answer with bytes compressed in memory, validated by the source's ETag plus the
    coding's suffix (``-br``, ``-gz``)."""
    now = response_date(request)
    last_modified = min(int(form.mtime), int(now))
    etag = encoded_etag(make_etag(*form.identity), coding) if policy.store else None
    method = request.method.decode("ascii", "replace")
    decision = evaluate_preconditions(method, etag, last_modified, request_headers(request))
    if decision is Precondition.FAILED:
        return write_error(request, 412)
    _set_validators(request, policy, etag, last_modified)
    request.setHeader(b"vary", b"Accept-Encoding")
    if decision is Precondition.NOT_MODIFIED:
        request.setResponseCode(304)
        return finish_without_body(request)
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-encoding", coding)
    request.setHeader(b"content-length", b"%d" % len(form.body))
    return b"" if method == "HEAD" else form.body


def request_headers(request: Request) -> dict[str, str]:
    """The request's headers as a dict of lower-case names, repeats joined with ``", "``."""
    return decode_headers(request.requestHeaders.getAllRawHeaders())


def serve_file(
    request: Request,
    path: str,
    content_type: str,
    policy: CachePolicy,
    headers: dict[str, str] | None = None,
    now: float | None = None,
    *,
    compression: bool = False,
    coding: str | None = None,
) -> bytes | int:
    """Answer a GET or HEAD for the file at ``path``.

    Args:
        request: the twisted.web request.
        path: the file to serve, already resolved and checked by ``_targets``.
        content_type: the Content-Type of the file.
        policy: the Cache-Control decision for this file.
        headers: the request headers (lower-case names), if already collected.
        now: the time of the response in epoch seconds; defaults to the response's ``Date``
            header (which twisted.web sets before rendering), else the clock.
        compression: whether compression is on for this type: a large enough file gets
            ``Vary``.
        coding: the file is the ``coding`` form (a precompressed sibling) of the target.

    Returns:
        What ``Resource.render`` returns: the body, or ``NOT_DONE_YET`` while streaming.
    """
    if headers is None:
        headers = request_headers(request)
    now = response_date(request) if now is None else now
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed by the writer or the producer)
    except OSError:
        return write_error(request, 404)
    stat = os.fstat(file.fileno())
    size = stat.st_size
    # RFC 9110 §8.8.2.1: a modification time in the future is sent as the current time.
    last_modified = min(int(stat.st_mtime), int(now))
    etag = make_etag(stat.st_ino, size, stat.st_mtime_ns) if policy.store else None
    if etag is not None and coding is not None:
        etag = encoded_etag(etag, coding)
    if coding is not None or (compression and is_compressible(content_type, size)):
        request.setHeader(b"vary", add_vary(None))

    method = request.method.decode("ascii", "replace")
    decision = evaluate_preconditions(method, etag, last_modified, headers)
    if decision is Precondition.FAILED:
        file.close()
        return write_error(request, 412)
    if decision is Precondition.NOT_MODIFIED:
        file.close()
        _set_validators(request, policy, etag, last_modified)
        request.setResponseCode(304)
        return finish_without_body(request)
    # RFC 9110 §8.8.2.2: a modification time is a strong validator, fit for If-Range, only
    # once it lies at least a second before the response's Date.
    strong_date = last_modified if last_modified < int(now) else None
    try:
        ranges = _requested_ranges(headers, size, etag, strong_date)
    except UnsatisfiableRange:
        file.close()
        request.setHeader(b"content-range", unsatisfied_content_range(size))
        return write_error(request, 416)

    _set_validators(request, policy, etag, last_modified)
    if coding is not None:
        request.setHeader(b"content-encoding", coding)
    else:
        request.setHeader(b"accept-ranges", b"bytes")
    segments, length = _lay_out_body(request, ranges, size, content_type)
    request.setHeader(b"content-length", b"%d" % length)
    if method == "HEAD" or length == 0:
        file.close()
        return b""
    if length <= SMALL_FILE:
        body = b"".join(_read_segments(file, segments))
        file.close()
        return body
    stream_segments(request, file, segments)
    return NOT_DONE_YET


def stream_segments(request: Request, file: IO[bytes], segments: list[bytes | ByteRange]) -> None:
    """Stream a body made of file ranges: by ``sendfile`` when the socket allows it."""
    transport = sendfile_transport(request)
    if transport is not None and len(segments) == 1 and isinstance(segments[0], ByteRange):
        # A larger send buffer lets the kernel move more per wake-up of the reactor.
        with contextlib.suppress(OSError):
            transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        whole = segments[0]
        SendfileProducer(request, transport, file, whole.start, whole.length).start()
        return
    SegmentProducer(request, file, segments).start()


def response_date(request: Request) -> float:
    """The time the response's ``Date`` header states, or the clock if it has none.

    Last-Modified is compared with this rather than with a later reading of the clock, so
    that it never lies after the Date the client sees (RFC 9110 §8.8.2.1).
    """
    for value in reversed(request.responseHeaders.getRawHeaders(b"date") or []):
        date = parse_http_date(value.decode("latin-1"))
        if date is not None:
            return float(date)
    return time.time()


def _set_validators(
    request: Request, policy: CachePolicy, etag: str | None, last_modified: int
) -> None:
    request.setHeader(b"cache-control", policy.header)
    request.setHeader(b"last-modified", http_date(last_modified))
    if etag is not None:
        request.setHeader(b"etag", etag)


def _requested_ranges(
    headers: dict[str, str], size: int, etag: str | None, strong_date: int | None
) -> list[ByteRange] | None:
    """The ranges to send, or None for the whole file.

    Raises:
        UnsatisfiableRange: the ``Range`` header applies but no range overlaps the file.
    """
    if "range" not in headers or not if_range_matches(headers.get("if-range"), etag, strong_date):
        return None
    return parse_range(headers["range"], size)


def _lay_out_body(
    request: Request, ranges: list[ByteRange] | None, size: int, content_type: str
) -> tuple[list[bytes | ByteRange], int]:
    """Set the status and Content-Type for the ranges, and list what the body is made of."""
    if ranges is None:
        request.setHeader(b"content-type", content_type)
        return ([ByteRange(0, size - 1)] if size else []), size
    request.setResponseCode(206)
    if len(ranges) == 1:
        request.setHeader(b"content-type", content_type)
        request.setHeader(b"content-range", content_range(ranges[0], size))
        return [ranges[0]], ranges[0].length
    boundary = make_boundary()
    request.setHeader(b"content-type", f"multipart/byteranges; boundary={boundary}")
    return multipart_parts(ranges, size, content_type, boundary)


def finish_without_body(request: Request) -> int:
    """End a 204 or 304 answer with no body and, as RFC 9110 asks, no Content-Length."""
    request.write(b"")
    request.finish()
    return NOT_DONE_YET


def _read_segments(file: IO[bytes], segments: list[bytes | ByteRange]) -> list[bytes]:
    parts: list[bytes] = []
    for segment in segments:
        if isinstance(segment, bytes):
            parts.append(segment)
        else:
            file.seek(segment.start)
            parts.append(file.read(segment.length))
    return parts
