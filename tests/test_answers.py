"""Error answers: one body format, HTML after dispatch and plain text before it."""

from __future__ import annotations

from shell import header, make_request
from twisted.python.failure import Failure

from krait._answers import (
    BodyForm,
    error_body,
    reason_phrase,
    refusal_bytes,
    write_error,
    write_failure,
)
from krait._forms import MultipartError


def test_text_and_html_bodies_state_the_same_status_and_reason() -> None:
    assert error_body(413, "too big", BodyForm.TEXT) == b"413 Content Too Large: too big\n"
    page = error_body(413, "too big")
    assert b"<h1>413 Content Too Large</h1>" in page
    assert b"<pre>too big</pre>" in page


def test_a_body_without_a_reason_is_the_status_line_alone() -> None:
    assert error_body(404, form=BodyForm.TEXT) == b"404 Not Found\n"
    assert b"<pre>" not in error_body(404)


def test_html_reasons_are_escaped() -> None:
    assert b"&lt;script&gt;" in error_body(400, "<script>")


def test_reason_phrases_follow_rfc_9110_and_unknown_statuses_get_none() -> None:
    assert reason_phrase(416) == b"Range Not Satisfiable"
    assert reason_phrase(429) == b"Too Many Requests"
    assert reason_phrase(299) == b""


def test_write_error_sets_status_type_length_and_no_store() -> None:
    request = make_request()
    body = write_error(request, 405)
    assert request.code == 405
    assert header(request, b"content-type") == b"text/html; charset=utf-8"
    assert header(request, b"content-length") == b"%d" % len(body)
    assert header(request, b"cache-control") == b"no-store"
    assert b"405 Method Not Allowed" in body


def test_refusal_bytes_are_a_complete_plain_text_answer_that_closes() -> None:
    answer = refusal_bytes(431, "the request head is over 10 bytes")
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"\r\nContent-Type: text/plain; charset=utf-8" in head
    assert b"\r\nConnection: close" in head
    assert body == b"431 Request Header Fields Too Large: the request head is over 10 bytes\n"


def test_a_malformed_form_is_the_client_fault_with_the_reason() -> None:
    request = make_request(b"POST")
    body = write_failure(request, Failure(MultipartError("no boundary")), debug=False)
    assert request.code == 400
    assert b"no boundary" in body


def test_other_failures_are_500_with_the_traceback_only_in_debug() -> None:
    failure = Failure(RuntimeError("secret detail"))
    quiet = make_request()
    assert b"secret detail" not in write_failure(quiet, failure, debug=False)
    assert quiet.code == 500
    assert b"secret detail" in write_failure(make_request(), failure, debug=True)
