"""Every private Twisted name krait relies on still exists in the installed Twisted.

A failure here means a Twisted upgrade renamed or removed a private name that
``krait/_twisted_compat.py`` wraps: the message names it, and that module is the one to fix.
"""

from __future__ import annotations

from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from krait import _twisted_compat


def test_request_disconnected_flag_is_read_by_is_disconnected() -> None:
    assert hasattr(Request, "_disconnected"), (
        "twisted.web.server.Request._disconnected is gone: update is_disconnected()"
    )
    request = Request(DummyChannel())
    assert _twisted_compat.is_disconnected(request) is False
    request.connectionLost(Exception("client left"))
    assert _twisted_compat.is_disconnected(request) is True
