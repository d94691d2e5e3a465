"""The part of twisted.web's ``Request.process`` a request to krait's own root needs, and the
``Date`` header formatted once a second.

twisted.web's ``process`` sets a ``Server`` header (krait drops it), formats ``Date`` anew for
each request, copies the path for ``sitepath`` and walks the resource tree. krait's root
renders every path itself (:attr:`krait._dispatch.KraitRoot.renders_every_path`), so a
request to it skips the walk; any other root is processed by twisted.web as before.
``KraitRequest.process`` calls :func:`process_request` once its own checks pass.
"""

from __future__ import annotations

from time import gmtime, time
from typing import Any
from urllib.parse import unquote_to_bytes

from twisted.python.failure import Failure
from twisted.web import server

from krait._twisted_compat import put_prepared_headers

__all__ = ["http_date", "process_request"]

_SERVER_REQUEST: Any = server.Request

_WEEKDAYS = b"Mon Tue Wed Thu Fri Sat Sun".split()
_MONTHS = b"- Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()  # gmtime's months from 1

_date_second = -1
_date_value = b""


def http_date() -> bytes:
    """The current time as an HTTP ``Date`` (RFC 9110 §5.6.7), formatted once per second."""
    global _date_second, _date_value
    now = int(time())
    if now != _date_second:
        year, month, day, hour, minute, second, weekday, _, _ = gmtime(now)
        _date_value = b"%s, %02d %s %04d %02d:%02d:%02d GMT" % (
            _WEEKDAYS[weekday],
            day,
            _MONTHS[month],
            year,
            hour,
            minute,
            second,
        )
        _date_second = now
    return _date_value


def process_request(request: Any) -> None:
    """Find ``request``'s resource and render it, as twisted.web's ``Request.process`` does.

    A root with ``renders_every_path`` is rendered directly, with the ``Date`` header from
    :func:`http_date`; any other root goes through twisted.web's own ``process``.
    """
    site = request.channel.site
    root = site.resource
    if not getattr(root, "renders_every_path", False):
        _SERVER_REQUEST.process(request)
        return
    request.site = site
    put_prepared_headers(request.responseHeaders, ((b"Date", http_date()),))
    request.prepath = []
    request.sitepath = []
    path = request.path
    segments = path[1:].split(b"/")
    # Most paths have nothing percent-encoded: their segments are already what unquoting gives.
    request.postpath = list(map(unquote_to_bytes, segments)) if b"%" in path else segments
    if path == b"*":
        request._handleStar()  # _twisted_compat.OPTIONS_STAR_HOOK
        return
    try:
        request.render(root)
    except BaseException:
        request.processingFailed(Failure())
