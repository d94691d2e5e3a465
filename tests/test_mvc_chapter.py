"""The MVC chapter, followed in order, gives a working site: its files, each written as the
chapter shows it (a later version replacing an earlier one), start without a warning, and
``/``, the posts and the archive answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from conftest import REPO, Server, start_server
from doc_sites import blocks_of, write_files

CHAPTER = REPO / "docs" / "mvc.md"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("mvc-chapter") / "mysite"
    root.mkdir()
    for block in blocks_of(CHAPTER.read_text()):
        if block.path is not None:
            write_files(root, {block.path: block.text})
    server = start_server(root, tmp_path_factory.mktemp("mvc-chapter-logs"))
    yield server
    server.stop()


def test_the_home_page_answers_at_the_root_as_html(site: Server) -> None:
    answer = requests.get(site.url + "/", params={"name": "<Ada>"}, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Hello, &lt;Ada&gt;!</h1>" in answer.text
    assert "<title>Home</title>" in answer.text


@pytest.mark.parametrize(
    ("path", "title"), [("/post/1", "Hello"), ("/post/2", "Second post"), ("/post", "No such post")]
)
def test_the_decorated_post_routes_answer(site: Server, path: str, title: str) -> None:
    answer = requests.get(site.url + path, timeout=10)
    assert answer.status_code == 200
    assert f"<h1>{title}</h1>" in answer.text


def test_the_jinja2_archive_lists_the_posts(site: Server) -> None:
    answer = requests.get(site.url + "/archive", timeout=10)
    assert answer.status_code == 200
    assert '<li><a href="/post/1">Hello</a></li>' in answer.text


def test_the_chapter_s_site_starts_without_a_warning(site: Server) -> None:
    requests.get(site.url + "/", timeout=10)
    log = site.stderr()
    assert "#warn]" not in log and "#error]" not in log, log
