"""Cache decisions from plain values: Cache-Control, ETags, HTTP dates, conditional requests.

Cache-Control follows the original Krait's lists exactly (spec §6). ETags, ``Last-Modified``
and the precondition headers follow RFC 9110 §8.8 and §13, which the original only half did.
"""

from __future__ import annotations

import calendar
import datetime
import enum
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "CachePolicy",
    "CacheRules",
    "Precondition",
    "cache_policy",
    "evaluate_preconditions",
    "http_date",
    "make_etag",
    "parse_etag_list",
    "parse_http_date",
    "private_cache_control",
    "strong_match",
    "weak_match",
]

_Patterns = tuple[re.Pattern[str], ...]


def _compile_all(patterns: Iterable[str | re.Pattern[str]]) -> _Patterns:
    return tuple(re.compile(pattern) for pattern in patterns)


@dataclass(frozen=True)
class CacheRules:
    """The site's cache lists (``krait.config.cache_*``), compiled.

    Each pattern must match the whole cache key: the base filename relative to the site root.
    """

    no_store: _Patterns = ()
    private: _Patterns = ()
    public: _Patterns = ()
    long_term: _Patterns = ()
    max_age_default: int = 300
    max_age_long_term: int = 864000

    @classmethod
    def from_lists(
        cls,
        no_store: Iterable[str | re.Pattern[str]] = (),
        private: Iterable[str | re.Pattern[str]] = (),
        public: Iterable[str | re.Pattern[str]] = (),
        long_term: Iterable[str | re.Pattern[str]] = (),
        max_age_default: int = 300,
        max_age_long_term: int = 864000,
    ) -> CacheRules:
        """Compile the configured regular expressions.

        Raises:
            re.error: a pattern does not compile; the caller names the offending setting.
        """
        return cls(
            no_store=_compile_all(no_store),
            private=_compile_all(private),
            public=_compile_all(public),
            long_term=_compile_all(long_term),
            max_age_default=max_age_default,
            max_age_long_term=max_age_long_term,
        )


@dataclass(frozen=True)
class CachePolicy:
    """What a response may do with caches.

    Attributes:
        store: caches may store it; it then also gets an ETag.
        header: the Cache-Control value.
    """

    store: bool
    header: str


def _matches(patterns: _Patterns, key: str) -> bool:
    return any(pattern.fullmatch(key) for pattern in patterns)


def cache_policy(key: str, dynamic: bool, rules: CacheRules) -> CachePolicy:
    """Decide the caching of a response, as the original Krait did (spec §6).

    Args:
        key: the base filename relative to the site root, e.g. ``"css/site.css"``.
        dynamic: whether the response is rendered (a script or a template with code).
        rules: the site's cache lists.

    Returns:
        The policy; later lists override earlier ones (no-store, private, public, long-term).
    """
    # The original tracked "cache" and "store" apart, but every step sets them together.
    store = not dynamic
    private = long_term = False
    if _matches(rules.no_store, key):
        store = False
    if _matches(rules.private, key):
        private = store = True
    if _matches(rules.public, key):
        private, store = False, True
    if _matches(rules.long_term, key):
        long_term = store = True
    if not store:
        return CachePolicy(store=False, header="no-cache, no-store, must-revalidate")
    max_age = rules.max_age_long_term if long_term else rules.max_age_default
    parts = ["private"] if private else []
    parts += [f"max-age={max_age}", "must-revalidate"]
    return CachePolicy(store=store, header=", ".join(parts))


def private_cache_control(header: str) -> str:
    """``header`` for an answer made for one visitor (it used their session).

    RFC 9111 §5.2.2.7: ``private`` keeps shared caches (proxies, CDNs) from storing it, even
    those that ignore ``Vary: Cookie``, while the visitor's own browser may still keep it. A
    header that already forbids storing, or says ``private``, is returned as it is.
    """
    directives = {part.strip().lower() for part in header.split(",")}
    if "no-store" in directives or "private" in directives:
        return header
    return f"private, {header}"


def make_etag(st_ino: int, st_size: int, st_mtime_ns: int) -> str:
    """Make a strong ETag for a file from its ``os.stat`` fields.

    The mtime is in nanoseconds so that two edits within one second give different tags.

    Returns:
        A quoted tag such as ``"1a2b-400-17f3c2d1e0a9b800"``.
    """
    return f'"{st_ino:x}-{st_size:x}-{st_mtime_ns:x}"'


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBERS = {name.lower(): number for number, name in enumerate(_MONTHS, start=1)}


