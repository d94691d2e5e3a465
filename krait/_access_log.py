"""Formats access-log lines in the combined log format (as Apache and nginx write it).

The reactor only takes an :data:`AccessRecord` (references to what the request already
holds); the log's writer thread turns records into lines with :func:`record_lines`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

AccessRecord = tuple[str, str, bytes, bytes, bytes, int, int, "bytes | None", "bytes | None"]
"""host, timestamp, method, target, protocol, status, length, Referer, User-Agent."""

_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\"}
_PLAIN = re.compile(rb"[\x20-\x21\x23-\x5b\x5d-\x7e]*")


def escape_field(value: bytes | str) -> str:
    """Make a request-controlled value safe inside a quoted log field.

    Quotes and backslashes are escaped, and control or non-ASCII bytes become ``\\xHH``, so a
    client can never forge a log line.
    """
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    if _PLAIN.fullmatch(raw):
        return raw.decode("ascii")
    out = []
    for byte in raw:
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def combined_line(
    host: str,
    timestamp: str,
    request_line: tuple[bytes, bytes, bytes],
    status: int,
    length: int,
    referrer: bytes | None,
    agent: bytes | None,
) -> str:
    """One line of the combined log format.

    Args:
        host: the client's address, or ``-``.
        timestamp: the time as ``[10/Oct/2000:13:55:36 +0000]``.
        request_line: method, target and protocol as received.
        status: the response status code.
        length: the body bytes sent (``-`` when 0).
        referrer: the Referer header, if any.
        agent: the User-Agent header, if any.

    Returns:
        The line, without a newline.
    """
    method, target, protocol = (escape_field(part) for part in request_line)
    return (
        f'{host} - - {timestamp} "{method} {target} {protocol}" {status} '
        f'{length or "-"} "{escape_field(referrer or b"-")}" "{escape_field(agent or b"-")}"'
    )


def record_lines(records: Iterable[AccessRecord]) -> str:
    """The combined-format lines of access records, each ending with a newline."""
    return "".join(
        combined_line(host, timestamp, (method, target, protocol), status, length, ref, agent)
        + "\n"
        for host, timestamp, method, target, protocol, status, length, ref, agent in records
    )
