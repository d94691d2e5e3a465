"""Every private Twisted name krait relies on, each behind a small named function.

twisted.web offers no public way to ask some things krait needs (has the client gone, is the
transport still holding bytes, reset an HTTP/2 stream with a code). Each use of a private
name lives here, and ``tests/test_twisted_compat.py`` pins every one, so an upgrade of
Twisted that renames or removes one fails a test naming it instead of a request in production.
"""

from __future__ import annotations

from twisted.web.server import Request


def is_disconnected(request: Request) -> bool:
    """Whether the client of ``request`` went away (``Request._disconnected``)."""
    return bool(request._disconnected)
