"""The site's own 404 and 500 pages on the wire: the status stays, the page is never cached,
a Pyml page sees the request, a 500 page never shows the traceback (``--debug`` does), HEAD
gets the headers alone, API clients get krait's short page, and a broken page falls back to
krait's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import Server, raw_exchange, start_server, status_of, write_site

INIT = """\
import krait
from krait.config import Route

krait.config.routes = [Route(url="/boom", target="boom.py"), Route()]
krait.config.error_pages = {404: ".view/errors/404.pyml", 500: ".view/errors/500.html"}
"""

SITE: dict[str, str | bytes] = {
    ".py/init.py": INIT,
    ".view/errors/404.pyml": "<h1>Nothing at @krait.request.url@</h1>\n",
    ".view/errors/500.html": "<h1>Sorry</h1><p>@krait.request.url@ broke; we are on it.</p>\n",
    "boom.py": 'raise RuntimeError("secret-detail-xyz")\n',
    "broken-template.html": "@if True:\nnever closed\n",
    "index.html": "home\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = write_site(tmp_path_factory.mktemp("error-pages") / "site", SITE)
    server = start_server(root, tmp_path_factory.mktemp("error-pages-logs"))
    yield server
    server.stop()


def test_a_missing_url_gets_the_sites_404_page_with_status_404(site: Server) -> None:
    answer = requests.get(site.url + "/no/such/page", timeout=10)
    assert answer.status_code == 404
    assert answer.text == "<h1>Nothing at /no/such/page</h1>\n"
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-store"


def test_the_404_page_escapes_the_path_it_shows(site: Server) -> None:
    answer = requests.get(site.url + "/%3Cscript%3E", timeout=10)
    assert answer.status_code == 404
    assert "&lt;script&gt;" in answer.text
    assert "<script>" not in answer.text


def test_head_of_a_missing_url_gets_the_404_headers_without_a_body(site: Server) -> None:
    get = requests.get(site.url + "/gone", timeout=10)
    head = requests.head(site.url + "/gone", timeout=10)
    assert head.status_code == 404
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]


def test_a_page_that_raises_gets_the_sites_500_page_without_the_traceback(
    site: Server,
) -> None:
    answer = requests.get(site.url + "/boom", timeout=10)
    assert answer.status_code == 500
    assert answer.text == "<h1>Sorry</h1><p>/boom broke; we are on it.</p>\n"
    assert "secret-detail-xyz" not in answer.text
    assert "secret-detail-xyz" in site.stderr()


def test_a_template_that_cannot_compile_gets_the_sites_500_page(site: Server) -> None:
    answer = requests.get(site.url + "/broken-template", timeout=10)
    assert answer.status_code == 500
    assert answer.text.startswith("<h1>Sorry</h1>")


def test_a_client_that_asks_for_json_gets_krait_s_own_404(site: Server) -> None:
    answer = requests.get(site.url + "/nothing", headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 404
    assert "<h1>404 Not Found</h1>" in answer.text
    assert "Nothing at" not in answer.text


def test_pages_that_exist_are_untouched(site: Server) -> None:
    answer = requests.get(site.url + "/", timeout=10)
    assert (answer.status_code, answer.text) == (200, "home\n")


def test_a_broken_error_page_falls_back_to_krait_s_own_and_is_logged(
    tmp_path: Path, serve: object
) -> None:
    root = write_site(
        tmp_path / "site",
        {
            ".py/init.py": 'import krait\nkrait.config.error_pages = {404: "404.html"}\n',
            "404.html": '@{ raise ValueError("the 404 page is broken") }\n',
        },
    )
    server: Server = serve(root)  # type: ignore[operator]
    answer = requests.get(server.url + "/missing", timeout=10)
    assert answer.status_code == 404
    assert "<h1>404 Not Found</h1>" in answer.text
    server.stop()
    log = server.stderr()
    assert "the error page" in log and "failed, so krait's own 404 page was sent" in log
    assert "the 404 page is broken" in log


def test_with_debug_a_500_shows_the_debug_page_not_the_sites(tmp_path: Path, serve: object) -> None:
    root = write_site(tmp_path / "site", SITE)
    server: Server = serve(root, "--debug")  # type: ignore[operator]
    answer = requests.get(server.url + "/boom", timeout=10)
    assert answer.status_code == 500
    assert "secret-detail-xyz" in answer.text
    assert "Sorry" not in answer.text


def test_krait_s_own_error_page_is_a_styled_page_for_phones(tmp_path: Path, serve: object) -> None:
    root = write_site(tmp_path / "site", {"index.html": "home\n"})
    server: Server = serve(root)  # type: ignore[operator]
    answer = requests.get(server.url + "/missing", timeout=10)
    assert answer.status_code == 404
    assert answer.text.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in answer.text
    assert "<style>" in answer.text
    assert "<h1>404 Not Found</h1>" in answer.text


def test_an_absolute_form_target_shows_its_path_on_the_404_page(site: Server) -> None:
    """``GET http://host/path`` is routed by its path, and the page shows the path alone."""
    answer = raw_exchange(
        site.port,
        b"GET http://127.0.0.1/no%3Cwhere%3E HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    assert status_of(answer) == 404
    assert answer.endswith(b"\r\n\r\n<h1>Nothing at /no&lt;where&gt;</h1>\n")


def test_hidden_files_and_escapes_from_the_root_get_the_404_page_not_the_file(
    site: Server,
) -> None:
    hidden = ("/.py/init.py", "/.view/errors/500.html", "/%2e%2e/%2e%2e/etc/passwd", "/boom.py~")
    for path in hidden:
        answer = requests.get(site.url + path, timeout=10)
        assert answer.status_code == 404
        assert answer.text.startswith("<h1>Nothing at ")
        assert "error_pages" not in answer.text and "Sorry" not in answer.text


def test_error_pages_that_loop_or_fail_end_in_krait_s_own_page(
    tmp_path: Path, serve: object
) -> None:
    """A 404 page that imports itself, and a 500 page that raises while answering a page
    that loops: each ends in krait's own page once, and the server keeps serving."""
    root = write_site(
        tmp_path / "site",
        {
            ".py/init.py": "import krait\nkrait.config.error_pages = "
            "{404: '.view/404.html', 500: '.view/500.html'}\n",
            ".view/404.html": "<p>@krait.request.url@</p>@import '.view/404.html'@",
            ".view/500.html": "<p>sorry</p>@{ raise ValueError('the 500 page fails') }",
            "loop.html": "x@import 'loop.html'@",
            "ok.html": "fine\n",
        },
    )
    server: Server = serve(root)  # type: ignore[operator]
    missing = requests.get(server.url + "/missing", timeout=30)
    assert missing.status_code == 404 and "<h1>404 Not Found</h1>" in missing.text
    looping = requests.get(server.url + "/loop", timeout=30)
    assert looping.status_code == 500 and "<h1>500 Internal Server Error</h1>" in looping.text
    assert requests.get(server.url + "/ok", timeout=10).text == "fine\n"
    server.stop()
    assert server.stderr().count("failed, so krait's own") == 2
