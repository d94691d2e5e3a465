"""Form bodies from plain values: query strings, Content-Type parameters, multipart/form-data.

Everything here works on ``str``, ``bytes`` and binary file objects, so it is tested without a
server. The multipart parser streams: it reads the body in chunks and hands part contents to a
:class:`krait._spool.PartStore`, which keeps at most a budget of them in memory per body and
puts the rest on disk, so neither a 50 MiB upload nor a body of many smaller parts is ever held
in memory. Part headers, which must stay in memory, have limits of their own.
Malformed multipart input raises :class:`MultipartError` (and nothing else), whose message is
the reason krait sends with the 400 response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import unquote, unquote_plus

from krait._spool import DEFAULT_MEMORY_BUDGET, PartStore

__all__ = [
    "CHUNK_SIZE",
    "MAX_ALL_PART_HEADER_BYTES",
    "MAX_PARTS",
    "MAX_PART_HEADER_BYTES",
    "MultipartError",
    "NotMultipartError",
    "Part",
    "boundary_from_content_type",
    "iter_multipart",
    "parse_content_type",
    "parse_query",
]

CHUNK_SIZE = 1 << 16
"""How many bytes the multipart parser asks the body stream for at a time."""

MAX_PARTS = 1000
"""The most parts a multipart body may have."""

MAX_PART_HEADER_BYTES = 16 * 1024
"""The largest header block one multipart part may have."""

MAX_ALL_PART_HEADER_BYTES = 256 * 1024
"""The most header bytes all the parts of one multipart body may have together.

Part headers stay in memory, unlike part contents, so they need a bound per body: without
one, a thousand parts of 16 KiB headers would hold 16 MiB (more once decoded) per request.
"""

_MAX_BOUNDARY_LINE = 1024
_BOUNDARY_CHARS = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? "
)


class MultipartError(ValueError):
    """A request body is not the multipart/form-data it claims to be.

    The message is a reason for a human, e.g. ``"multipart body ends before its closing
    boundary"``; krait answers such a request with 400 and that reason.
    """


class NotMultipartError(MultipartError):
    """The request does not claim to be a multipart form: its Content-Type is missing, is
    another type, or has no usable boundary.

    ``Request.get_multipart_form()`` answers None for it, as the original did.
    """


def parse_query(query: str) -> dict[str, str]:
    """Parse a query string or an ``application/x-www-form-urlencoded`` body.

    Each ``&``-separated field is split at its first ``=``, so values keep any further ``=``;
    a field without ``=`` has the value ``""``. Keys and values are URL-decoded (``+`` is a
    space; invalid UTF-8 becomes U+FFFD). Empty fields are skipped; the last repeated key wins.

    Args:
        query: the text after ``?`` in a URL, or a form body decoded as text.

    Returns:
        The fields as a dict.
    """
    fields: dict[str, str] = {}
    if not query:
        return fields
    for field in query.split("&"):
        if not field:
            continue
        key, _, value = field.partition("=")
        fields[unquote_plus(key, errors="replace")] = unquote_plus(value, errors="replace")
    return fields


def _split_outside_quotes(value: str, separator: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    in_quotes = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif in_quotes and char == "\\":
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == separator and not in_quotes:
            pieces.append(value[start:index])
            start = index + 1
    pieces.append(value[start:])
    return pieces


def _unquote_param(value: str) -> str:
    if not value.startswith('"'):
        return value
    # Browsers send Windows paths in filenames without escaping their backslashes, so only
    # ``\"`` and ``\\`` count as quoted-pairs; any other backslash is kept as it is.
    chars: list[str] = []
    index = 1
    while index < len(value):
        char = value[index]
        if char == "\\" and value[index + 1 : index + 2] in ('"', "\\"):
            chars.append(value[index + 1])
            index += 2
            continue
        if char == '"':
            break
        chars.append(char)
        index += 1
    return "".join(chars)


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type (or Content-Disposition) value into its type and parameters.

    Args:
        value: e.g. ``'multipart/form-data; boundary="a;b"'``.

    Returns:
        The lower-cased type and a dict of lower-cased parameter names to values, with
        quoted-strings unquoted. Parameters without ``=`` are ignored; the first of repeated
        parameters wins.
    """
    media_type, *params = _split_outside_quotes(value, ";")
    parsed: dict[str, str] = {}
    for param in params:
        name, equals, raw = param.partition("=")
        name = name.strip().lower()
        if equals and name and name not in parsed:
            parsed[name] = _unquote_param(raw.strip())
    return media_type.strip().lower(), parsed


