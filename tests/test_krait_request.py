"""KraitRequest's own constructor leaves a request as twisted.web's three constructors would."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.web import server
from twisted.web.http_headers import Headers
from twisted.web.test.requesthelper import DummyChannel

from krait._krait_request import KraitRequest


def twisted_made(channel: Any, *args: Any, **kw: Any) -> KraitRequest:
    """A KraitRequest built by twisted.web's constructors instead of its own."""
    request = KraitRequest.__new__(KraitRequest)
    server.Request.__init__(request, channel, *args, **kw)
    return request


def comparable(request: KraitRequest) -> dict[str, Any]:
    """Its attributes, a Headers by its content (a new one each time)."""
    return {
        name: list(value.getAllRawHeaders()) if isinstance(value, Headers) else value
        for name, value in vars(request).items()
    }


@pytest.mark.parametrize(
    ("args", "kw"),
    [
        ((), {}),
        ((0,), {}),
        ((3,), {}),  # a pipelined request behind three others
        ((False,), {"parsePOSTFormSubmission": True}),
        ((), {"queued": False, "parsePOSTFormSubmission": False}),
    ],
)
def test_the_attributes_are_twisted_webs_own(args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    channel = DummyChannel()
    channel.site = server.Site(None)
    ours = KraitRequest(channel, *args, **kw)
    theirs = twisted_made(channel, *args, **kw)
    assert comparable(ours) == comparable(theirs)
    assert ours.requestHeaders is not ours.responseHeaders
    assert ours.notifications is not KraitRequest(channel).notifications


def test_cookies_are_parsed_only_when_asked_for_and_then_as_twisted_web_parses_them() -> None:
    channel = DummyChannel()
    channel.site = server.Site(None)
    request = KraitRequest(channel)
    request.requestHeaders.setRawHeaders(b"cookie", [b"a=1; b=2", b"c=3"])
    request.parseCookies()  # what twisted.web calls once the head is in
    assert request.received_cookies == {}
    assert request.getCookie(b"b") == b"2"
    assert request.getCookie(b"c") == b"3"
    assert request.getCookie(b"missing") is None
    assert request.received_cookies == {b"a": b"1", b"b": b"2", b"c": b"3"}
