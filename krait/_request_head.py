"""A whole HTTP/1.1 request head read in one pass, when it is plainly well formed.

twisted.web reads a request head a line at a time, a few Python calls per line.
:func:`read_head` takes the bytes a channel holds and, when they start with a complete head
that the line reader would accept as it is, returns its request line and header fields at
once. It is only a shortcut: whatever it is unsure of (a partial head, anything malformed or
oversized, obsolete line folding, a bare CR or LF, a NUL, a value ending in whitespace, rare
from real clients) it leaves to the line reader,
returning None, so that every refusal keeps the line reader's answer.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["RequestHead", "read_head"]

_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"

# RFC 9112 §3: method SP request-target SP HTTP-version; a target of printable ASCII.
_REQUEST_LINE = re.compile(rb"(%s+) ([!-~]+) (HTTP/1\.[01])(?=\r\n|\Z)" % _TCHAR)
# RFC 9112 §5: field-name ":" OWS field-value OWS, a whole line. A value holding a NUL, a bare
# CR or LF, or ending in whitespace (possessive *+: no giving back to dodge the look-behind)
# makes no match, and neither does a line folded onto the one before (it starts with a space).
_FIELD = re.compile(rb"\r\n(%s+):[ \t]*([^\r\n\x00]*+)(?<![ \t])(?=\r\n|\Z)" % _TCHAR)


class RequestHead(NamedTuple):
    """A request head read whole."""

    method: bytes
    target: bytes
    version: bytes
    fields: list[tuple[bytes, bytes]]
    """The header fields in order: names as sent, values without the whitespace before them."""
    size: int
    """The bytes of its lines, without their line ends (what ``totalHeadersSize`` limits)."""
    end: int
    """Where the head ends in the bytes read, its blank line included."""


def read_head(data: bytes, max_line: int, max_size: int, max_fields: int) -> RequestHead | None:
    """The request head at the start of ``data``, or None to leave it to the line reader.

    Args:
        data: the bytes received, starting where a request head should start.
        max_line: the longest line allowed, without its CRLF.
        max_size: the most bytes allowed in all the head's lines, without their CRLFs.
        max_fields: the most header fields allowed.

    Returns:
        The head, when ``data`` holds all of it (up to its blank line), every line is within
        ``max_line``, the lines together within ``max_size``, the fields at most
        ``max_fields``, and it is well formed: an HTTP/1.0 or HTTP/1.1 request line, its
        method a token and its target printable ASCII, then fields whose names are tokens
        and whose values hold no NUL, CR or LF and do not end in whitespace. None otherwise.
    """
    # No head within the limits is longer than this: its lines, a CRLF after each, a blank one.
    end = data.find(b"\r\n\r\n", 0, max_size + 2 * max_fields + 4)
    if end < 0:
        return None
    head = data[:end]
    request_line = _REQUEST_LINE.match(head)
    if request_line is None:
        return None
    fields: list[tuple[bytes, bytes]] = _FIELD.findall(head, request_line.end())
    count = len(fields)
    size = end - 2 * count
    # Each match is a whole line after a CRLF: as many as there are CRLFs, every line matched.
    if count > max_fields or size > max_size or head.count(b"\r\n") != count:
        return None
    if end > max_line and max(map(len, head.split(b"\r\n"))) > max_line:
        return None
    method, target, version = request_line.groups()
    # tuple.__new__: a NamedTuple's own __new__ is a Python function, slower.
    return tuple.__new__(RequestHead, (method, target, version, fields, size, end + 4))
