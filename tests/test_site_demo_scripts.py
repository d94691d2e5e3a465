"""The demo site's script pages: the guestbook form, the upload page and the cookie counter.

The demo is copied to a temporary folder first: the upload page writes into the site.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import requests
from conftest import REPO, Server, start_server


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "site_demo"
    shutil.copytree(REPO / "site_demo", root, ignore=shutil.ignore_patterns(".uploads"))
    return root


@pytest.fixture(scope="module")
def demo(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(demo_root, tmp_path_factory.mktemp("demo-logs"))
    yield server
    server.stop()


def test_guestbook_entry_is_posted_redirected_and_shown_escaped(demo: Server) -> None:
    posted = requests.post(
        demo.url + "/guestbook",
        data={"name": "<b>Ada</b>", "message": "First!"},
        allow_redirects=False,
        timeout=10,
    )
    assert (posted.status_code, posted.headers["Location"]) == (302, "/guestbook")
    page = requests.get(demo.url + "/guestbook", timeout=10)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert "<strong>&lt;b&gt;Ada&lt;/b&gt;</strong>" in page.text
    assert "<title>Guestbook &middot; Krait demo</title>" in page.text


def test_guestbook_refuses_an_empty_message_and_keeps_the_name(demo: Server) -> None:
    page = requests.post(
        demo.url + "/guestbook", data={"name": "Grace", "message": "  "}, timeout=10
    )
    assert page.status_code == 200
    assert "Please give both a name and a message." in page.text
    assert 'value="Grace"' in page.text


def test_upload_shows_size_and_sha256_and_stores_the_file_hidden(
    demo: Server, demo_root: Path
) -> None:
    content = bytes(range(256)) * 5000
    page = requests.post(
        demo.url + "/upload",
        files={"file": ("C:\\photos\\holiday pic.jpg", content, "image/jpeg")},
        timeout=30,
    )
    sha256 = hashlib.sha256(content).hexdigest()
    assert page.status_code == 200
    assert f"<td>{len(content)}</td><td><code>{sha256}</code></td>" in page.text
    stored = demo_root / ".uploads" / f"{sha256[:12]}-holiday_pic.jpg"
    assert stored.read_bytes() == content
    assert requests.get(demo.url + f"/.uploads/{stored.name}", timeout=10).status_code == 404


def test_upload_page_shows_the_form(demo: Server) -> None:
    page = requests.get(demo.url + "/upload", timeout=10).text
    assert 'enctype="multipart/form-data"' in page


def visit(opener: urllib.request.OpenerDirector, url: str) -> str:
    with opener.open(url, timeout=10) as response:
        return str(response.read().decode())


def test_counter_counts_visits_in_a_cookie_and_forgets_on_reset(demo: Server) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    assert "This is your first visit." in visit(opener, demo.url + "/counter")
    assert "This is visit number 2." in visit(opener, demo.url + "/counter")
    assert "This is visit number 3." in visit(opener, demo.url + "/counter")
    assert "This is your first visit." in visit(opener, demo.url + "/counter?reset=1")


def test_the_json_api_is_readable_from_any_origin(demo: Server) -> None:
    requests.post(
        demo.url + "/guestbook", data={"name": "Ann", "message": "from the API"}, timeout=10
    )
    answer = requests.get(
        demo.url + "/api/guestbook", headers={"Origin": "https://elsewhere.example"}, timeout=10
    )
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Content-Type"].startswith("application/json")
    assert {"name": "Ann", "message": "from the API"}.items() <= answer.json()["entries"][0].items()
    preflight = requests.options(
        demo.url + "/api/guestbook",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET"
    page = requests.get(demo.url + "/", headers={"Origin": "https://elsewhere.example"}, timeout=10)
    assert "/api/guestbook" in page.text
    assert "Access-Control-Allow-Origin" not in page.headers


def test_the_demo_answers_a_missing_page_with_its_own_404(demo: Server) -> None:
    answer = requests.get(demo.url + "/no/such/<page>", timeout=10)
    assert answer.status_code == 404
    assert "Nothing here" in answer.text and 'class="brand"' in answer.text
    assert "<code>/no/such/&lt;page&gt;</code>" in answer.text


def test_the_demo_answers_a_failing_page_with_its_own_500_without_the_traceback(
    demo: Server,
) -> None:
    answer = requests.get(demo.url + "/oops", timeout=10)
    assert answer.status_code == 500
    assert "Something broke" in answer.text
    assert "RuntimeError" not in answer.text and "fails on purpose" not in answer.text


def test_the_demo_has_a_favicon(demo: Server) -> None:
    answer = requests.get(demo.url + "/favicon.ico", timeout=10)
    assert answer.status_code == 200
    assert answer.content.startswith(b"\0\0\1\0")


def test_the_json_api_takes_json_posts_and_answers_bad_json_with_400(demo: Server) -> None:
    stored = requests.post(
        demo.url + "/api/guestbook", json={"name": "Jo", "message": "via JSON"}, timeout=10
    )
    assert stored.status_code == 201
    assert stored.json() == {"stored": True}
    assert stored.headers["Content-Type"] == "application/json; charset=utf-8"
    newest = requests.get(demo.url + "/api/guestbook/1", timeout=10).json()
    assert (newest["number"], newest["name"], newest["message"]) == (1, "Jo", "via JSON")
    broken = requests.post(
        demo.url + "/api/guestbook",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert broken.status_code == 400
    empty = requests.post(demo.url + "/api/guestbook", json={"name": "", "message": ""}, timeout=10)
    assert empty.status_code == 400
    assert "name" in empty.json()["error"]


def test_the_json_api_takes_a_route_parameter_and_repeated_query_keys(demo: Server) -> None:
    requests.post(demo.url + "/api/guestbook", json={"name": "Al", "message": "hi"}, timeout=10)
    missing = requests.get(demo.url + "/api/guestbook/999999", timeout=10)
    assert missing.status_code == 404
    assert "entries" in missing.json()["error"]
    assert requests.get(demo.url + "/api/guestbook/abc", timeout=10).status_code == 404
    picked = requests.get(
        demo.url + "/api/guestbook", params=[("field", "name"), ("field", "when")], timeout=10
    ).json()["entries"]
    assert picked and all(set(entry) == {"name", "when"} for entry in picked)


def test_the_json_api_shows_the_client_address_as_krait_sees_it(demo: Server) -> None:
    client = requests.get(demo.url + "/api/client", timeout=10).json()
    assert client["address"] == "127.0.0.1"
    assert client["scheme"] == "http"
    assert isinstance(client["port"], int) and client["port"] > 0
