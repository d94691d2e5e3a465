"""Writing a page result in process: status line, headers, cache policy and body."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import cast

import pytest
from shell import header, make_request, wire
from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers, InvalidHeaderName

from krait._context import RequestState
from krait._page_writer import PageWriter, finish_rendered, header_name, header_value
from krait._pages import PageJob, PageResult, default_content_type
from krait._twisted_compat import header_table
from krait._workers import WorkerPool

JOB = PageJob(kind="template", base_filename="page.html")


class _InlinePool:
    """Runs what the writer hands to the pool at once, on the test's thread."""

    def run(self, func: Callable[..., object], *args: object) -> Deferred[object]:
        return succeed(func(*args))


def writer() -> PageWriter:
    return PageWriter(cast(WorkerPool, _InlinePool()))


def result(
    status: int = 200, headers: list[tuple[str, str]] | None = None, body: bytes = b"hi"
) -> PageResult:
    return PageResult(status=status, headers=headers or [], body=body, state=RequestState())


def test_status_line_carries_the_standard_phrase() -> None:
    request = make_request()
    writer().write_page(result(429), request, JOB, b"no-cache")
    assert wire(request).startswith(b"HTTP/1.1 429 Too Many Requests\r\n")


def test_content_type_follows_the_target_and_cache_control_the_policy() -> None:
    request = make_request()
    writer().write_page(result(), request, JOB, b"max-age=60")
    assert header(request, b"content-type") == b"text/html; charset=utf-8"
    assert header(request, b"cache-control") == b"max-age=60"
    assert header(request, b"content-length") == b"2"
    assert wire(request).endswith(b"\r\n\r\nhi")


def test_a_page_content_type_wins_and_framing_headers_are_krait_own() -> None:
    page = result(headers=[("Content-Type", "text/csv"), ("Content-Length", "999"), ("X-A", "1")])
    request = make_request()
    writer().write_page(page, request, JOB, b"no-cache")
    assert header(request, b"content-type") == b"text/csv"
    assert header(request, b"content-length") == b"2"
    assert header(request, b"x-a") == b"1"


def test_a_page_asking_to_close_closes_the_connection() -> None:
    request = make_request()
    channel = request.channel
    channel.persistent = True
    writer().write_page(result(headers=[("Connection", "close")]), request, JOB, b"no-cache")
    assert header(request, b"connection") == b"close"
    assert channel.persistent is False


def test_no_content_has_neither_body_nor_length() -> None:
    request = make_request()
    writer().write_page(result(204, body=b"dropped"), request, JOB, b"no-cache")
    assert request.code == 204
    assert header(request, b"content-length") is None
    assert b"dropped" not in wire(request)


def test_head_of_a_streamed_body_closes_the_generator_without_running_it() -> None:
    ran: list[str] = []

    def chunks() -> Iterator[bytes]:
        ran.append("next")
        yield b"x"

    body = chunks()
    page = PageResult(status=200, headers=[], body=body, state=RequestState())
    request = make_request(b"HEAD")
    writer().write_page(page, request, JOB, b"no-cache")
    assert request.finished
    assert ran == []
    assert next(body, "closed") == "closed"


def test_a_failure_is_written_as_the_error_page() -> None:
    request = make_request()
    writer().write_failure(Failure(RuntimeError("boom")), request)
    assert request.code == 500
    assert request.finished


def test_finish_rendered_writes_a_render_result_with_its_length() -> None:
    request = make_request()
    finish_rendered(request, b"body")
    assert header(request, b"content-length") == b"4"
    assert wire(request).endswith(b"body")


@pytest.mark.parametrize(
    ("base_filename", "view", "set_type", "expected"),
    [
        ("/", ".view/home.html", None, "text/html; charset=utf-8"),
        ("/", ".view/home.html.j2", None, "text/html; charset=utf-8"),
        ("/feed.json", ".view/feed.pyml", None, "application/json; charset=utf-8"),
        ("/", ".view/feed.pyml", None, "application/octet-stream"),
        ("/", ".view/home.html", "text/csv", "text/csv"),
        ("page.py", "", None, "application/octet-stream"),
        ("page.py", ".view/list.html", None, "text/html; charset=utf-8"),
    ],
)
def test_a_controller_page_is_typed_by_its_view_unless_it_sets_a_type(
    base_filename: str, view: str, set_type: str | None, expected: str
) -> None:
    state = RequestState(view=view, content_type=set_type)
    assert default_content_type(base_filename, state) == expected


@pytest.mark.parametrize("name", ["x-a", "ETAG", "www-authenticate", "content-md5", "Dnt", "X-B"])
def test_page_header_names_are_keyed_as_twisted_web_keys_them(name: str) -> None:
    headers = Headers()
    headers.addRawHeader(name, "v")
    assert list(header_table(headers)) == [header_name(name)]


def test_a_page_header_name_twisted_web_refuses_is_refused_alike() -> None:
    with pytest.raises(InvalidHeaderName):
        Headers().addRawHeader("X A", "v")
    with pytest.raises(InvalidHeaderName):
        header_name("X A")


@pytest.mark.parametrize("value", ["plain", "", "Zoë", "one\r\ntwo", "a\rb\nc\r\n", "\n", b"x\ny"])
def test_page_header_values_are_stored_as_twisted_web_stores_them(value: str | bytes) -> None:
    headers = Headers()
    headers.addRawHeader(b"x-a", value)
    assert header_table(headers)[b"X-A"] == [header_value(value)]
