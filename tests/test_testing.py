"""krait.testing: a site served in-process on the running reactor, used from pytest and trial."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest
import pytest_twisted
from conftest import write_site
from twisted.internet import defer
from twisted.trial import unittest

from krait._errors import SiteConfigError
from krait.testing import RunningSite, start_site

INIT = """\
from krait.config import Route
import krait

krait.config.routes = [Route("POST", url="/form"), Route("ANY", url="/echo"), Route()]
"""

SITE: dict[str, str | bytes] = {
    ".py/init.py": INIT,
    "index.html": "<h1>home</h1>\n",
    "echo.py": (
        "krait.set_content_type(raw='text/plain; charset=utf-8')\n"
        "return '%s %s %s' % (krait.request.http_method, "
        "krait.request.headers.get('x-token', '-'), krait.request.body.decode())\n"
    ),
    "form.py": (
        "krait.set_content_type(raw='text/plain; charset=utf-8')\n"
        "return repr(sorted(krait.request.get_post_form().items()))\n"
    ),
    "cookies.py": (
        "from krait import cookie\n"
        "cookie.set_cookie(cookie.Cookie('a', '1'))\n"
        "cookie.set_cookie(cookie.Cookie('b', '2'))\n"
    ),
    "boom.py": "raise RuntimeError('the secret cause')\n",
}


def _refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest_twisted.ensureDeferred
async def test_get_serves_the_site_on_a_loopback_port(tmp_path: Path) -> None:
    async with await start_site(write_site(tmp_path / "site", SITE)) as site:
        response = await site.get("/")
    assert site.url == f"http://127.0.0.1:{site.port}"
    assert response.status == 200
    assert response.text == "<h1>home</h1>\n"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


@pytest_twisted.ensureDeferred
async def test_get_sends_the_given_headers(tmp_path: Path) -> None:
    async with await start_site(write_site(tmp_path / "site", SITE)) as site:
        response = await site.get("/echo", headers={"X-Token": "t0k"})
    assert response.text == "GET t0k "


@pytest_twisted.ensureDeferred
async def test_post_with_a_dict_sends_a_url_encoded_form(tmp_path: Path) -> None:
    async with await start_site(write_site(tmp_path / "site", SITE)) as site:
        response = await site.post("/form", data={"name": "Ada Lovelace", "x": "1&2"})
    assert response.text == "[('name', 'Ada Lovelace'), ('x', '1&2')]"


@pytest_twisted.ensureDeferred
async def test_post_with_bytes_sends_them_as_the_body(tmp_path: Path) -> None:
    async with await start_site(write_site(tmp_path / "site", SITE)) as site:
        response = await site.post("/echo", data=b"raw body")
    assert response.text == "POST - raw body"


@pytest_twisted.ensureDeferred
async def test_repeated_response_headers_are_all_kept(tmp_path: Path) -> None:
    async with await start_site(write_site(tmp_path / "site", SITE)) as site:
        response = await site.get("/cookies")
    assert response.header_values("Set-Cookie") == ["a=1", "b=2"]


@pytest_twisted.ensureDeferred
async def test_errors_in_site_code_are_500_pages_and_debug_shows_the_traceback(
    tmp_path: Path,
) -> None:
    root = write_site(tmp_path / "site", SITE)
    async with await start_site(root) as site:
        plain = await site.get("/boom")
    async with await start_site(root, debug=True) as site:
        debug = await site.get("/boom")
    assert plain.status == debug.status == 500
    assert "the secret cause" not in plain.text
    assert "the secret cause" in debug.text


@pytest_twisted.ensureDeferred
async def test_stop_closes_the_port(tmp_path: Path) -> None:
    site = await start_site(write_site(tmp_path / "site", SITE))
    await site.get("/")
    await site.stop()
    assert _refuses_connections(site.port)


@pytest_twisted.ensureDeferred
async def test_options_reach_the_site(tmp_path: Path) -> None:
    async with await start_site(write_site(tmp_path / "site", SITE), max_body_size=10) as site:
        response = await site.post("/echo", data=b"x" * 11)
    assert response.status == 413


def test_a_site_that_cannot_start_raises_at_once(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError):
        start_site(tmp_path / "missing")


class TrialStartSiteTests(unittest.TestCase):
    """The same helper from a trial test case (pytest runs these too)."""

    def _site_root(self) -> Path:
        # trial's mktemp() writes below the working directory; keep the checkout clean.
        root = Path(tempfile.mkdtemp(prefix="krait-trial-"))
        self.addCleanup(shutil.rmtree, root, True)
        return write_site(root / "site", SITE)

    async def test_async_test_method(self) -> None:
        async with await start_site(self._site_root()) as site:
            response = await site.get("/echo", headers={"X-Token": "trial"})
        self.assertEqual(response.text, "GET trial ")

    def test_deferred_returning_test_method(self) -> defer.Deferred[None]:
        started = start_site(self._site_root())

        def fetch(site: RunningSite) -> defer.Deferred[None]:
            fetched = site.get("/")
            fetched.addCallback(lambda response: self.assertEqual(response.status, 200))
            fetched.addBoth(lambda outcome: site.stop().addCallback(lambda _: outcome))
            return fetched

        return started.addCallback(fetch)
