"""Pyml templates on the wire: the grammar cases of spec §11, static templates, imports,
reloads after edits, and how syntax and runtime errors are reported.

Two servers share one site for most tests, one of them with ``--debug``; tests that edit files
start their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from conftest import Server, start_server, write_site
from pyml_examples import SPEC_EXAMPLE

INIT = """\
import krait
from krait.config import Route
from krait.mvc import CtrlBase, SimpleCtrl


class SpecCtrl(CtrlBase):
    user_name = "Ann & Bo"
    unread = 3
    links = [("Home", "/"), ("A<b>", "/a?x=1&y=2")]
    hour = 23
    items = ["one", "two"]
    row_id = 7
    label = "<L>"
    sidebar = SimpleCtrl(".view/sidebar.html", {"title": "Side"})

    def get_view(self):
        return ".view/spec.html"


krait.config.routes = [Route(url="/spec-example", ctrl_class=SpecCtrl), Route()]
"""

SPEC_VIEW = SPEC_EXAMPLE

SPEC_PAGE = """\

<header>top for Ann &amp; Bo</header>

<p>Hello, Ann &amp; Bo! You have 3 messages.</p>
<ul>

    <li><a href="/">Home</a></li>

    <li><a href="/a?x=1&amp;y=2">A&lt;b&gt;</a></li>

</ul>

<h2 class="late">Hello</h2>

  <p>2 items, first: one</p>

<span id="row-7-label">&lt;L&gt;</span>
<aside>Side</aside>

