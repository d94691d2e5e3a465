"""Range requests from plain values: ``Range`` and ``If-Range`` parsing, ``Content-Range``, and
the framing of ``multipart/byteranges`` bodies (RFC 9110 §14, RFC 2046 §5.1).

The original Krait had no range support; this is one of krait's additions.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import NamedTuple

from krait._caching import parse_etag_list, parse_http_date, strong_match

__all__ = [
    "COALESCE_GAP",
    "MAX_RANGES",
    "ByteRange",
    "UnsatisfiableRange",
    "content_range",
    "if_range_matches",
    "make_boundary",
    "multipart_parts",
    "parse_range",
    "unsatisfied_content_range",
]

MAX_RANGES = 64
"""The most parts a multipart/byteranges response has; more become one spanning range."""

COALESCE_GAP = 80
"""Ranges closer than this many bytes are merged: a part's headers cost about as much."""

# No file has a size with this many digits, so longer numbers need not be converted exactly
# (and int() refuses strings of thousands of digits).
_MAX_DIGITS = 20
_HUGE = 10**_MAX_DIGITS

_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")


class UnsatisfiableRange(Exception):  # noqa: N818 (named for the condition, as krait's are)
    """A valid ``Range`` header none of whose ranges overlaps the resource (416).

    Attributes:
        size: the resource's length in bytes, for ``Content-Range: bytes */size``.
    """

    def __init__(self, size: int) -> None:
        super().__init__(f"no requested range lies within the {size} bytes of the resource")
        self.size = size


class ByteRange(NamedTuple):
    """A range of byte positions, both ends inclusive as in ``Content-Range``."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """The number of bytes in the range."""
        return self.end - self.start + 1


class _Spec(NamedTuple):
    first: int | None
    last: int | None


def _to_int(digits: str) -> int:
    significant = digits.lstrip("0")
    return _HUGE if len(significant) >= _MAX_DIGITS else int(significant or "0")


def _parse_specs(header: str) -> list[_Spec] | None:
    unit, equals, range_set = header.partition("=")
    if not equals or unit.strip(" \t").lower() != "bytes":
        return None
    specs = []
    for element in range_set.split(","):
        element = element.strip(" \t")
        if not element:
            continue  # RFC 9110 §5.6.1: empty list elements are allowed and ignored.
        match = _RANGE_SPEC.fullmatch(element)
        if match is None or match.group() == "-":
            return None
        first = _to_int(match[1]) if match[1] else None
        last = _to_int(match[2]) if match[2] else None
        if first is not None and last is not None and last < first:
            return None
        specs.append(_Spec(first, last))
    return specs or None


def _satisfiable(spec: _Spec, size: int) -> ByteRange | None:
    if spec.first is None:
        suffix = spec.last or 0
        return ByteRange(max(size - suffix, 0), size - 1) if suffix and size else None
    if spec.first >= size:
        return None
    end = size - 1 if spec.last is None else min(spec.last, size - 1)
    return ByteRange(spec.first, end)


def _coalesce(ranges: list[ByteRange]) -> list[ByteRange]:
    merged: list[ByteRange] = []
    for current in sorted(ranges):
        if merged and current.start <= merged[-1].end + 1 + COALESCE_GAP:
            previous = merged.pop()
            current = ByteRange(previous.start, max(previous.end, current.end))
        merged.append(current)
    if len(merged) > MAX_RANGES:
        return [ByteRange(merged[0].start, merged[-1].end)]
    return merged


def parse_range(header: str | None, size: int) -> list[ByteRange] | None:
    """Parse a ``Range`` header against a resource of ``size`` bytes (RFC 9110 §14.1.2, §14.2).

    The result is sorted and has no two ranges that overlap, touch, or lie less than
    :data:`COALESCE_GAP` bytes apart; those are merged (RFC 9110 §14.3 allows it), so that a
    header asking for the same bytes many times cannot multiply the response. If more than
    :data:`MAX_RANGES` ranges remain they are replaced by the one range that spans them all.
    Together this bounds the response to the file's size plus at most ``MAX_RANGES`` part
    headers, whatever the request.

    Args:
        header: the header value, or None when the request has none.
        size: the length of the selected representation, at least 0.

    Returns:
        The ranges to send, or None when the header is to be ignored and the whole resource
        sent with 200: it is absent, names another unit than ``bytes``, or is malformed (for
        example ``bytes=5-2``). A suffix range on an empty resource is also answered with the
        whole, empty, resource: RFC 9110 counts it as satisfiable, but no byte range can
        describe it.

    Raises:
        UnsatisfiableRange: the header is valid but none of its ranges overlaps the resource,
            e.g. ``bytes=500-`` for 100 bytes; the answer is 416.
    """
    if header is None:
        return None
    specs = _parse_specs(header)
    if specs is None:
        return None
    if size <= 0:
        if any(spec.first is None and spec.last for spec in specs):
            return None
        raise UnsatisfiableRange(size)
    ranges = [r for r in (_satisfiable(spec, size) for spec in specs) if r is not None]
    if not ranges:
        raise UnsatisfiableRange(size)
    return _coalesce(ranges)


def if_range_matches(if_range: str | None, etag: str | None, last_modified: int | None) -> bool:
    """Tell whether an ``If-Range`` condition lets the ``Range`` header apply (RFC 9110 §13.1.5).

    Args:
        if_range: the header value, or None when the request has none.
        etag: the resource's current entity-tag, or None.
        last_modified: the resource's modification time in epoch seconds, or None. The caller
            passes it only when it is a strong validator (at least a second in the past).

    Returns:
        True when there is no ``If-Range``, when it is a strong entity-tag equal to ``etag``
        (a weak one never matches), or when it is an HTTP-date exactly equal to
        ``last_modified``; otherwise False, and the whole resource is sent with 200.
    """
    if if_range is None:
        return True
    value = if_range.strip(" \t")
    if value.startswith(('"', 'W/"')):
        tags = parse_etag_list(value)
        if etag is None or tags is None or len(tags) != 1:
            return False
        return strong_match(tags[0], etag)
    date = parse_http_date(value)
    return date is not None and date == last_modified


def content_range(r: ByteRange, size: int) -> str:
    """Format the ``Content-Range`` of a part, e.g. ``bytes 0-99/1234``."""
    return f"bytes {r.start}-{r.end}/{size}"


def unsatisfied_content_range(size: int) -> str:
    """Format the ``Content-Range`` of a 416 answer, e.g. ``bytes */1234``."""
    return f"bytes */{size}"


def make_boundary() -> str:
    """Make a fresh multipart boundary, random so that no file's bytes contain it."""
    return secrets.token_hex(16)


