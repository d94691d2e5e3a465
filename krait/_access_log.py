"""Formats access-log lines: the combined log format (as Apache and nginx write it), or JSON.

The reactor only takes an :data:`AccessRecord` (references to what the request already
holds); the log's writer thread turns records into lines with :func:`record_lines`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

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
    tail = _combined_tail(*request_line, status, length, referrer, agent)
    return f"{host} - - {timestamp}{tail}"


ACCESS_NAMESPACE = "krait.access"
"""The log namespace of access lines (``--log-format json`` names it in each object)."""

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_COMBINED_TIME = re.compile(r"\[(\d\d)/(\w{3})/(\d{4}):(\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)\]")


@lru_cache(maxsize=4)  # the same time for every line of a second
def iso_time(timestamp: str) -> str:
    """``[10/Oct/2000:13:55:36 +0000]`` as ISO 8601, ``2000-10-10T13:55:36+00:00``.

    Anything else is returned as it is.
    """
    match = _COMBINED_TIME.fullmatch(timestamp)
    if match is None or match[2] not in _MONTHS:
        return timestamp
    day, month, year, clock, hours, minutes = match.groups()
    return f"{year}-{_MONTHS[month]:02d}-{day}T{clock}{hours}:{minutes}"


def json_line(record: dict[str, Any]) -> str:
    """One JSON object on one line (ASCII only: control characters and the rest escaped)."""
    return json.dumps(record, separators=(",", ":"))


def json_access_line(
    host: str,
    timestamp: str,
    request_line: tuple[bytes, bytes, bytes],
    status: int,
    length: int,
    referrer: bytes | None,
    agent: bytes | None,
) -> str:
    """One access line as a JSON object, for ``--log-format json``.

    It has the keys every JSON log line has (``time``, ``level``, ``namespace``, ``message``:
    the combined-format line) and each field on its own: ``host``, ``method``, ``target``,
    ``protocol``, ``status``, ``length``, ``referrer`` and ``agent`` (null when absent).
    Fields are the bytes received, as UTF-8 with undecodable bytes as ``\\xHH``; JSON
    escapes the rest. Arguments as :func:`combined_line`.
    """
    method, target, protocol = (_text(part) for part in request_line)
    return json_line(
        {
            "time": iso_time(timestamp),
            "level": "info",
            "namespace": ACCESS_NAMESPACE,
            "message": combined_line(
                host, timestamp, request_line, status, length, referrer, agent
            ),
            "host": host,
            "method": method,
            "target": target,
            "protocol": protocol,
            "status": status,
            "length": length,
            "referrer": None if referrer is None else _text(referrer),
            "agent": None if agent is None else _text(agent),
        }
    )


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


def record_lines(records: Iterable[AccessRecord], line: Callable[..., str] | None = None) -> str:
    """The lines of access records, each ending with a newline.

    Args:
        records: the records, oldest first.
        line: :func:`combined_line` (the default) or :func:`json_access_line`.
    """
    if line is None or line is combined_line:
        return combined_lines(records)
    return "".join(
        line(host, timestamp, (method, target, protocol), status, length, ref, agent) + "\n"
        for host, timestamp, method, target, protocol, status, length, ref, agent in records
    )


def combined_lines(records: Iterable[AccessRecord]) -> str:
    """What :func:`record_lines` gives with :func:`combined_line`, made faster for a batch.

    The same text: all but a line's host and time (request line, status, length, Referer,
    User-Agent) repeats from request to request, so it is escaped and formatted once per
    batch.
    """
    tails: dict[tuple[Any, ...], str] = {}  # per batch: bounded by the batch, not the clients
    lines = []
    for record in records:
        key = record[2:]
        tail = tails.get(key)
        if tail is None:
            tail = tails[key] = _combined_tail(*record[2:])
        lines.append(f"{record[0]} - - {record[1]}{tail}\n")
    return "".join(lines)


def _combined_tail(
    method: bytes,
    target: bytes,
    protocol: bytes,
    status: int,
    length: int,
    referrer: bytes | None,
    agent: bytes | None,
) -> str:
    """A combined line after its time: the quoted request line to the quoted User-Agent.

    The request line is escaped whole: a space needs no escaping, so that is escaping each
    part.
    """
    request = escape_field(b"%s %s %s" % (method, target, protocol))
    return (
        f' "{request}" {status} {length or "-"} '
        f'"{escape_field(referrer or b"-")}" "{escape_field(agent or b"-")}"'
    )
