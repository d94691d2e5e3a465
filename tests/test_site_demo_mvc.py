"""The demo site's MVC pages: controllers from ``import_ctrls_from``, a shared Pyml header, and
a Jinja2 view embedded in a Pyml page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from conftest import REPO, Server, start_server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(REPO / "site_demo", tmp_path_factory.mktemp("demo-logs"))
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("path", "title", "ctrl"),
    [
        ("/", "Home", "HomeCtrl"),
        ("/about", "About", "AboutCtrl"),
        ("/features", "Features", "FeaturesCtrl"),
    ],
)
def test_mvc_page_has_the_shared_header_and_footer(
    demo: Server, path: str, title: str, ctrl: str
) -> None:
    response = requests.get(demo.url + path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.text
    assert page.startswith("<!DOCTYPE html>")
    assert f"<title>{title} &middot; Krait demo</title>" in page
    assert f'<a href="{path}" aria-current="page">' in page
    assert f"served by {ctrl}</footer>" in page
    assert response.headers["Cache-Control"] == "private, max-age=300, must-revalidate"


def test_home_page_escapes_the_visitor_name_and_shows_a_tip(demo: Server) -> None:
    page = requests.get(demo.url + "/", params={"name": "<b>Ada</b>"}).text
    assert "<h1>Hello, &lt;b&gt;Ada&lt;/b&gt;!</h1>" in page
    assert "<h2>Tip " in page


def test_about_page_shows_the_request(demo: Server) -> None:
    page = requests.get(demo.url + "/about", headers={"User-Agent": "<agent>"}).text
    assert "<tr><th>User-Agent</th><td><code>&lt;agent&gt;</code></td></tr>" in page


def test_features_page_embeds_an_autoescaped_jinja2_view(demo: Server) -> None:
    page = requests.get(demo.url + "/features").text
    assert "<td><code>.view/feature_table.j2</code></td>" in page
    assert "autoescaped: &lt;script&gt;" in page


@pytest.mark.parametrize("path", ["/index.html", "/about.html", "/.view/header.html"])
def test_views_and_replaced_static_pages_are_not_served(demo: Server, path: str) -> None:
    assert requests.get(demo.url + path).status_code == 404


def test_static_assets_are_still_served(demo: Server) -> None:
    response = requests.get(demo.url + "/css/site.css")
    assert response.status_code == 200
    assert "ETag" in response.headers