def boundary_from_content_type(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` request.

    Args:
        content_type: the request's Content-Type header, or None when it has none.

    Returns:
        The boundary as bytes, without the leading ``--``.

    Raises:
        NotMultipartError: the type is missing or not multipart/form-data, or the boundary is
            missing or invalid (RFC 2046: 1 to 70 characters from a small set).
    """
    if not content_type:
        raise NotMultipartError(
            "the request has no Content-Type; a multipart form needs "
            "'Content-Type: multipart/form-data; boundary=...'"
        )
    media_type, params = parse_content_type(content_type)
    if media_type != "multipart/form-data":
        raise NotMultipartError(
            f"the request's Content-Type is {media_type!r}, not 'multipart/form-data'"
        )
    boundary = params.get("boundary")
    if not boundary:
        raise NotMultipartError("the multipart/form-data Content-Type has no boundary parameter")
    if len(boundary) > 70 or boundary.endswith(" ") or not _BOUNDARY_CHARS.issuperset(boundary):
        raise NotMultipartError(
            f"the multipart boundary {boundary!r} is invalid: it must be 1 to 70 letters, "
            "digits or '()+_,-./:=? characters, not ending in a space"
        )
    return boundary.encode("ascii")


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body.

    Attributes:
        name: the form field name.
        filename: the file name the client sent, or None for a plain field. It is untrusted:
            never use it as a path without sanitising it (e.g. ``os.path.basename``).
        content_type: the part's Content-Type, ``"text/plain"`` when it has none.
        headers: the part's headers, with lower-cased names.
        file: the part's content as a read-only binary file, rewound to its start: in memory
            while the body's parts together fit in the memory budget, else a window of one
            anonymous temporary file the body's other spilled parts share.
        size: the length of the content in bytes.
    """

    name: str
    filename: str | None
    content_type: str
    headers: dict[str, str]
    file: IO[bytes]
    size: int


class _ChunkReader:
    """A read buffer over a binary stream, bounded by the chunk size plus one marker."""

    def __init__(self, stream: IO[bytes], chunk_size: int, initial: bytes = b"") -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self._buffer = initial
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._stream.read(self._chunk_size)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def peek(self, size: int) -> bytes:
        """Up to ``size`` bytes ahead, fewer only at the end of the stream."""
        while len(self._buffer) < size and self._fill():
            pass
        return self._buffer[:size]

    def skip(self, size: int) -> None:
        self._buffer = self._buffer[size:]

    def read_until(self, marker: bytes, limit: int, what: str) -> bytes:
        """The bytes before ``marker``, consuming both; at most ``limit`` of them."""
        start = 0
        while True:
            index = self._buffer.find(marker, start)
            if 0 <= index <= limit:
                data = self._buffer[:index]
                self._buffer = self._buffer[index + len(marker) :]
                return data
            if index > limit or len(self._buffer) > limit + len(marker):
                raise MultipartError(f"multipart {what} is longer than {limit} bytes")
            start = max(0, len(self._buffer) - len(marker) + 1)
            if not self._fill():
                raise MultipartError(f"multipart body ends inside a {what}")

    def copy_until(self, marker: bytes, sink: Callable[[bytes], object], what: str) -> int:
        """Pass the bytes before ``marker`` to ``sink``, consuming both; return their count."""
        copied = 0
        keep = len(marker) - 1
        while True:
            index = self._buffer.find(marker)
            if index >= 0:
                sink(self._buffer[:index])
                self._buffer = self._buffer[index + len(marker) :]
                return copied + index
            if len(self._buffer) > keep:
                cut = len(self._buffer) - keep
                sink(self._buffer[:cut])
                copied += cut
                self._buffer = self._buffer[cut:]
            if not self._fill():
                raise MultipartError(f"multipart body ends before {what}")


def _parse_header_block(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    last_name: str | None = None
    for raw_line in block.decode("utf-8", errors="replace").split("\r\n"):
        if raw_line[:1] in (" ", "\t"):
            if last_name is None:
                raise MultipartError("multipart part headers start with a continuation line")
            headers[last_name] += " " + raw_line.strip()
            continue
        name, colon, value = raw_line.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            raise MultipartError(f"malformed multipart part header line {raw_line[:80]!r}")
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
        last_name = name
    return headers


def _decode_ext_value(value: str) -> str | None:
    """Decode an RFC 5987 ``charset'language'percent-encoded`` value, or None if invalid."""
    charset, quote1, rest = value.partition("'")
    _language, quote2, encoded = rest.partition("'")
    # RFC 5987 requires only these two; other charsets are ignored rather than trusted.
    if not (quote1 and quote2) or charset.lower() not in ("utf-8", "iso-8859-1"):
        return None
    return unquote(encoded, encoding=charset.lower(), errors="replace")


def _part_identity(headers: dict[str, str]) -> tuple[str, str | None]:
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise MultipartError("a multipart part has no Content-Disposition header")
    kind, params = parse_content_type(disposition)
    if kind != "form-data":
        raise MultipartError(f"a multipart part's Content-Disposition is {kind!r}, not 'form-data'")
    name = params.get("name")
    if name is None:
        raise MultipartError("a multipart part's Content-Disposition has no name parameter")
    filename = params.get("filename")
    extended = params.get("filename*")
    if extended is not None:
        filename = _decode_ext_value(extended) or filename
    return name, filename


def _after_boundary_is_close(reader: _ChunkReader) -> bool:
    """Consume what follows a boundary: ``--`` ends the body, else padding and CRLF."""
    if reader.peek(2) == b"--":
        return True
    padding = reader.read_until(b"\r\n", _MAX_BOUNDARY_LINE, "boundary line")
    if padding.strip(b" \t"):
        raise MultipartError("a multipart boundary is followed by unexpected characters")
    return False


def _read_header_block(reader: _ChunkReader) -> bytes:
    """A part's header block, without the blank line ending it (empty when it has no headers)."""
    if reader.peek(2) == b"\r\n":
        reader.skip(2)
        return b""
    return reader.read_until(b"\r\n\r\n", MAX_PART_HEADER_BYTES, "part header")


def _read_part(reader: _ChunkReader, delimiter: bytes, block: bytes, store: PartStore) -> Part:
    headers = _parse_header_block(block) if block else {}
    name, filename = _part_identity(headers)
    size = reader.copy_until(delimiter, store.write, "its closing boundary")
    content_type = headers.get("content-type") or "text/plain"
    return Part(name, filename, content_type, headers, store.end_part(), size)


def iter_multipart(
    stream: IO[bytes],
    boundary: bytes,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    *,
    max_parts: int = MAX_PARTS,
) -> Iterator[Part]:
    """Parse a multipart/form-data body as it is read.

    The preamble before the first boundary and the epilogue after the closing one are
    ignored. Each part is yielded once its content has been read to the next boundary.

    Args:
        stream: the body, positioned at its start; read in chunks of :data:`CHUNK_SIZE`.
        boundary: the boundary from the Content-Type (see :func:`boundary_from_content_type`).
        memory_budget: how many bytes of part contents may stay in memory, all the body's
            parts together; a part that does not fit in what is left goes to disk whole.
        max_parts: the most parts accepted.

    Yields:
        The parts, in body order.

    Raises:
        MultipartError: the body is malformed (no closing boundary, a part without
            Content-Disposition or name, oversized part headers, too many parts, ...).
    """
    if not boundary:
        raise MultipartError("the multipart boundary is empty")
    delimiter = b"\r\n--" + boundary
    # A leading CRLF lets a boundary on the body's very first line match like any other.
    reader = _ChunkReader(stream, CHUNK_SIZE, initial=b"\r\n")
    reader.copy_until(delimiter, lambda _preamble: None, "its first boundary")
    store = PartStore(memory_budget)
    try:
        count = 0
        header_bytes_left = MAX_ALL_PART_HEADER_BYTES
        while not _after_boundary_is_close(reader):
            count += 1
            if count > max_parts:
                raise MultipartError(f"the multipart body has more than {max_parts} parts")
            block = _read_header_block(reader)
            header_bytes_left -= len(block)
            if header_bytes_left < 0:
                raise MultipartError(
                    "the multipart part headers together are longer than "
                    f"{MAX_ALL_PART_HEADER_BYTES} bytes"
                )
            yield _read_part(reader, delimiter, block, store)
    finally:
        store.close()