"""

GRAMMAR_CASES = {
    "at-at": ("a@@b", "a@b"),
    "lone-at": ("a @ b", "a  b"),
    "says": ("@{ x = '<x>' }@x says", "&lt;x&gt; says"),
    "h4": ("@{ h = 'H&H' }<h4>@h@</h4>", "<h4>H&amp;H</h4>"),
    "raw": ("@{ r = '<b>' }@!r@ id", "<b> id"),
    "parenthesised": ("@(1 + 1)", "2"),
    "if-true": ("@{ x = 1 }@if x: yes @/if >z", " yes  >z"),
    "if-false": ("@{ x = 0 }@if x: yes @/if >z", " >z"),
    "for-unpacking": ("@{ d = [(1, 2), (3, 4)] }@for a, b in d:[@a@]@/for@", "[1][3]"),
    "brackets-are-balanced": ("@{ a = [0, 1, 2, 3] }@a[1 + 2]@", "3"),
    "dict-in-block": ("@{ x = {'a': 1} }", ""),
    "elif": ("@{ n = 2 }@if n == 1:one@elif n == 2:two@else:many@/if", "two"),
    "slice-in-if-header": ("@{ s = 'abc' }@if s[1:]:@s[1:]@@/if", "bc"),
    "lambda-in-for-header": ("@for w in sorted('ba', key=lambda v: v):@w@@/for", "ab"),
    "import-ctrl-at-terminator": (
        "@import-ctrl krait.mvc.SimpleCtrl('.view/sidebar.html', {'title': 'T'})@!",
        "<aside>T</aside>\n!",
    ),
    "email": ("<p>write to help@@example.org</p>", "<p>write to help@example.org</p>"),
}

ERROR_CASES = {
    "slash-for-followed-by-text": "@/for</ul>",
    "unclosed-if": "@if True:\n<p>never closed</p>\n",
}

STATIC_PAGE = "<p>No Pyml here: { } % \\ caf\u00e9</p>\n"

SITE: dict[str, str | bytes] = {
    ".py/init.py": INIT,
    ".view/spec.html": SPEC_VIEW,
    ".view/layout_top.html": "<header>top for @ctrl.user_name@</header>\n",
    ".view/sidebar.html": "<aside>@ctrl.title@</aside>\n",
    **{f"grammar/{name}.html": source for name, (source, _) in GRAMMAR_CASES.items()},
    **{f"errors/{name}.html": source for name, source in ERROR_CASES.items()},
    "static.html": STATIC_PAGE,
    "head-first.html": STATIC_PAGE,
    "head-first-dynamic.html": "<p>@(6 * 7)@</p>",
    "stats.json.pyml": '@{ import json }@!json.dumps({"ok": True})@',
    "bom.html": "\ufeff<p>@(6 * 7)@</p>",
    "imports.html": (
        '@{ secret = "parent local" }'
        '<div>@import ".view/part.html"@</div>\n'
        '<div>@import "snippet.py"@</div>\n'
        '<div>@import ".view/raw.txt"@</div>\n'
        '<div>@import (".view/" + "dyn" + ".html")@</div>\n'
    ),
    ".view/part.html": "part sees parent locals: @('secret' in locals())@",
    ".view/raw.txt": "raw @text {kept}",
    ".view/dyn.html": "dynamic path",
    ".view/snippet-view.html": "snippet n=@ctrl.n@",
    "snippet.py": (
        'krait.mvc.set_init_ctrl(krait.mvc.SimpleCtrl(".view/snippet-view.html", {"n": 5}))'
    ),
    "missing-import.html": '<p>@import ".view/not-here.html"@</p>',
    "syntax-error.html": "<ul>\n@for item in [1, 2]:\n  <li>@item</li>\n@/for\n</ul>\n",
    "runtime-error.html": "<p>\n@{ numbers = [1, 2] }\n<b>@(numbers[5])@</b>\n</p>\n",
    "nested-runtime-error.html": '<p>\n@import ".view/fails.html"\n</p>',
    ".view/fails.html": "ok\nstill ok\n@(1 / 0)\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_site(tmp_path_factory.mktemp("templates") / "site", SITE)


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    running = start_server(site, site.parent / "logs")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def debug_server(site: Path) -> Iterator[Server]:
    running = start_server(site, site.parent / "debug-logs", "--debug")
    yield running
    running.stop()


@pytest.mark.parametrize(("name", "expected"), [(n, e) for n, (_, e) in GRAMMAR_CASES.items()])
def test_grammar_case_renders_over_the_wire(
    server: Server, http: requests.Session, name: str, expected: str
) -> None:
    response = http.get(f"{server.url}/grammar/{name}.html")
    assert response.status_code == 200
    assert response.text == expected


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_malformed_template_is_a_server_error(
    server: Server, http: requests.Session, name: str
) -> None:
    response = http.get(f"{server.url}/errors/{name}.html")
    assert response.status_code == 500
    assert f"{name}.html:1:1: " in server.stderr()


def test_spec_example_renders_every_construct(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/spec-example")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.text == SPEC_PAGE


def test_dynamic_template_is_html_in_utf8_and_not_cached(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/grammar/email.html")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "no-store" in response.headers["Cache-Control"]
    assert "ETag" not in response.headers


def test_template_without_pyml_is_a_static_file(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/static.html")
    assert response.content == STATIC_PAGE.encode()
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["ETag"].startswith('"')
    assert "Last-Modified" in response.headers
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "no-store" not in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("name", "length"), [("head-first", len(STATIC_PAGE.encode())), ("head-first-dynamic", 9)]
)
def test_head_as_a_templates_first_request_has_its_length_and_no_body(
    server: Server, http: requests.Session, name: str, length: int
) -> None:
    response = http.head(f"{server.url}/{name}.html")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(length)
    assert response.content == b""


def test_static_template_answers_if_none_match_with_304(
    server: Server, http: requests.Session
) -> None:
    etag = http.get(server.url + "/static.html").headers["ETag"]
    response = http.get(server.url + "/static.html", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_static_template_serves_byte_ranges(server: Server, http: requests.Session) -> None:
    body = STATIC_PAGE.encode()
    response = http.get(server.url + "/static.html", headers={"Range": "bytes=3-8"})
    assert response.status_code == 206
    assert response.content == body[3:9]
    assert response.headers["Content-Range"] == f"bytes 3-8/{len(body)}"


def test_pyml_file_is_typed_by_its_inner_extension(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/stats.json")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"ok": True}


def test_template_bom_is_part_of_the_page(server: Server, http: requests.Session) -> None:
    assert http.get(server.url + "/bom.html").content == "\ufeff<p>42</p>".encode()


def test_import_embeds_templates_scripts_and_raw_files(
    server: Server, http: requests.Session
) -> None:
    assert http.get(server.url + "/imports.html").text == (
        "<div>part sees parent locals: False</div>\n"
        "<div>snippet n=5</div>\n"
        "<div>raw @text {kept}</div>\n"
        "<div>dynamic path</div>\n"
    )


def test_import_of_a_missing_file_is_a_server_error(server: Server, http: requests.Session) -> None:
    assert http.get(server.url + "/missing-import.html").status_code == 500
    assert "@import names '.view/not-here.html'" in server.stderr()


def test_syntax_error_is_500_with_file_line_and_column_in_the_log(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/syntax-error.html")
    assert response.status_code == 500
    assert "syntax-error.html" not in response.text
    assert (
        "syntax-error.html:3:12: @item</li> is not a Python expression; end the expression "
        "with @ when text follows it directly: @item@"
    ) in server.stderr()


def test_syntax_error_location_is_in_the_page_with_debug(
    debug_server: Server, http: requests.Session
) -> None:
    response = http.get(debug_server.url + "/syntax-error.html")
    assert response.status_code == 500
    assert "syntax-error.html:3:12: @item&lt;/li&gt; is not a Python expression" in response.text


def test_runtime_error_traceback_points_at_the_template_line(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/runtime-error.html")
    assert response.status_code == 500
    assert "IndexError" not in response.text
    log = server.stderr()
    assert 'runtime-error.html", line 3, in <template>' in log
    assert "<b>@(numbers[5])@</b>" in log
    assert "IndexError: list index out of range" in log


def test_runtime_error_in_an_import_shows_both_template_lines(
    debug_server: Server, http: requests.Session
) -> None:
    page = http.get(debug_server.url + "/nested-runtime-error.html").text
    assert "nested-runtime-error.html&quot;, line 2, in &lt;template&gt;" in page
    assert "fails.html&quot;, line 3, in &lt;template&gt;" in page
    assert "ZeroDivisionError: division by zero" in page
    assert page.index("nested-runtime-error.html") < page.index("fails.html")


def bump_mtime(path: Path) -> None:
    """Move the file's mtime forward, so a reload never depends on the clock's resolution."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def edit(path: Path, text: str) -> None:
    path.write_text(text)
    bump_mtime(path)