def http_date(timestamp: float) -> str:
    """Format a POSIX timestamp as an IMF-fixdate, e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


_CLOCK = r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
_IMF_FIXDATE = re.compile(
    r"[A-Za-z]{3}, (?P<day>[0-9]{2}) (?P<month>[A-Za-z]{3}) (?P<year>[0-9]{4}) " + _CLOCK + " GMT",
    re.ASCII,
)
_RFC850_DATE = re.compile(
    r"[A-Za-z]{6,9}, (?P<day>[0-9]{2})-(?P<month>[A-Za-z]{3})-(?P<year>[0-9]{2}) "
    + _CLOCK
    + " GMT",
    re.ASCII,
)
_ASCTIME_DATE = re.compile(
    r"[A-Za-z]{3} (?P<month>[A-Za-z]{3}) (?P<day>[ 0-9][0-9]) " + _CLOCK + r" (?P<year>[0-9]{4})",
    re.ASCII,
)


def _full_year(two_digits: int, now: float) -> int:
    # RFC 9110 §5.6.7: a year more than 50 years ahead is taken to be in the past century.
    this_year = time.gmtime(now).tm_year
    year = this_year - this_year % 100 + two_digits
    return year - 100 if year > this_year + 50 else year


def parse_http_date(value: str, *, now: float | None = None) -> int | None:
    """Parse an HTTP-date in any of the three forms of RFC 9110 §5.6.7.

    Args:
        value: an IMF-fixdate, an RFC 850 date or an asctime date; surrounding spaces are
            ignored.
        now: the current time, for the century of two-digit RFC 850 years; defaults to the
            clock.

    Returns:
        Seconds since the epoch, or None when the value is not a valid HTTP-date.
    """
    value = value.strip()
    match = _IMF_FIXDATE.fullmatch(value) or _ASCTIME_DATE.fullmatch(value)
    if match is not None:
        year = int(match["year"])
    else:
        match = _RFC850_DATE.fullmatch(value)
        if match is None:
            return None
        year = _full_year(int(match["year"]), time.time() if now is None else now)
    month = _MONTH_NUMBERS.get(match["month"].lower())
    day, hour, minute = int(match["day"]), int(match["hour"]), int(match["minute"])
    second = int(match["second"])
    if month is None or second > 60:
        return None
    try:
        # A leap second (:60) is valid in HTTP but not in datetime.
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


# An entity-tag (RFC 9110 §8.8.3) between optional list separators. Inside the quotes krait
# accepts any character but DQUOTE and controls, a little wider than etagc, so that tags other
# servers minted with spaces still compare.
_LIST_ITEM = re.compile(r'[ \t,]*(?P<tag>(?:W/)?"[^"\x00-\x1f\x7f]*")[ \t]*(?:,|\Z)')
_LIST_END = re.compile(r"[ \t,]*")


def parse_etag_list(value: str) -> list[str] | None:
    """Split an ``If-Match`` / ``If-None-Match`` value into entity-tags.

    Args:
        value: the header value, e.g. ``'"a", W/"b"'`` or ``*``; quoted tags may contain commas.

    Returns:
        None for ``*``; otherwise the tags as sent (with quotes and any ``W/`` prefix), or an
        empty list when the value is malformed, so that it matches nothing.
    """
    value = value.strip(" \t")
    if value == "*":
        return None
    tags: list[str] = []
    position = 0
    while not _LIST_END.fullmatch(value, position):
        match = _LIST_ITEM.match(value, position)
        if match is None:
            return []
        tags.append(match["tag"])
        position = match.end()
    return tags


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def strong_match(a: str, b: str) -> bool:
    """Compare entity-tags strongly: both strong and character for character equal."""
    return a == b and not a.startswith("W/")


def weak_match(a: str, b: str) -> bool:
    """Compare entity-tags weakly: equal once any ``W/`` prefix is dropped."""
    return _opaque(a) == _opaque(b)


class Precondition(enum.Enum):
    """The outcome of a request's conditional headers."""

    PROCEED = "proceed"
    NOT_MODIFIED = "not modified"
    FAILED = "failed"


def _if_match_passes(value: str, etag: str | None) -> bool:
    tags = parse_etag_list(value)
    if tags is None:
        return True
    return etag is not None and any(strong_match(tag, etag) for tag in tags)


def _if_none_match_passes(value: str, etag: str | None) -> bool:
    tags = parse_etag_list(value)
    if tags is None:
        return False
    return etag is None or not any(weak_match(tag, etag) for tag in tags)


def _modified_since(header: str | None, last_modified: int | None) -> bool | None:
    """Tell whether the resource changed after the header's date; None when not decidable."""
    if header is None or last_modified is None:
        return None
    date = parse_http_date(header)
    return None if date is None else last_modified > date


def evaluate_preconditions(
    method: str, etag: str | None, last_modified: int | None, headers: Mapping[str, str]
) -> Precondition:
    """Evaluate the conditional headers of a request, in the order of RFC 9110 §13.2.2.

    The caller evaluates them only for a resource that exists, so ``*`` always matches.
    Invalid dates, and dates when the resource has no modification time, are ignored.

    Args:
        method: the request method, upper case.
        etag: the current entity-tag, or None when the response carries none.
        last_modified: the current modification time in epoch seconds, or None.
        headers: the request headers, keyed by lower-case name.

    Returns:
        ``FAILED`` for 412, ``NOT_MODIFIED`` for 304, else ``PROCEED``.
    """
    if_match = headers.get("if-match")
    if if_match is not None:
        if not _if_match_passes(if_match, etag):
            return Precondition.FAILED
    elif _modified_since(headers.get("if-unmodified-since"), last_modified):
        return Precondition.FAILED
    safe = method in ("GET", "HEAD")
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if not _if_none_match_passes(if_none_match, etag):
            return Precondition.NOT_MODIFIED if safe else Precondition.FAILED
    elif safe and _modified_since(headers.get("if-modified-since"), last_modified) is False:
        return Precondition.NOT_MODIFIED
    return Precondition.PROCEED
