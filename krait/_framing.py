"""How long a request body is, decided from its ``Transfer-Encoding`` and ``Content-Length``.

Request smuggling lives in the gap between two parsers that frame the same bytes differently
(a proxy in front and krait behind), so this module accepts only the framings that every
reader agrees on (RFC 9112 §6) and refuses the rest; the HTTP channel answers the refusal
before reading any body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "MAX_LENGTH_DIGITS",
    "BadFraming",
    "UnsupportedTransferCoding",
    "body_length",
]

MAX_LENGTH_DIGITS = 18
"""The longest ``Content-Length`` accepted: 10**18 bytes is beyond any body, and every
parser converts it exactly."""

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LENGTH = re.compile(rb"[0-9]{1,%d}" % MAX_LENGTH_DIGITS)
_OWS = b" \t"


class BadFraming(Exception):  # noqa: N818 (named for the condition, as krait's are)
    """The request's body length cannot be determined reliably (400, RFC 9112 §6.3)."""


class UnsupportedTransferCoding(Exception):  # noqa: N818
    """The request uses a transfer coding krait does not implement (501, RFC 9112 §6.1).

    Attributes:
        coding: the first such coding, lowercased.
    """

    def __init__(self, coding: str) -> None:
        super().__init__(
            f"the transfer coding {coding!r} is not implemented (krait only decodes 'chunked')"
        )
        self.coding = coding


def body_length(
    transfer_encoding: Sequence[bytes] | None, content_length: Sequence[bytes] | None
) -> int | None:
    """The length of a request body from its framing headers, or None when it is chunked.

    Args:
        transfer_encoding: the values of every ``Transfer-Encoding`` line, in order, or None.
        content_length: the values of every ``Content-Length`` line, in order, or None.

    Returns:
        The body's length in bytes (0 without either header), or None for a chunked body.

    Raises:
        BadFraming: both headers at once; a ``Transfer-Encoding`` whose final coding is not
            ``chunked``, or that names ``chunked`` twice; a ``Content-Length`` that is not a
            decimal number of at most :data:`MAX_LENGTH_DIGITS` digits, or that gives
            differing values.
        UnsupportedTransferCoding: a coding other than ``chunked`` before the final
            ``chunked``.
    """
    if transfer_encoding is not None:
        if content_length is not None:
            # RFC 9112 §6.3: "ought to be handled as an error"; a front end may have used either.
            raise BadFraming("both Transfer-Encoding and Content-Length")
        _check_codings(_list_elements(transfer_encoding))
        return None
    if content_length is not None:
        return _single_length(content_length)
    return 0


def _list_elements(values: Sequence[bytes]) -> list[bytes]:
    """The elements of a list-valued field sent on several lines (RFC 9110 §5.3, §5.6.1)."""
    elements = (element.strip(_OWS) for element in b",".join(values).split(b","))
    return [element for element in elements if element]


def _check_codings(elements: list[bytes]) -> None:
    codings = []
    for element in elements:
        name, semicolon, _parameters = element.partition(b";")
        name = name.rstrip(_OWS).lower()
        if not _TOKEN.fullmatch(name) or (semicolon and name == b"chunked"):
            # chunked takes no parameters (RFC 9112 §7).
            raise BadFraming(f"Transfer-Encoding element {_shown(element)} is not a coding")
        codings.append(name)
    if not codings or codings[-1] != b"chunked":
        # RFC 9112 §6.3: otherwise the body's length cannot be determined reliably.
        raise BadFraming("the final Transfer-Encoding is not chunked")
    if codings.count(b"chunked") > 1:
        raise BadFraming("Transfer-Encoding names chunked more than once (RFC 9112 §7)")
    if len(codings) > 1:
        raise UnsupportedTransferCoding(codings[0].decode("ascii"))


def _single_length(values: Sequence[bytes]) -> int:
    # RFC 9110 §8.6: "42, 42" (on one line or several) may stand for one valid length.
    elements = [element.strip(_OWS) for element in b",".join(values).split(b",")]
    for element in elements:
        if not _LENGTH.fullmatch(element):
            raise BadFraming(
                f"Content-Length {_shown(element)} is not a decimal number of at most "
                f"{MAX_LENGTH_DIGITS} digits"
            )
    if len(set(map(int, elements))) > 1:
        raise BadFraming("Content-Length gives differing values")
    return int(elements[0])


def _shown(value: bytes) -> str:
    """A header value for a log line: quoted, and cut short (a hostile one may be huge)."""
    text = value.decode("latin-1")
    return repr(text if len(text) <= 40 else text[:40] + "...")
