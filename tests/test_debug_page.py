"""The ``--debug`` error page: the site's source around each frame, the request, all escaped,
credentials masked; and nothing of it without ``--debug``."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from shell import make_request
from twisted.python.failure import Failure

from krait._answers import request_facts, write_failure
from krait._debug_page import (
    HIDDEN,
    RequestFacts,
    SourceFrame,
    debug_page,
    masked_field,
    masked_header,
)
from krait._pyml import PymlSyntaxError
from krait._tracebacks import source_frame, user_frames

SITE_CODE = """\
def helper(values):
    total = 0
    for value in values:
        total += 10 / value
    return total


def page():
    return helper([1, 2, 0])
"""


def raise_from_site_code(tmp_path: Path) -> BaseException:
    """Run a function of a file in ``tmp_path`` (site code, as far as krait can tell)."""
    path = tmp_path / "page.py"
    path.write_text(SITE_CODE)
    namespace: dict[str, Any] = {}
    exec(compile(SITE_CODE, str(path), "exec"), namespace)
    try:
        namespace["page"]()
    except ZeroDivisionError as error:
        return error
    raise AssertionError("the site code did not fail")


def test_a_cookie_shows_its_names_and_hides_its_values() -> None:
    assert masked_header("Cookie", "session=abc; theme=dark") == (
        f"session={HIDDEN}; theme={HIDDEN}"
    )


def test_credentials_keep_their_scheme_only() -> None:
    assert masked_header("Authorization", "Bearer abc.def") == f"Bearer {HIDDEN}"
    assert masked_header("proxy-authorization", "opaque") == HIDDEN
    assert masked_header("Accept", "text/html") == "text/html"


def test_password_and_token_fields_are_hidden() -> None:
    assert masked_field("password", "hunter2") == HIDDEN
    assert masked_field("csrf_token", "t") == HIDDEN
    assert masked_field("name", "Ann") == "Ann"


def test_frames_carry_the_lines_around_theirs(tmp_path: Path) -> None:
    frames = user_frames(raise_from_site_code(tmp_path))
    assert [(frame.function, frame.line) for frame in frames][-2:] == [
        ("page", 9),
        ("helper", 4),
    ]
    helper = frames[-1]
    assert helper.first_line == 1
    assert helper.lines[helper.line - helper.first_line] == "        total += 10 / value"
    assert len(helper.lines) == 7


def test_a_frame_at_the_end_of_its_file_has_fewer_lines_after(tmp_path: Path) -> None:
    path = tmp_path / "short.py"
    path.write_text("a = 1\nb = 2\nc = 3\n")
    frame = source_frame(str(path), 3, "<module>", 3)
    assert (frame.first_line, frame.lines) == (1, ("a = 1", "b = 2", "c = 3"))


def test_a_template_syntax_error_is_one_frame_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.html"
    path.write_text("<ul>\n@for x in xs:\n<li>@x</li>\n")
    frames = user_frames(PymlSyntaxError(str(path), 3, 5, "a reason"))
    assert [(frame.filename, frame.line) for frame in frames] == [(str(path), 3)]


def test_frames_of_krait_and_twisted_are_left_out() -> None:
    try:
        Failure(ValueError("x")).raiseException()
    except ValueError as error:
        frames = user_frames(error)
    assert all("twisted" not in frame.filename for frame in frames)
    assert [frame.function for frame in frames] == ["test_frames_of_krait_and_twisted_are_left_out"]


def page_text(**request: Any) -> str:
    frame = SourceFrame("/site/<a>.py", 2, "f<x>", 1, ("x = '<b>'", "1 / 0", "y = 2"))
    facts = RequestFacts(**({"method": "GET", "path": "/p"} | request))
    page = debug_page(500, "Internal Server Error", "ZeroDivisionError: <zero>", [frame], facts, "")
    return page.decode()


def test_the_failing_line_is_highlighted_among_its_neighbours() -> None:
    text = page_text()
    assert "<span><i>1</i>x = &#x27;&lt;b&gt;&#x27;</span>" in text
    assert '<span class="here"><i>2</i>1 / 0</span>' in text
    assert "/site/&lt;a&gt;.py, line 2 in <b>f&lt;x&gt;</b>" in text


def test_everything_from_the_request_and_the_code_is_escaped() -> None:
    text = page_text(
        path="/<x-path>",
        query=[("<x-q>", "<x-qv>")],
        headers=[("X-<x-h>", "<x-hv>")],
        form=[("<x-f>", "<x-fv>")],
    )
    assert "ZeroDivisionError: &lt;zero&gt;" in text
    assert "/&lt;x-path&gt;" in text
    assert not re.search(r"<(x-|zero)", text)


def test_the_page_loads_nothing_from_elsewhere() -> None:
    text = page_text()
    assert "<style>" in text
    assert not re.search(r"\b(src|href)=|@import|url\(|<script|<link", text)


def test_a_body_that_is_no_form_is_described() -> None:
    text = page_text(body_note="a body of 12 bytes (application/json)")
    assert "a body of 12 bytes (application/json)" in text


def failing_request(tmp_path: Path, debug: bool) -> tuple[Any, str]:
    request = make_request(
        b"POST",
        b"/page?name=%3Cb%3E&q=2",
        Cookie="session=abc123",
        Authorization="Basic dXNlcjpwYXNz",
        Content_Type="application/x-www-form-urlencoded",
    )
    request.content = io.BytesIO(b"title=Hi&password=hunter2")
    failure = Failure(raise_from_site_code(tmp_path))
    return request, write_failure(request, failure, debug=debug).decode()


def test_with_debug_the_page_shows_source_exception_and_request(tmp_path: Path) -> None:
    request, text = failing_request(tmp_path, debug=True)
    assert request.code == 500
    assert request.responseHeaders.getRawHeaders(b"content-length") == [b"%d" % len(text.encode())]
    assert "ZeroDivisionError: division by zero" in text
    assert '<span class="here"><i>4</i>        total += 10 / value</span>' in text
    assert "<th>name</th><td>&lt;b&gt;</td>" in text
    assert "<th>title</th><td>Hi</td>" in text
    assert "<th>method</th><td>POST</td>" in text
    assert "abc123" not in text and "dXNlcjpwYXNz" not in text and "hunter2" not in text
    assert f"session={HIDDEN}" in text


def test_without_debug_the_page_has_no_traceback_no_source_and_no_request(
    tmp_path: Path,
) -> None:
    request, text = failing_request(tmp_path, debug=False)
    assert request.code == 500
    for shown_only_with_debug in ("Traceback", "ZeroDivisionError", "total += 10", "page.py"):
        assert shown_only_with_debug not in text
    assert "POST" not in text and "session" not in text and "Hi" not in text


def test_a_multipart_body_shows_its_fields_and_files() -> None:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="doc"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n12345\r\n--XX--\r\n"
    )
    request = make_request(b"POST", b"/", Content_Type="multipart/form-data; boundary=XX")
    request.content = io.BytesIO(body)
    facts = request_facts(request)
    assert list(facts.form) == [("note", "hello"), ("doc", "file 'a.txt', 5 bytes, text/plain")]
    assert request.content.tell() == 0


def test_a_body_of_another_type_is_only_described() -> None:
    request = make_request(b"PUT", b"/", Content_Type="application/json")
    request.content = io.BytesIO(b'{"a": 1}')
    facts = request_facts(request)
    assert (list(facts.form), facts.body_note) == ([], "a body of 8 bytes (application/json)")
