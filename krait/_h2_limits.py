"""The limits of an HTTP/2 connection, and a frame meter that enforces them as bytes arrive.

The ``h2`` library bounds most of what a client can make a server hold, but not all of it at
the moment it arrives: it buffers a frame whole before checking its length against
SETTINGS_MAX_FRAME_SIZE (so a header announcing 16 MiB is 16 MiB held first), and it collects
a header block over up to 64 CONTINUATION frames (1 MiB) before decoding it. The
:class:`FrameMeter` reads only the 9-byte frame headers of what the client sends, before
``h2`` sees the bytes, and refuses the first frame that breaks a limit (RFC 9113 §4.1, §4.2,
§6.10).

Pure: plain bytes and ints in, an exception out.
"""

from __future__ import annotations

__all__ = [
    "MAX_CONCURRENT_STREAMS",
    "MAX_FRAME_SIZE",
    "MAX_HEADER_BLOCK_SIZE",
    "MAX_HEADER_LIST_SIZE",
    "FrameLimitExceeded",
    "FrameMeter",
    "FrameTooLarge",
    "HeaderBlockTooLarge",
]

MAX_CONCURRENT_STREAMS = 100
"""Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); nginx allows 128."""

MAX_FRAME_SIZE = 16_384
"""The largest frame payload accepted (SETTINGS_MAX_FRAME_SIZE): the protocol's minimum."""

MAX_HEADER_LIST_SIZE = 16_384
"""The largest decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE), counted as RFC 9113 §6.5.2
does (each field's name and value, plus 32): the 16 KiB an HTTP/1.1 head may take."""

MAX_HEADER_BLOCK_SIZE = 4 * MAX_HEADER_LIST_SIZE
"""The largest compressed header block (HEADERS plus its CONTINUATION frames). HPACK's longest
Huffman code is 30 bits, so no block that decodes within :data:`MAX_HEADER_LIST_SIZE` comes near
it; a block past it is a CONTINUATION flood, refused before it is decoded."""

_PREFACE_SIZE = len(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
_FRAME_HEADER_SIZE = 9
_HEADERS, _PUSH_PROMISE, _CONTINUATION = 0x1, 0x5, 0x9
_HEADER_BLOCK_TYPES = frozenset({_HEADERS, _PUSH_PROMISE, _CONTINUATION})
_END_HEADERS = 0x4

_FRAME_SIZE_ERROR = 0x6
_ENHANCE_YOUR_CALM = 0xB


class FrameLimitExceeded(Exception):  # noqa: N818 - named for the condition (STYLE.md)
    """A client's frame broke one of the connection's limits; the connection must end.

    Attributes:
        error_code: the HTTP/2 error code for the GOAWAY frame (RFC 9113 §7).
    """

    error_code = 0x1


class FrameTooLarge(FrameLimitExceeded):
    """A frame announced a payload over SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2)."""

    error_code = _FRAME_SIZE_ERROR

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a frame of {size} bytes, over SETTINGS_MAX_FRAME_SIZE {limit}")


class HeaderBlockTooLarge(FrameLimitExceeded):
    """A header block grew past the limit, usually by endless CONTINUATION frames."""

    error_code = _ENHANCE_YOUR_CALM

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a header block of {size} bytes and growing, over {limit}")


class FrameMeter:
    """Follows the frames of a client's byte stream and refuses those over the limits.

    Feed it what the client sends, in any chunks, before the HTTP/2 library parses it. It keeps
    no more than a partial 9-byte frame header, whatever arrives.

    Args:
        max_frame_size: the largest frame payload accepted.
        max_header_block_size: the largest header block (its frames' payloads together).
    """

    def __init__(
        self,
        max_frame_size: int = MAX_FRAME_SIZE,
        max_header_block_size: int = MAX_HEADER_BLOCK_SIZE,
    ) -> None:
        self.max_frame_size = max_frame_size
        self.max_header_block_size = max_header_block_size
        self._preface_left = _PREFACE_SIZE
        self._header = bytearray()
        self._payload_left = 0
        self._header_block = 0
        self._in_header_block = False
        self.frames_started = 0
        """Frames of which a first byte arrived, since the connection began."""

    def feed(self, data: bytes) -> None:
        """Account for ``data``, the next bytes from the client.

        Raises:
            FrameTooLarge: a frame header announced a payload over ``max_frame_size``.
            HeaderBlockTooLarge: a header block's frames added up to over
                ``max_header_block_size``.
        """
        position = min(self._preface_left, len(data))
        self._preface_left -= position
        while position < len(data):
            if self._payload_left:
                step = min(self._payload_left, len(data) - position)
                self._payload_left -= step
                position += step
                continue
            if not self._header:
                self.frames_started += 1
            wanted = _FRAME_HEADER_SIZE - len(self._header)
            self._header += data[position : position + wanted]
            position += wanted
            if len(self._header) < _FRAME_HEADER_SIZE:
                return
            self._frame_header(bytes(self._header))
            self._header.clear()

    @property
    def frame_open(self) -> bool:
        """Whether part of a frame (or of the connection preface) arrived, but not all of it."""
        preface_open = 0 < self._preface_left < _PREFACE_SIZE
        return preface_open or bool(self._header) or self._payload_left > 0

    @property
    def header_block_open(self) -> bool:
        """Whether a header block began (HEADERS without END_HEADERS) and has not ended."""
        return self._in_header_block

    def _frame_header(self, header: bytes) -> None:
        length = int.from_bytes(header[:3], "big")
        kind, flags = header[3], header[4]
        if length > self.max_frame_size:
            raise FrameTooLarge(length, self.max_frame_size)
        if kind in _HEADER_BLOCK_TYPES:
            self._header_block += length
            if self._header_block > self.max_header_block_size:
                raise HeaderBlockTooLarge(self._header_block, self.max_header_block_size)
            self._in_header_block = not flags & _END_HEADERS
            if flags & _END_HEADERS:
                self._header_block = 0
        self._payload_left = length
