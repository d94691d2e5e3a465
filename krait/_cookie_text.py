"""Cookie header text as plain values: what may be sent, cookie dates, splitting headers.

Pure functions over ``str`` (RFC 6265 §4 and §5.2); :mod:`krait.cookie` builds its public
classes on them. Checks refuse only what would break the header (``;`` ends a value, ``=``
ends a name, CR and LF start a new header); parsing takes whatever a client or a site sent.
"""

from __future__ import annotations

import calendar
import datetime
import email.utils
import re

from krait._caching import http_date, parse_http_date

SAME_SITE_VALUES = {"strict": "Strict", "lax": "Lax", "none": "None"}
"""SameSite values, by their lower-case spelling, as they are sent."""

# Repeated Cookie headers arrive joined with ", "; a comma followed by `name=` starts a cookie.
_JOINED_HEADER_SEPARATOR = re.compile(r",[ \t]+(?=[!#$%&'*+\-.^_`|~0-9A-Za-z]+=)")


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (CR and LF among them)."""
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


def checked_name(name: str, what: str) -> str:
    """``name``, if it can be sent as a cookie or attribute name (``what`` names which)."""
    if not name.strip() or has_control(name) or any(char in name for char in "=;"):
        raise ValueError(
            f"{what} {name!r} cannot be sent: it must not be blank or contain '=', ';' or "
            "control characters"
        )
    return name


def checked_value(value: str) -> str:
    """``value``, if it can be sent as a cookie value."""
    if ";" in value or has_control(value):
        raise ValueError(
            f"cookie value {value!r} cannot be sent: ';' would end it and control characters "
            "would break the header; URL-encode the value first: urllib.parse.quote(value)"
        )
    return value


def checked_attribute_value(name: str, value: str) -> str:
    """``value``, if it can be sent as the value of the attribute ``name``."""
    if ";" in value or has_control(value):
        raise ValueError(
            f"the value {value!r} of cookie attribute {name!r} must not contain ';' or "
            "control characters"
        )
    return value


def imf_fixdate(moment: datetime.datetime) -> str:
    """A datetime as an Expires date (IMF-fixdate); a naive one is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return http_date(calendar.timegm(moment.utctimetuple()))


def parse_cookie_date(text: str) -> datetime.datetime:
    """An Expires date as an aware datetime.

    Raises:
        ValueError: ``text`` is no date.
    """
    seconds = parse_http_date(text)
    if seconds is not None:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    # The original Krait wrote dates without zero padding (``Thu, 5 Jan 2017 3:4:5 GMT``).
    moment = email.utils.parsedate_to_datetime(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


def split_pair(text: str) -> tuple[str, str]:
    """Split ``name=value`` at the first ``=``; without ``=`` the whole text is the value."""
    name, equals, value = text.partition("=")
    return (name.strip(), value.strip()) if equals else ("", text.strip())


def request_cookie_pairs(header: str) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of a Cookie header (several joined with ``", "`` too)."""
    pairs: list[tuple[str, str]] = []
    for part in header.split(";"):
        for piece in _JOINED_HEADER_SEPARATOR.split(part):
            if piece.strip():
                pairs.append(split_pair(piece))
    return pairs


def set_cookie_parts(header: str) -> tuple[str, str, list[tuple[str, str | None]]]:
    """The name, value and ``(attribute, value or None)`` pairs of a Set-Cookie header."""
    first, *attributes = header.split(";")
    name, value = split_pair(first)
    parsed: list[tuple[str, str | None]] = []
    for text in attributes:
        if text.strip():
            attribute, equals, attribute_value = (piece.strip() for piece in text.partition("="))
            parsed.append((attribute, attribute_value if equals else None))
    return name, value, parsed
