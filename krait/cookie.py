"""HTTP cookies without touching headers: read the request's, set the response's.

- Get request cookies: :func:`get_cookie` or :func:`get_cookies`.
- Set cookies: create a :class:`Cookie`, optionally add attributes to it, then call
  :func:`set_cookie` to send it with the response (also with a custom ``krait.response``).
- Get response cookies: :func:`get_response_cookies`.

As in the original Krait, names and values are sent as given (attributes spelled as it did:
``expires=``, ``max-age=``, ``path=``, ``domain=``, ``HttpOnly``, ``Secure``). Only what would
break the header is refused: ``;`` (it would end the value), ``=`` in a name, and control
characters (CR and LF would start a new header). Cookies parsed from requests or headers are
taken as they are.
"""

from __future__ import annotations

import calendar
import datetime
import email.utils
import operator
import re
from collections.abc import Callable, Iterable

from krait import _context
from krait._caching import http_date, parse_http_date

__all__ = [
    "Cookie",
    "CookieAttribute",
    "CookieDomainAttribute",
    "CookieExpiresAttribute",
    "CookieHttpOnlyAttribute",
    "CookieMaxAgeAttribute",
    "CookiePathAttribute",
    "CookieSameSiteAttribute",
    "CookieSecureAttribute",
    "get_cookie",
    "get_cookies",
    "get_response_cookies",
    "set_cookie",
]

_SAME_SITE_VALUES = {"strict": "Strict", "lax": "Lax", "none": "None"}
# Repeated Cookie headers arrive joined with ", "; a comma followed by `name=` starts a cookie.
_JOINED_HEADER_SEPARATOR = re.compile(r",[ \t]+(?=[!#$%&'*+\-.^_`|~0-9A-Za-z]+=)")


