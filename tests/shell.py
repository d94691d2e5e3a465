"""In-process twisted.web requests over a fake channel, for the fast shell tests."""

from __future__ import annotations

import weakref
from typing import Any

from twisted.web import server
from twisted.web.resource import Resource
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

_transports: weakref.WeakKeyDictionary[Request, Any] = weakref.WeakKeyDictionary()


def make_request(method: bytes = b"GET", uri: bytes = b"/", **headers: str) -> Request:
    """A real twisted.web request whose answer goes to a fake transport (see :func:`wire`)."""
    channel = DummyChannel()
    request = Request(channel)
    _transports[request] = channel.transport  # the request forgets its channel once finished
    request.method = method
    request.uri = uri
    request.path = uri.split(b"?", 1)[0]
    request.clientproto = b"HTTP/1.1"
    for name, value in headers.items():
        request.requestHeaders.setRawHeaders(name.replace("_", "-"), [value])
    return request


def wire(request: Request) -> bytes:
    """What was written to the request's transport so far."""
    written: bytes = _transports[request].written.getvalue()
    return written


def header(request: Request, name: bytes) -> bytes | None:
    """The (last) value of one response header, or None."""
    values = request.responseHeaders.getRawHeaders(name)
    return values[-1] if values else None


class Held(Resource):
    """A leaf that answers only when the test says so: its requests wait in ``waiting``."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[server.Request] = []

    def render(self, request: server.Request) -> int:
        self.waiting.append(request)
        return server.NOT_DONE_YET
