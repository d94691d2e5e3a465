"""The cookie attributes of :mod:`krait.cookie` (Expires, Max-Age, Path, Domain, ...).

Each class checks its value with ``_cookie_text`` and renders as ``name=value`` (or the bare
name of a flag). They are public as ``krait.cookie.Cookie*Attribute``; their
``__module__`` says so, for documentation and pickling.
"""

from __future__ import annotations

import datetime
import operator

from krait._cookie_text import (
    SAME_SITE_VALUES,
    checked_attribute_value,
    checked_name,
    imf_fixdate,
)


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
        self.name = checked_name(name, "cookie attribute name")
        self.value = None if value is None else checked_attribute_value(name, str(value))

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
        super().__init__("expires", imf_fixdate(expire_datetime))
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
        canonical = SAME_SITE_VALUES.get(str(same_site).lower())
        if canonical is None:
            raise ValueError(f"SameSite must be 'Strict', 'Lax' or 'None', not {same_site!r}")
        super().__init__("SameSite", canonical)
        self.same_site = canonical


for _class in (
    CookieAttribute,
    CookieExpiresAttribute,
    CookieMaxAgeAttribute,
    CookiePathAttribute,
    CookieDomainAttribute,
    CookieHttpOnlyAttribute,
    CookieSecureAttribute,
    CookieSameSiteAttribute,
):
    _class.__module__ = "krait.cookie"