def _has_control(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


def _checked_name(name: str, what: str) -> str:
    if not name.strip() or _has_control(name) or any(char in name for char in "=;"):
        raise ValueError(
            f"{what} {name!r} cannot be sent: it must not be blank or contain '=', ';' or "
            "control characters"
        )
    return name


def _checked_value(value: str) -> str:
    if ";" in value or _has_control(value):
        raise ValueError(
            f"cookie value {value!r} cannot be sent: ';' would end it and control characters "
            "would break the header; URL-encode the value first: urllib.parse.quote(value)"
        )
    return value


def _checked_attribute_value(name: str, value: str) -> str:
    if ";" in value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError(
            f"the value {value!r} of cookie attribute {name!r} must not contain ';' or "
            "control characters"
        )
    return value


def _imf_fixdate(moment: datetime.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return http_date(calendar.timegm(moment.utctimetuple()))


def _parse_cookie_date(text: str) -> datetime.datetime:
    seconds = parse_http_date(text)
    if seconds is not None:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    # The original Krait wrote dates without zero padding (``Thu, 5 Jan 2017 3:4:5 GMT``).
    moment = email.utils.parsedate_to_datetime(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


class CookieAttribute:
    """A generic cookie attribute.

    Args:
        name: the name of the attribute, e.g. ``"Path"``.
        value: the value of the attribute, or None for a flag such as ``HttpOnly``.

    Attributes:
        name (str): the name of the attribute.
        value (str | None): the value of the attribute.

    Raises:
        ValueError: the name is not a token, or the value holds ``;`` or control characters.
    """

    def __init__(self, name: str, value: str | None = None) -> None:
        self.name = _checked_name(name, "cookie attribute name")
        self.value = None if value is None else _checked_attribute_value(name, str(value))

    @classmethod
    def _unchecked(cls, name: str, value: str | None) -> CookieAttribute:
        attribute = cls.__new__(cls)
        attribute.name = name
        attribute.value = value
        return attribute

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CookieAttribute):
            return NotImplemented
        return (type(self), self.name, self.value) == (type(other), other.name, other.value)


class CookieExpiresAttribute(CookieAttribute):
    """Sets the Expires attribute: the cookie deletes itself at a certain time.

    Args:
        expire_datetime: the moment the cookie expires; a naive datetime is taken as UTC,
            an aware one is converted. Written as an IMF-fixdate
            (``Thu, 05 Jan 2017 03:04:05 GMT``).

    Attributes:
        expire_datetime (datetime.datetime): the moment the cookie expires.
    """

    def __init__(self, expire_datetime: datetime.datetime) -> None:
        super().__init__("expires", _imf_fixdate(expire_datetime))
        self.expire_datetime = expire_datetime


class CookieMaxAgeAttribute(CookieAttribute):
    """Sets the Max-Age attribute: the cookie deletes itself after a number of seconds.

    Args:
        max_age: the lifetime of the cookie, in seconds; zero or less expires it at once.

    Attributes:
        max_age (int): the lifetime of the cookie, in seconds.
    """

    def __init__(self, max_age: int) -> None:
        self.max_age = operator.index(max_age)
        super().__init__("max-age", str(self.max_age))


class CookiePathAttribute(CookieAttribute):
    """Sets the Path attribute: the cookie is sent only to a URL and its descendants.

    Args:
        path: the URL to which to restrict the cookie.

    Attributes:
        path (str): the URL to which the cookie is restricted.
    """

    def __init__(self, path: str) -> None:
        super().__init__("path", path)
        self.path = path


class CookieDomainAttribute(CookieAttribute):
    """Sets the Domain attribute: the domain on which the client sends the cookie.

    Args:
        domain: the domain on which the cookie is restricted.

    Attributes:
        domain (str): the domain on which the cookie is restricted.
    """

    def __init__(self, domain: str) -> None:
        super().__init__("domain", domain)
        self.domain = domain


class CookieHttpOnlyAttribute(CookieAttribute):
    """Sets the HttpOnly attribute: the cookie is inaccessible from JavaScript."""

    def __init__(self) -> None:
        super().__init__("HttpOnly")


class CookieSecureAttribute(CookieAttribute):
    """Sets the Secure attribute: the cookie is only sent over HTTPS."""

    def __init__(self) -> None:
        super().__init__("Secure")


class CookieSameSiteAttribute(CookieAttribute):
    """Sets the SameSite attribute: whether cross-site requests carry the cookie (a krait addition).

    Args:
        same_site: ``"Strict"``, ``"Lax"`` or ``"None"`` (any case); browsers accept
            ``"None"`` only on a Secure cookie.

    Attributes:
        same_site (str): the value, capitalised as above.

    Raises:
        ValueError: the value is not one of the three.
    """

    def __init__(self, same_site: str) -> None:
        canonical = _SAME_SITE_VALUES.get(str(same_site).lower())
        if canonical is None:
            raise ValueError(f"SameSite must be 'Strict', 'Lax' or 'None', not {same_site!r}")
        super().__init__("SameSite", canonical)
        self.same_site = canonical


class Cookie:
    """Represents an HTTP cookie.

    Args:
        name: the name of the cookie, or ``""`` for a nameless cookie (only the value is
            sent); ``=``, ``;`` and control characters are refused.
        value: the value of the cookie, sent as given; ``;`` and control characters are
            refused (URL-encode such text first: ``urllib.parse.quote(value)``).
        attributes: a (possibly empty) list of attributes; can be updated later.

    Attributes:
        attributes (list[CookieAttribute]): the attributes; update them with the methods.

    Raises:
        ValueError: the name or value cannot be sent in a Set-Cookie header.
    """

    def __init__(
        self, name: str, value: str, attributes: Iterable[CookieAttribute] | None = None
    ) -> None:
        self.name = name
        self.value = value
        self.attributes: list[CookieAttribute] = list(attributes or [])

    @classmethod
    def _unchecked(cls, name: str, value: str, attributes: list[CookieAttribute]) -> Cookie:
        """A cookie read from a header, kept exactly as it was sent."""
        cookie = cls.__new__(cls)
        cookie._name, cookie._value, cookie.attributes = name, value, attributes
        return cookie

    @property
    def name(self) -> str:
        """The name of the cookie."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        name = str(name)
        self._name = name if name == "" else _checked_name(name, "cookie name")

    @property
    def value(self) -> str:
        """The value of the cookie."""
        return self._value

    @value.setter
    def value(self, value: str) -> None:
        self._value = _checked_value(str(value))

    def add_attribute(self, attribute: CookieAttribute) -> None:
        """Add an attribute, replacing any attribute with the same name (in any case).

        Args:
            attribute: the attribute to add.
        """
        self.remove_attribute(attribute.name)
        self.attributes.append(attribute)

    def remove_attribute(self, name: str) -> None:
        """Remove an attribute from the cookie.

        Args:
            name: the name of the attribute to remove (e.g. ``"Expires"``), in any case.
        """
        wanted = name.lower()
        self.attributes = [item for item in self.attributes if item.name.lower() != wanted]

    def set_expires(self, expires_datetime: datetime.datetime | None) -> None:
        """Set or remove the Expires attribute: the cookie deletes itself at a certain time.

        Args:
            expires_datetime: the UTC (naive) or timezone-aware time of expiration, or None
                to remove.
        """
        if expires_datetime is None:
            self.remove_attribute("Expires")
        else:
            self.add_attribute(CookieExpiresAttribute(expires_datetime))

    def set_max_age(self, max_age: int | None) -> None:
        """Set or remove the Max-Age attribute: the cookie deletes itself after some seconds.

        Args:
            max_age: the longest the cookie may be kept, in seconds, or None to remove.
        """
        if max_age is None:
            self.remove_attribute("Max-Age")
        else:
            self.add_attribute(CookieMaxAgeAttribute(max_age))

    def set_path(self, path: str | None) -> None:
        """Set or remove the Path attribute: the cookie is sent only to a URL and below.

        Args:
            path: the path, or None to remove.
        """
        if path is None:
            self.remove_attribute("Path")
        else:
            self.add_attribute(CookiePathAttribute(path))

    def set_domain(self, domain: str | None) -> None:
        """Set or remove the Domain attribute: the domain the client sends the cookie to.

        Args:
            domain: the domain, or None to remove.
        """
        if domain is None:
            self.remove_attribute("Domain")
        else:
            self.add_attribute(CookieDomainAttribute(domain))

    def set_secure(self, is_secure: bool) -> None:
        """Set or remove the Secure attribute: the cookie is only sent over HTTPS.

        Args:
            is_secure: True to set the attribute, False to remove it.
        """
        if is_secure:
            self.add_attribute(CookieSecureAttribute())
        else:
            self.remove_attribute("Secure")

    def set_http_only(self, is_http_only: bool) -> None:
        """Set or remove the HttpOnly attribute: the cookie is inaccessible from JavaScript.

        Args:
            is_http_only: True to set the attribute, False to remove it.
        """
        if is_http_only:
            self.add_attribute(CookieHttpOnlyAttribute())
        else:
            self.remove_attribute("HttpOnly")

    def set_same_site(self, same_site: str | None) -> None:
        """Set or remove the SameSite attribute (a krait addition).

        Args:
            same_site: ``"Strict"``, ``"Lax"`` or ``"None"``, or None to remove.

        Raises:
            ValueError: the value is not one of the three.
        """
        if same_site is None:
            self.remove_attribute("SameSite")
        else:
            self.add_attribute(CookieSameSiteAttribute(same_site))

    def __str__(self) -> str:
        text = f"{self.name}={self.value}" if self.name else self.value
        return text + "".join(f"; {attribute}" for attribute in self.attributes)

    def __repr__(self) -> str:
        return f"Cookie({self.name!r}, {self.value!r}, {self.attributes!r})"


def _split_pair(text: str) -> tuple[str, str]:
    """Split ``name=value`` at the first ``=``; without ``=`` the whole text is the value."""
    name, equals, value = text.partition("=")
    return (name.strip(), value.strip()) if equals else ("", text.strip())


def _parse_request_cookies(header: str) -> list[Cookie]:
    cookies: list[Cookie] = []
    for part in header.split(";"):
        for piece in _JOINED_HEADER_SEPARATOR.split(part):
            if piece.strip():
                cookies.append(Cookie._unchecked(*_split_pair(piece), attributes=[]))
    return cookies


_ATTRIBUTE_PARSERS: dict[str, Callable[[str], CookieAttribute]] = {
    "expires": lambda text: CookieExpiresAttribute(_parse_cookie_date(text)),
    "max-age": lambda text: CookieMaxAgeAttribute(int(text)),
    "path": CookiePathAttribute,
    "domain": CookieDomainAttribute,
    "httponly": lambda _text: CookieHttpOnlyAttribute(),
    "secure": lambda _text: CookieSecureAttribute(),
    "samesite": CookieSameSiteAttribute,
}


def _parse_attribute(text: str) -> CookieAttribute:
    name, equals, value = (piece.strip() for piece in text.partition("="))
    parse = _ATTRIBUTE_PARSERS.get(name.lower())
    if parse is not None:
        try:
            return parse(value)
        except (ValueError, TypeError, OverflowError, OSError):
            pass
    return CookieAttribute._unchecked(name, value if equals else None)


def _parse_set_cookie(header: str) -> Cookie:
    first, *attributes = header.split(";")
    name, value = _split_pair(first)
    parsed = [_parse_attribute(text) for text in attributes if text.strip()]
    return Cookie._unchecked(name, value, parsed)


def get_cookies() -> list[Cookie]:
    """Get all the cookies sent by the client.

    The Cookie header is split on ``;`` (spaces around each cookie stripped) and each cookie
    at its first ``=``; values are neither unquoted nor URL-decoded. Several Cookie headers
    all count. A cookie without ``=`` has the name ``""``.

    Returns:
        The cookies, in the order sent.
    """
    state = _context.current()
    if state.cookies_cache is None:
        header = state.request.headers.get("cookie") if state.request is not None else None
        state.cookies_cache = _parse_request_cookies(header or "")
    return list(state.cookies_cache)


def get_cookie(name: str, default: str | None = None) -> str | None:
    """Get the value of a single cookie, by name.

    Args:
        name: the name of the cookie to be returned.
        default: the value to be used if the cookie cannot be found.

    Returns:
        The value of the first cookie with that name, or ``default``.
    """
    for cookie in get_cookies():
        if cookie.name == name:
            return cookie.value
    return default


def set_cookie(cookie: Cookie) -> None:
    """Set a new (or updated) cookie: adds a Set-Cookie header to the response.

    Args:
        cookie: the cookie item.
    """
    _context.current().extra_headers.append(("set-cookie", str(cookie)))


def get_response_cookies() -> list[Cookie]:
    """Get cookies already set with :func:`set_cookie` or by adding headers to
    ``krait.extra_headers``.

    Returns:
        The response cookies, one per Set-Cookie header (name compared in any case), with
        attributes rebuilt as their classes (Expires as a UTC datetime).
    """
    return [
        _parse_set_cookie(value)
        for name, value in _context.current().extra_headers
        if name.lower() == "set-cookie"
    ]
