"""``krait.Request``: its attributes, lazy bodies, forms, uploads and text form."""

from __future__ import annotations

import io
import logging
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from krait import Request
from krait._forms import MultipartError
from krait._request import RawRequest
from krait._request_headers import decode_headers

MULTIPART_TYPE = "multipart/form-data; boundary=xyz"
MULTIPART_BODY = (
    b"--xyz\r\n"
    b'Content-Disposition: form-data; name="title"\r\n\r\n'
    b"Hello\r\n"
    b"--xyz\r\n"
    b'Content-Disposition: form-data; name="doc"; filename="a.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\n"
    b"x,y\r\n1,2\r\n"
    b"--xyz--\r\n"
)


def make_request(
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
    query_string: str = "",
    url: str = "/",
) -> Request:
    return Request("POST", url, query_string, "HTTP/1.1", headers or {}, body)


class WholeReadForbidden(io.BytesIO):
    """A body file that fails the test if someone loads all of it at once."""

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "the whole body was loaded into memory"
        return super().read(size)


def test_constructor_keeps_arguments_and_parses_query_eagerly() -> None:
    request = Request("GET", "/a b", "x=1&y=a=b", "HTTP/1.0", {"host": "h"}, b"")
    assert (request.http_method, request.url, request.query_string) == ("GET", "/a b", "x=1&y=a=b")
    assert request.http_version == "HTTP/1.0"
    assert request.query == {"x": "1", "y": "a=b"}
    assert request.headers == {"host": "h"}
    assert request.body == b""


def test_header_names_are_lower_cased() -> None:
    request = make_request(headers={"Content-Type": "text/plain", "X-A": "1"})
    assert request.headers == {"content-type": "text/plain", "x-a": "1"}


def test_str_body_is_encoded_as_utf8() -> None:
    assert make_request("é").body == "é".encode()


def test_streamed_body_is_read_only_when_asked_and_from_the_start() -> None:
    file = io.BytesIO(b"streamed")
    file.seek(0, io.SEEK_END)
    request = Request.from_stream("POST", "/", "", "HTTP/1.1", {}, file)
    assert file.tell() == 8, "the body file was read before anyone asked for it"
    assert request.body == b"streamed"
    assert request.body is request.body


