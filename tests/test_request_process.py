"""The lean ``Request.process`` of krait's root, and the Date header formatted once a second."""

from __future__ import annotations

import re
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web import http, server
from twisted.web.resource import Resource

from krait import _request_process
from krait._http import KraitSite
from krait._request_process import http_date

ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)


class Root(Resource):
    """Renders every path, as krait's root does."""

    isLeaf = True
    renders_every_path = True

    def render(self, request: server.Request) -> bytes:
        return b"%s %s %s" % (request.path, b"/".join(request.postpath), b"|".join(request.prepath))


class Found(Resource):
    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        return b"found under " + b"/".join(request.prepath)


def exchange(root: Resource, head: bytes) -> bytes:
    site = KraitSite(root, access_log=None, reactor=Clock())
    protocol: Any = site.buildProtocol(ADDRESS)
    wire = StringTransport()
    protocol.makeConnection(wire)
    protocol.dataReceived(head)
    return bytes(wire.value())


def pin_clock(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    monkeypatch.setattr(_request_process, "time", lambda: now)


@pytest.mark.parametrize("now", [0.0, 951_782_400.5, 1_700_000_000.999, 4_102_444_799.0])
def test_date_is_twisteds_http_date_of_the_current_second(
    monkeypatch: pytest.MonkeyPatch, now: float
) -> None:
    pin_clock(monkeypatch, now)
    assert http_date() == http.datetimeToString(int(now))


def test_date_changes_with_the_second(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_clock(monkeypatch, 1_700_000_000.2)
    first = http_date()
    pin_clock(monkeypatch, 1_700_000_000.9)
    assert http_date() is first  # formatted once for the whole second
    pin_clock(monkeypatch, 1_700_000_001.0)
    assert http_date() == http.datetimeToString(1_700_000_001)


def test_root_rendering_every_path_gets_date_no_server_and_twisteds_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pin_clock(monkeypatch, 1_700_000_000.0)
    answer = exchange(Root(), b"GET /a%20b/c HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nDate: " + http.datetimeToString(1_700_000_000) + b"\r\n" in answer
    assert not re.search(rb"(?i)\r\nserver:", answer)
    assert answer.endswith(b"\r\n\r\n/a%20b/c a b/c ")


def test_other_roots_are_walked_by_twisted() -> None:
    root = Resource()
    root.putChild(b"child", Found())
    answer = exchange(root, b"GET /child HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nDate: " in answer
    assert answer.endswith(b"found under child")


@pytest.mark.parametrize(
    ("target", "postpath"),
    [(b"/a/b", b"a/b"), (b"/", b""), (b"/a%2Fb/c%20d", b"a/b/c d"), (b"/x%", b"x%")],
)
def test_the_postpath_is_the_target_path_split_and_unquoted(target: bytes, postpath: bytes) -> None:
    answer = exchange(Root(), b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.endswith(b"\r\n\r\n" + target + b" " + postpath + b" ")