def test_edited_template_and_imported_template_are_reloaded(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    site = write_site(
        tmp_path / "site",
        {"page.html": '<p>@(1)@</p>@import ".view/part.html"', ".view/part.html": "<i>a</i>"},
    )
    running = serve(site)
    assert requests.get(running.url + "/page.html").text == "<p>1</p><i>a</i>"
    edit(site / "page.html", '<p>@(2)@</p>@import ".view/part.html"')
    assert requests.get(running.url + "/page.html").text == "<p>2</p><i>a</i>"
    edit(site / ".view/part.html", "<i>@('b')@</i>")
    assert requests.get(running.url + "/page.html").text == "<p>2</p><i>b</i>"


def test_static_template_that_gains_pyml_becomes_dynamic(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", {"page.html": "<p>static</p>"})
    running = serve(site)
    assert "ETag" in requests.get(running.url + "/page.html").headers
    edit(site / "page.html", "<p>@('dynamic')@</p>")
    response = requests.get(running.url + "/page.html")
    assert response.text == "<p>dynamic</p>"
    assert "ETag" not in response.headers


def test_fixed_syntax_error_is_served_on_the_next_request(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", {"page.html": "<p>@if True:</p>"})
    running = serve(site)
    assert requests.get(running.url + "/page.html").status_code == 500
    edit(site / "page.html", "<p>@if True:yes@/if@</p>")
    assert requests.get(running.url + "/page.html").text == "<p>yes</p>"