def multipart_parts(
    ranges: Sequence[ByteRange], size: int, content_type: str, boundary: str
) -> tuple[list[bytes | ByteRange], int]:
    """Lay out a ``multipart/byteranges`` body (RFC 9110 §14.6, RFC 2046 §5.1.1).

    Each part is a delimiter line, the part's ``Content-Type`` (when not empty) and
    ``Content-Range``, a blank line and the range's bytes; the CRLF before each later
    delimiter belongs to that delimiter. The body ends with the close delimiter and a CRLF.

    Args:
        ranges: the ranges to send, in order; at least one.
        size: the resource's length, for ``Content-Range``.
        content_type: the resource's Content-Type, repeated in each part.
        boundary: the boundary, also named in the response's Content-Type.

    Returns:
        The body as literal byte strings alternating with the ranges whose file bytes the
        caller streams in their place, and the body's total length for Content-Length.

    Raises:
        ValueError: ``ranges`` is empty; a multipart body needs at least one part.
    """
    if not ranges:
        raise ValueError("a multipart/byteranges body needs at least one range")
    type_line = f"Content-Type: {content_type}\r\n" if content_type else ""
    body: list[bytes | ByteRange] = []
    total = 0
    for index, r in enumerate(ranges):
        delimiter = f"\r\n--{boundary}\r\n" if index else f"--{boundary}\r\n"
        head = f"{delimiter}{type_line}Content-Range: {content_range(r, size)}\r\n\r\n".encode()
        body += [head, r]
        total += len(head) + r.length
    tail = f"\r\n--{boundary}--\r\n".encode()
    body.append(tail)
    return body, total + len(tail)
