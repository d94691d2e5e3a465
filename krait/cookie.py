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

import datetime
from collections.abc import Callable, Iterable

from krait import _context
from krait._cookie_attributes import (
    CookieAttribute,
    CookieDomainAttribute,
    CookieExpiresAttribute,
    CookieHttpOnlyAttribute,
    CookieMaxAgeAttribute,
    CookiePathAttribute,
    CookieSameSiteAttribute,
    CookieSecureAttribute,
)
from krait._cookie_text import (
    checked_name,
    checked_value,
    parse_cookie_date,
    request_cookie_pairs,
    set_cookie_parts,
)

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
        self._name = name if name == "" else checked_name(name, "cookie name")

    @property
    def value(self) -> str:
        """The value of the cookie."""
        return self._value

    @value.setter
    def value(self, value: str) -> None:
        self._value = checked_value(str(value))

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


def _parse_request_cookies(header: str) -> list[Cookie]:
    return [Cookie._unchecked(name, value, []) for name, value in request_cookie_pairs(header)]


_ATTRIBUTE_PARSERS: dict[str, Callable[[str], CookieAttribute]] = {
    "expires": lambda text: CookieExpiresAttribute(parse_cookie_date(text)),
    "max-age": lambda text: CookieMaxAgeAttribute(int(text)),
    "path": CookiePathAttribute,
    "domain": CookieDomainAttribute,
    "httponly": lambda _text: CookieHttpOnlyAttribute(),
    "secure": lambda _text: CookieSecureAttribute(),
    "samesite": CookieSameSiteAttribute,
}


def _parse_attribute(name: str, value: str | None) -> CookieAttribute:
    parse = _ATTRIBUTE_PARSERS.get(name.lower())
    if parse is not None:
        try:
            return parse(value or "")
        except (ValueError, TypeError, OverflowError, OSError):
            pass
    return CookieAttribute._unchecked(name, value)


def _parse_set_cookie(header: str) -> Cookie:
    name, value, attributes = set_cookie_parts(header)
    return Cookie._unchecked(name, value, [_parse_attribute(*pair) for pair in attributes])


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
