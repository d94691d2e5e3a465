"""A whole HTTP/1.1 request head read in one pass, when it is plainly well formed.

twisted.web reads a request head a line at a time, a few Python calls per line.
:func:`read_head` takes the bytes a channel holds and, when they start with a complete head
that the line reader would accept as it is, returns its request line and header fields at
once. It is only a shortcut: whatever it is unsure of (a partial head, anything malformed or
oversized, obsolete line folding, a bare CR or LF, a NUL) it leaves to the line reader,
returning None, so that every refusal keeps the line reader's answer.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["RequestHead", "read_head"]

_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"

# A request line (RFC 9112 §3: method SP request-target SP HTTP-version) and header lines
# (§5: field-name ":" field-value), each after a CRLF. A target is printable ASCII; a field
# value anything but NUL, CR and LF; so a bare CR or LF, a NUL, a line folded onto the
# previous one (it starts with a space) or a name that is not a token makes no match.
_HEAD = re.compile(
    rb"(%s+) ([\x21-\x7e]+) (HTTP/1\.[01])(?:\r\n%s+:[^\r\n\x00]*)*" % (_TCHAR, _TCHAR)
)
_FIELD = re.compile(rb"\r\n([^:]+):[ \t]*([^\r]*)")
_OWS = b" \t"


class RequestHead(NamedTuple):
    """A request head read whole."""

    method: bytes
    target: bytes
    version: bytes
    fields: list[tuple[bytes, bytes]]
    """The header fields in order: names as sent, values without surrounding whitespace."""
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
        and whose values hold no NUL, CR or LF. None otherwise.
    """
    # No head within the limits is longer than this: its lines, a CRLF after each, a blank one.
    end = data.find(b"\r\n\r\n", 0, max_size + 2 * max_fields + 4)
    if end < 0:
        return None
    head = data[:end]
    line_ends = head.count(b"\r\n")
    size = end - 2 * line_ends
    if line_ends > max_fields or size > max_size:
        return None
    if end > max_line and max(map(len, head.split(b"\r\n"))) > max_line:
        return None
    found = _HEAD.fullmatch(head)
    if found is None:
        return None
    fields = [(name, value.rstrip(_OWS)) for name, value in _FIELD.findall(head, found.end(3))]
    return RequestHead(found[1], found[2], found[3], fields, size, end + 4)