def memory_kept_after(action: Callable[[], object]) -> int:
    """Bytes still allocated once ``action`` has run and its result is dropped."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


BIG_FORM = b"a=1" + b"&" * (4 << 20)
"""A 4 MiB form body whose parsed form is tiny: empty fields are skipped."""


@pytest.fixture
def big_form_request() -> Iterator[Request]:
    """A request whose 4 MiB body is in a temporary file, as twisted.web leaves it."""
    with tempfile.TemporaryFile() as file:
        file.write(BIG_FORM)
        yield Request.from_stream("POST", "/", "", "HTTP/1.1", {}, file)


def test_post_form_does_not_keep_a_streamed_body_in_memory(big_form_request: Request) -> None:
    assert memory_kept_after(big_form_request.get_post_form) < 1 << 20
    assert big_form_request.get_post_form() == {"a": "1"}


def test_str_does_not_keep_a_streamed_body_in_memory(big_form_request: Request) -> None:
    assert memory_kept_after(lambda: str(big_form_request)) < 1 << 20


def test_body_asked_for_is_kept_for_the_request(big_form_request: Request) -> None:
    assert memory_kept_after(lambda: big_form_request.body) >= len(BIG_FORM)


def test_setting_body_replaces_it_and_forgets_parsed_forms() -> None:
    request = make_request(b"a=1")
    assert request.get_post_form() == {"a": "1"}
    request.body = "a=2"
    assert request.body == b"a=2"
    assert request.get_post_form() == {"a": "2"}


def test_post_form_is_parsed_like_a_query() -> None:
    request = make_request(b"name=J+Doe&eq=a=b&flag&bad=%FF")
    assert request.get_post_form() == {"name": "J Doe", "eq": "a=b", "flag": "", "bad": "\ufffd"}


def test_post_form_returns_fresh_dicts() -> None:
    request = make_request(b"a=1")
    request.get_post_form()["a"] = "changed"
    assert request.get_post_form() == {"a": "1"}


def test_multipart_form_lists_entries_as_named_tuples() -> None:
    request = make_request(MULTIPART_BODY, {"Content-Type": MULTIPART_TYPE})
    title, doc = request.get_multipart_form()
    assert title == Request.MultipartFormData(b"Hello", "title", None, "text/plain")
    assert doc == Request.MultipartFormData(b"x,y\r\n1,2", "doc", "a.csv", "text/csv")
    assert (doc.data, doc.name, doc.filename, doc.content_type) == tuple(doc)


def test_multipart_form_data_is_the_documented_named_tuple() -> None:
    assert Request.MultipartFormData._fields == ("data", "name", "filename", "content_type")
    assert Request.MultipartFormData(b"", "n", None).content_type == "text/plain"
    assert isinstance(Request.MultipartFormData(b"", "n", None), tuple)


def test_multipart_form_is_parsed_once() -> None:
    file = io.BytesIO(MULTIPART_BODY)
    request = Request.from_stream(
        "POST", "/", "", "HTTP/1.1", {"content-type": MULTIPART_TYPE}, file
    )
    first = request.get_multipart_form()
    file.seek(0)
    file.truncate()
    assert request.get_multipart_form() == first
    assert request.get_uploads()[0].name == "title"


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, MULTIPART_BODY, "no Content-Type"),
        ({"content-type": "text/plain"}, MULTIPART_BODY, "not 'multipart/form-data'"),
        ({"content-type": "multipart/form-data"}, MULTIPART_BODY, "no boundary"),
        ({"content-type": MULTIPART_TYPE}, MULTIPART_BODY[:-12], "closing boundary"),
    ],
)
def test_bad_multipart_request_raises_multipart_error_from_uploads(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    request = make_request(body, headers)
    with pytest.raises(MultipartError, match=reason):
        request.get_uploads()


def test_malformed_multipart_body_raises_multipart_error() -> None:
    request = make_request(MULTIPART_BODY[:-12], {"content-type": MULTIPART_TYPE})
    with pytest.raises(MultipartError, match="closing boundary"):
        request.get_multipart_form()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no Content-Type"),
        ({"content-type": "text/plain"}, "not 'multipart/form-data'"),
        ({"content-type": "multipart/form-data"}, "no boundary"),
        ({"content-type": 'multipart/form-data; boundary=""'}, "no boundary"),
    ],
)
def test_multipart_form_is_none_and_logged_when_the_request_is_not_one(
    headers: dict[str, str], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    request = make_request(MULTIPART_BODY, headers)
    with caplog.at_level(logging.WARNING, logger="krait.request"):
        assert request.get_multipart_form() is None
    assert reason in caplog.text


def test_multipart_error_is_a_value_error() -> None:
    assert issubclass(MultipartError, ValueError)


def test_uploads_stream_a_big_body_without_loading_it(tmp_path: Path) -> None:
    size = 3 * 1024 * 1024
    head = b'--xyz\r\nContent-Disposition: form-data; name="f"; filename="big"\r\n\r\n'
    file = WholeReadForbidden(head + b"z" * size + b"\r\n--xyz--")
    request = Request.from_stream(
        "POST", "/", "", "HTTP/1.1", {"content-type": MULTIPART_TYPE}, file
    )
    (part,) = request.get_uploads()
    assert (part.name, part.filename, part.size) == ("f", "big", size)
    assert not isinstance(part.file, io.BytesIO), "a 3 MiB part is not held in memory"
    target = tmp_path / "saved"
    with target.open("wb") as out:
        while chunk := part.file.read(1 << 16):
            out.write(chunk)
    assert target.stat().st_size == size


def test_str_is_the_request_as_text() -> None:
    request = Request(
        "GET", "/a b/ü", "k=v&x=", "HTTP/1.1", {"Host": "example", "X-Y": "z"}, b"body\xff"
    )
    assert str(request) == (
        "GET /a%20b/%C3%BC?k=v&x= HTTP/1.1\r\nhost: example\r\nx-y: z\r\n\r\nbody\ufffd"
    )


def test_str_without_query_has_no_question_mark() -> None:
    assert str(make_request(url="/p")) == "POST /p HTTP/1.1\r\n\r\n"


def test_repr_names_method_and_url() -> None:
    assert repr(make_request(url="/p")) == "<Request POST '/p'>"


def test_raw_headers_decode_to_lower_case_names_with_repeats_joined() -> None:
    raw = [(b"User-Agent", [b"curl"]), (b"Accept", [b"text/html", b"*/*"]), (b"X-\xe9", [b"\xff"])]
    assert decode_headers(raw) == {
        "user-agent": "curl",
        "accept": "text/html, */*",
        "x-\xe9": "\xff",
    }


def test_a_raw_request_decodes_into_the_request_scripts_see() -> None:
    body = io.BytesIO(b"a=1")
    body.read()
    raw = RawRequest(b"POST", "/form", b"/form?x=%20y", b"HTTP/1.1", [(b"Host", [b"h"])], body)
    request = raw.decode()
    assert (request.http_method, request.url, request.query_string) == ("POST", "/form", "x=%20y")
    assert request.query == {"x": " y"}
    assert request.http_version == "HTTP/1.1"
    assert request.headers == {"host": "h"}
    assert request.body == b"a=1"


def test_a_decoded_request_has_every_attribute_a_constructed_one_has() -> None:
    raw = RawRequest(b"GET", "/", b"/", b"HTTP/1.1", [(b"Host", [b"h"])], io.BytesIO())
    assert vars(raw.decode()).keys() == vars(Request("GET", "/", "", "HTTP/1.1", {}, b"")).keys()


def test_a_decoded_request_without_a_query_or_params_has_fresh_empty_ones() -> None:
    raw = RawRequest(b"GET", "/", b"/", b"HTTP/1.1", [], None)
    first, second = raw.decode(), raw.decode()
    first.query["x"] = "1"
    first.params["y"] = "2"
    assert (second.query, second.params, second.body) == ({}, {}, b"")


def test_a_decoded_request_copies_its_route_params() -> None:
    params = {"id": "7"}
    request = RawRequest(b"GET", "/p/7", b"/p/7", b"HTTP/1.1", [], None, params).decode()
    request.params["id"] = "8"
    assert params == {"id": "7"}


def test_decoded_headers_are_the_same_dict_each_time_they_are_read() -> None:
    raw = RawRequest(b"GET", "/", b"/", b"HTTP/1.1", [(b"Accept", [b"a", b"b"])], None)
    request = raw.decode()
    request.headers["x-added"] = "by the page"
    assert request.headers == {"accept": "a, b", "x-added": "by the page"}


def test_headers_assigned_to_a_decoded_request_replace_the_received_ones() -> None:
    request = RawRequest(b"GET", "/", b"/", b"HTTP/1.1", [(b"Host", [b"h"])], None).decode()
    request.headers = {"host": "other"}
    assert request.headers == {"host": "other"}
