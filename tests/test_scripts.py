"""``.py`` route targets on the wire: bodies, responses, headers, types, logs and hot reload.

One server for most of the module; the tests that need their own options (``--debug``) or
files they rewrite start their own.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.client import HTTPConnection
from pathlib import Path

import pytest
import requests
from conftest import Server, raw_exchange, start_server, write_site

INIT = """\
from krait.config import Route
import krait

krait.config.routes = [Route("ANY")]
"""

SCRIPTS: dict[str, str | bytes] = {
    ".py/init.py": INIT,
    ".py/visits.py": "count = 0\n",
    "text.py": 'return "h\\u00e9llo"\n',
    "binary.py": 'return b"\\x00\\x01\\xff"\n',
    "nothing.py": "x = 1\n",
    "bare_return.py": (
        'if True:\n    return\nkrait.response = krait.Response("HTTP/1.1", 500, [], "")\n'
    ),
    "created.py": (
        'krait.extra_headers.append(("X-Extra", "rides along"))\n'
        'krait.response = krait.Response("HTTP/1.1", 201, [("X-Made", "yes")], "created")\n'
    ),
    "return_wins.py": (
        'krait.response = krait.Response("HTTP/1.1", 201, [], "from krait.response")\n'
        'return "the return value"\n'
    ),
    "response_body.py": (
        'krait.response = krait.Response("HTTP/1.1", 200, [], "from krait.response")\n'
    ),
    "redirect.py": (
        'krait.extra_headers.append(("X-Extra", "on a redirect too"))\n'
        'krait.response = krait.ResponseRedirect("/text")\n'
    ),
    "not_found.py": "krait.response = krait.ResponseNotFound()\n",
    "bad_request.py": "krait.response = krait.ResponseBadRequest()\n",
    "status.py": (
        'code = int(krait.request.query["code"])\n'
        'return krait.Response("HTTP/1.1", code, [], "status %d" % code)\n'
    ),
    "no_content.py": 'return krait.Response("HTTP/1.1", 204, [], "this body is never sent")\n',
    "dict_headers.py": 'return krait.Response("HTTP/1.1", 200, {"X-From-Dict": "1"}, "ok")\n',
    "raw_type.py": 'krait.set_content_type(raw="application/vnd.krait+json")\nreturn "{}"\n',
    "ext_type.py": 'krait.set_content_type(ext="json")\nreturn "{}"\n',
    "header_type.py": (
        'krait.set_content_type(ext="json")\n'
        'krait.extra_headers.append(("Content-Type", "text/csv"))\n'
        'return "a,b"\n'
    ),
    "cache_header.py": 'krait.extra_headers.append(("Cache-Control", "max-age=999"))\n',
    "generator.py": (
        "def parts():\n"
        "    for number in range(5):\n"
        '        yield "part %d\\n" % number\n'
        "return parts()\n"
    ),
    "generator_response.py": (
        "def parts():\n"
        '    yield b"bytes "\n'
        '    yield "and text"\n'
        'krait.response = krait.Response("HTTP/1.1", 200, [("X-Streamed", "1")], parts())\n'
    ),
    "head_generator.py": (
        "def parts():\n"
        "    open(krait.get_full_path('generator-ran.flag'), 'w').close()\n"
        "    yield 'body'\n"
        "return parts()\n"
    ),
    "lying_length.py": (
        "def parts():\n"
        '    yield "more than five bytes, then HTTP/1.1 200 OK"\n'
        'return krait.Response("HTTP/1.1", 200, [("Content-Length", "5")], parts())\n'
    ),
    "own_chunking.py": (
        'return krait.Response("HTTP/1.1", 200, [("Transfer-Encoding", "chunked")], "hello")\n'
    ),
    "says_close.py": 'krait.extra_headers.append(("Connection", "close"))\nreturn "bye"\n',
    "fails_at_once.py": (
        "def parts():\n"
        "    raise ValueError('before the first chunk')\n"
        "    yield 'never'\n"
        'krait.extra_headers.append(("Content-Disposition", "attachment"))\n'
        "return parts()\n"
    ),
    "fails_midway.py": (
        "def parts():\n"
        "    yield 'first\\n'\n"
        "    raise ValueError('after the first chunk')\n"
        "return parts()\n"
    ),
    "printer.py": 'print("script says", 42)\nreturn "the page"\n',
    "boom.py": "def fail():\n    raise ValueError('the hidden cause')\nfail()\n",
    "bad_status.py": 'return krait.Response("HTTP/1.1", 99, [], "")\n',
    "bad_header.py": 'krait.extra_headers.append(("Bad Name", "x"))\n',
    "thread.py": "import threading\nreturn threading.current_thread().name\n",
    "counter.py": "import visits\nvisits.count += 1\nreturn str(visits.count)\n",
    "imports_krait.py": (
        'import krait\nfrom krait import mvc\nreturn "%s %s" % (krait.request.url, mvc.curr_ctrl)\n'
    ),
    "ctrl.py": "return repr(ctrl)\n",
    "bom.py": b"\xef\xbb\xbfreturn 'a BOM is not code'\n",
    "indented.py": "    x = 'indented'\n    return x\n",
    "wait.py": (
        "import os, time\n"
        "flag = krait.get_full_path('released.flag')\n"
        "for _ in range(600):\n"
        "    if os.path.exists(flag):\n"
        "        return 'released'\n"
        "    time.sleep(0.05)\n"
        "return 'never released'\n"
    ),
    "release.py": "open(krait.get_full_path('released.flag'), 'w').close()\nreturn 'done'\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("scripts")
    server = start_server(write_site(root / "site", SCRIPTS), root / "logs")
    yield server
    server.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes (for logs written async)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_returned_text_is_the_body_in_utf8(site: Server, http: requests.Session) -> None:
    response = http.get(site.url + "/text.py")
    assert response.status_code == 200
    assert response.content == "héllo".encode()


def test_returned_bytes_are_the_body_unchanged(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/binary").content == b"\x00\x01\xff"


def test_script_found_without_its_extension(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/text").content == "héllo".encode()


def test_script_without_output_is_an_empty_200(site: Server, http: requests.Session) -> None:
    for path in ("/nothing", "/bare_return"):
        response = http.get(site.url + path)
        assert (response.status_code, response.content) == (200, b"")
        assert response.headers["Content-Length"] == "0"


def test_script_source_is_never_sent(site: Server, http: requests.Session) -> None:
    assert b"return" not in http.get(site.url + "/text.py").content


def test_returned_response_sets_status_headers_and_body(
    site: Server, http: requests.Session
) -> None:
    response = http.get(site.url + "/created")
    assert response.status_code == 201
    assert response.headers["X-Made"] == "yes"
    assert response.text == "created"


def test_returned_value_replaces_krait_response(site: Server, http: requests.Session) -> None:
    response = http.get(site.url + "/return_wins")
    assert (response.status_code, response.text) == (200, "the return value")


def test_krait_response_replaces_the_body(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/response_body").text == "from krait.response"


def test_extra_headers_ride_along_with_a_custom_response(
    site: Server, http: requests.Session
) -> None:
    assert http.get(site.url + "/created").headers["X-Extra"] == "rides along"
    redirect = http.get(site.url + "/redirect", allow_redirects=False)
    assert redirect.headers["X-Extra"] == "on a redirect too"


def test_redirect_is_a_302_found_with_location(site: Server) -> None:
    raw = raw_exchange(site.port, b"GET /redirect HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 302 Found\r\n")
    assert b"\r\nLocation: /text\r\n" in raw


@pytest.mark.parametrize(
    ("path", "status_line"),
    [
        ("/not_found", b"HTTP/1.1 404 Not Found\r\n"),
        ("/bad_request", b"HTTP/1.1 400 Bad Request\r\n"),
        ("/status?code=418", b"HTTP/1.1 418 I'm a Teapot\r\n"),
        ("/status?code=422", b"HTTP/1.1 422 Unprocessable Entity\r\n"),
        ("/status?code=429", b"HTTP/1.1 429 Too Many Requests\r\n"),
        ("/status?code=451", b"HTTP/1.1 451 Unavailable For Legal Reasons\r\n"),
        ("/status?code=503", b"HTTP/1.1 503 Service Unavailable\r\n"),
        ("/status?code=299", b"HTTP/1.1 299 \r\n"),
    ],
)
def test_status_lines_carry_the_standard_reason_phrase(
    site: Server, path: str, status_line: bytes
) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    assert raw_exchange(site.port, request).startswith(status_line)


def test_response_classes_send_their_bodies(site: Server, http: requests.Session) -> None:
    assert "<h1>404 Not Found</h1>" in http.get(site.url + "/not_found").text
    # The original's h1 typo is kept: sites may compare against it.
    assert "<h1>404 Bad Request</h1>" in http.get(site.url + "/bad_request").text


def test_no_content_response_has_no_body_and_no_length(site: Server) -> None:
    raw = raw_exchange(
        site.port, b"GET /no_content HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert b"content-length" not in head.lower()
    assert body == b""


def test_response_headers_may_be_a_dict(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/dict_headers").headers["X-From-Dict"] == "1"


def test_set_content_type_raw_is_sent_verbatim(site: Server, http: requests.Session) -> None:
    response = http.get(site.url + "/raw_type")
    assert response.headers["Content-Type"] == "application/vnd.krait+json"


def test_set_content_type_ext_maps_the_extension(site: Server, http: requests.Session) -> None:
    response = http.get(site.url + "/ext_type")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_content_type_in_extra_headers_wins(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/header_type").headers["Content-Type"] == "text/csv"


def test_script_without_a_type_is_octet_stream(site: Server, http: requests.Session) -> None:
    response = http.get(site.url + "/text")
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_dynamic_pages_are_not_cached_whatever_the_script_says(
    site: Server, http: requests.Session
) -> None:
    response = http.get(site.url + "/cache_header")
    assert response.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"


def test_head_gives_the_get_headers_without_a_body(site: Server) -> None:
    connection = HTTPConnection("127.0.0.1", site.port, timeout=10)
    try:
        connection.request("GET", "/text")
        get = connection.getresponse()
        get_body = get.read()
        connection.request("HEAD", "/text")
        head = connection.getresponse()
        assert head.read() == b""
        assert head.status == 200
        assert head.getheader("Content-Length") == str(len(get_body))
        assert head.getheader("Content-Type") == get.getheader("Content-Type")
        # The connection is still usable: no stray body bytes followed the HEAD answer.
        connection.request("GET", "/text")
        assert connection.getresponse().read() == get_body
    finally:
        connection.close()


def test_generator_body_is_streamed_in_chunks(site: Server) -> None:
    raw = raw_exchange(
        site.port, b"GET /generator HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert b"content-length" not in head.lower()
    assert body == (
        b"7\r\npart 0\n\r\n7\r\npart 1\n\r\n7\r\npart 2\n\r\n7\r\npart 3\n\r\n7\r\npart 4\n\r\n"
        b"0\r\n\r\n"
    )


def test_head_does_not_run_a_generator_body(site: Server) -> None:
    flag = site.log_dir.parent / "site" / "generator-ran.flag"
    raw = raw_exchange(
        site.port, b"HEAD /head_generator HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert (body, flag.exists()) == (b"", False)
    assert requests.get(site.url + "/head_generator", timeout=10).text == "body"
    assert flag.exists()


def test_a_pages_own_framing_headers_cannot_split_the_response(site: Server) -> None:
    raw = raw_exchange(
        site.port,
        b"GET /lying_length HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /own_chunking HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    first, _, rest = raw.partition(b"0\r\n\r\n")  # the end of the first, chunked body
    assert b"content-length: 5" not in first.lower()
    assert b"more than five bytes, then HTTP/1.1 200 OK\r\n" in first
    head, _, body = rest.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head.lower().count(b"transfer-encoding") == 0
    assert b"content-length: 5" in head.lower()
    assert body == b"hello"


def test_a_pages_connection_close_closes_the_connection(site: Server) -> None:
    raw = raw_exchange(
        site.port,
        b"GET /says_close HTTP/1.1\r\nHost: x\r\n\r\nGET /thread HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert raw.count(b"HTTP/1.1 200") == 1
    assert b"\r\nConnection: close\r\n" in raw
    assert raw.endswith(b"bye")


def test_generator_failing_before_its_first_chunk_is_a_500(
    site: Server, http: requests.Session
) -> None:
    response = http.get(site.url + "/fails_at_once")
    assert response.status_code == 500
    assert "Content-Disposition" not in response.headers
    assert "before the first chunk" not in response.text
    assert wait_until(lambda: "before the first chunk" in site.stderr())


def test_generator_failing_midway_cuts_the_connection_so_the_client_knows(
    site: Server,
) -> None:
    raw = bytearray()
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(b"GET /fails_midway HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            while chunk := sock.recv(65536):
                raw += chunk
        except ConnectionResetError:
            pass  # what krait does: reset, so that no client takes the body for complete
    assert b"first\n" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # no last chunk: the body is visibly incomplete
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(site.url + "/fails_midway", timeout=10).raise_for_status()
    assert wait_until(lambda: "after the first chunk" in site.stderr())


def test_generator_in_a_response_mixes_bytes_and_text(site: Server, http: requests.Session) -> None:
    response = http.get(site.url + "/generator_response")
    assert response.headers["X-Streamed"] == "1"
    assert response.text == "bytes and text"


def test_print_goes_to_the_server_log_not_the_page(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/printer").text == "the page"
    assert wait_until(lambda: "script says 42" in site.stderr())
    assert "script says" not in site.stdout()


def test_error_in_a_script_is_a_500_without_the_traceback(
    site: Server, http: requests.Session
) -> None:
    response = http.get(site.url + "/boom")
    assert response.status_code == 500
    assert "500 Internal Server Error" in response.text
    assert "the hidden cause" not in response.text
    assert "Traceback" not in response.text
    assert "raise ValueError" not in response.text  # no source either
    assert "boom.py" not in response.text


def test_error_in_a_script_logs_its_traceback(site: Server, http: requests.Session) -> None:
    http.get(site.url + "/boom")
    assert wait_until(lambda: "ValueError: the hidden cause" in site.stderr())
    log = site.stderr()
    assert "boom.py" in log
    assert "line 2, in fail" in log


@pytest.mark.parametrize("path", ["/bad_status", "/bad_header"])
def test_invalid_responses_are_500s_that_say_why_in_the_log(
    site: Server, http: requests.Session, path: str
) -> None:
    assert http.get(site.url + path).status_code == 500
    reason = "status_code must be" if path == "/bad_status" else "header name 'Bad Name'"
    assert wait_until(lambda: reason in site.stderr())


def test_scripts_run_in_the_worker_pool(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/thread").text.startswith("krait-pages")


def test_blocked_script_does_not_block_the_server(site: Server) -> None:
    """A script waiting for a file lets the server run the script that creates it."""
    results: list[str] = []
    waiter = threading.Thread(
        target=lambda: results.append(requests.get(site.url + "/wait", timeout=60).text)
    )
    waiter.start()
    assert requests.get(site.url + "/release", timeout=60).text == "done"
    waiter.join(60)
    assert results == ["released"]


def test_module_state_of_site_modules_persists_between_requests(
    site: Server, http: requests.Session
) -> None:
    first = int(http.get(site.url + "/counter").text)
    assert int(http.get(site.url + "/counter").text) == first + 1


def test_script_may_import_krait_itself(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/imports_krait").text == "/imports_krait None"


def test_script_sees_ctrl_as_none(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/ctrl").text == "None"


def test_leading_bom_and_indentation_are_not_code(site: Server, http: requests.Session) -> None:
    assert http.get(site.url + "/bom").text == "a BOM is not code"
    assert http.get(site.url + "/indented").text == "indented"


def test_debug_mode_shows_the_traceback_in_the_page(tmp_path: Path) -> None:
    root = write_site(tmp_path / "site", {"boom.py": SCRIPTS["boom.py"]})
    server = start_server(root, tmp_path / "logs", "--debug")
    try:
        response = requests.get(server.url + "/boom?x=1", cookies={"session": "s3cret"}, timeout=10)
    finally:
        server.stop()
    assert response.status_code == 500
    assert "ValueError: the hidden cause" in response.text
    assert "boom.py" in response.text
    assert (
        '<span class="here"><i>2</i>    raise ValueError(&#x27;the hidden cause&#x27;)</span>'
        in response.text
    )
    assert "<th>x</th><td>1</td>" in response.text
    assert "session=[hidden]" in response.text and "s3cret" not in response.text


def test_edited_script_runs_its_new_code_on_the_next_request(tmp_path: Path) -> None:
    script = tmp_path / "site" / "version.py"
    write_site(tmp_path / "site", {"version.py": "return 'first'\n"})
    server = start_server(tmp_path / "site", tmp_path / "logs")
    try:
        assert requests.get(server.url + "/version", timeout=10).text == "first"
        assert requests.get(server.url + "/version", timeout=10).text == "first"
        script.write_text("return 'second'\n")
        stat = script.stat()
        os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        assert requests.get(server.url + "/version", timeout=10).text == "second"
    finally:
        server.stop()


def test_script_run_while_a_controller_renders_starts_with_that_controller_as_ctrl(
    tmp_path: Path,
) -> None:
    from krait import Request, mvc
    from krait._context import RequestState, activate
    from krait._pages import PageRenderer

    (tmp_path / "who.py").write_text("return ctrl\n")
    renderer = PageRenderer(str(tmp_path))
    state = RequestState(request=Request("GET", "/", "", "HTTP/1.1", {}, b""))
    controller = object()
    with activate(state):
        mvc.push_ctrl(controller)
        renderer.render_file(str(tmp_path / "who.py"))
    assert state.response is controller
