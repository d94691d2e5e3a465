"""The site's error pages written in process: the page runs through the guard, keeps the
error's status, is never cached, and a page that fails gives way to krait's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from shell import header, make_request, wire
from twisted.python.failure import Failure
from twisted.web.server import Request

from krait._error_page_writer import ErrorPageWriter
from krait._page_guard import PageGuard
from krait._page_writer import PageWriter
from krait._pages import PageRenderer
from krait._workers import WorkerPool


class _InlineGuard:
    """Runs the page at once on the test's thread, as the guard would in the pool."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def run(
        self,
        request: Request,
        what: str,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        sink: Callable[[bool, Any], object],
    ) -> None:
        self.ran.append(what)
        try:
            value = func(*args)
        except Exception:
            sink(False, Failure())
            return
        sink(True, value)


def pages(site: Path, files: dict[int, str]) -> tuple[ErrorPageWriter, _InlineGuard]:
    guard = _InlineGuard()
    paths = {}
    for status, text in files.items():
        path = site / f"{status}.pyml"
        path.write_text(text)
        paths[status] = str(path)
    writer = ErrorPageWriter(
        paths,
        cast(PageGuard, guard),
        PageRenderer(str(site)),
        PageWriter(cast(WorkerPool, None)),
    )
    return writer, guard


def test_a_status_without_a_page_is_left_to_the_built_in_answer(tmp_path: Path) -> None:
    writer, guard = pages(tmp_path, {404: "gone"})
    assert writer.answer(make_request(), 500) is False
    assert guard.ran == []


def test_a_client_that_does_not_accept_html_is_left_to_the_built_in_answer(
    tmp_path: Path,
) -> None:
    writer, guard = pages(tmp_path, {404: "gone"})
    assert writer.answer(make_request(accept="application/json"), 404) is False
    assert guard.ran == []


def test_the_page_keeps_the_status_is_html_and_never_cached(tmp_path: Path) -> None:
    writer, _ = pages(tmp_path, {404: "<p>No @krait.request.url@ here</p>"})
    request = make_request(uri=b"/a%20b?x=1", accept="text/html")
    assert writer.answer(request, 404) is True
    assert wire(request).startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert wire(request).endswith(b"<p>No /a b here</p>")
    assert header(request, b"content-type") == b"text/html; charset=utf-8"
    assert header(request, b"cache-control") == b"no-store"


def test_a_page_that_raises_gives_way_to_krait_s_own_page(tmp_path: Path) -> None:
    writer, _ = pages(tmp_path, {500: '@{ raise KeyError("oops") }'})
    request = make_request()
    assert writer.answer(request, 500) is True
    assert wire(request).startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"<h1>500 Internal Server Error</h1>" in wire(request)
    assert b"oops" not in wire(request)
