"""The page ``--reload`` serves while the site cannot start: file, line, code, fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_site
from shell import header, make_request
from twisted.internet.testing import MemoryReactorClock

from krait._errors import SiteConfigError
from krait._site import load_site
from krait._start_error_site import (
    StartErrorResource,
    build_site_or_error_page,
    error_page_for,
)


def start_error(site: Path) -> SiteConfigError:
    with pytest.raises(SiteConfigError) as caught:
        load_site(str(site))
    return caught.value


def test_a_syntax_error_in_init_py_shows_the_file_the_line_and_the_fix(tmp_path: Path) -> None:
    site = write_site(tmp_path, {".py/init.py": "x = 1\ny = = 2\nz = 3\n"})
    page = error_page_for(start_error(site)).decode()
    assert f"{site / '.py' / 'init.py'}, line 2" in page
    assert '<span class="here"><i>2</i>y = = 2</span>' in page
    assert "<i>1</i>x = 1" in page and "<i>3</i>z = 3" in page
    assert "correct the Python syntax at that line" in page
    assert "the site cannot start" in page
    assert "--reload" in page


def test_a_syntax_error_in_an_imported_module_names_that_module(tmp_path: Path) -> None:
    site = write_site(
        tmp_path, {".py/init.py": "import ctrls\n", ".py/ctrls.py": "class A:\n    def f(:\n"}
    )
    error = start_error(site)
    assert (error.filename, error.line) == (str(site / ".py" / "ctrls.py"), 2)
    assert "def f(:" in error_page_for(error).decode()


def test_an_exception_in_init_py_shows_its_message_escaped(tmp_path: Path) -> None:
    site = write_site(tmp_path, {".py/init.py": "raise ValueError('<b>no</b>')\n"})
    page = error_page_for(start_error(site)).decode()
    assert "init.py raised ValueError: &lt;b&gt;no&lt;/b&gt;" in page
    assert "<b>no</b>" not in page


def test_an_error_without_a_line_shows_its_file() -> None:
    error = SiteConfigError("bad list", filename="/srv/site/.py/init.py", hint="use a list")
    page = error_page_for(error).decode()
    assert "/srv/site/.py/init.py" in page
    assert "use a list" in page


def test_every_request_gets_the_500_page_uncached() -> None:
    resource = StartErrorResource(b"<p>the page</p>")
    for method, path in ((b"GET", b"/"), (b"POST", b"/a/b?c=d")):
        request = make_request(method, path)
        body = resource.render(request)
        assert body == b"<p>the page</p>"
        assert request.code == 500
        assert header(request, b"cache-control") == b"no-store"
        assert header(request, b"content-type") == b"text/html; charset=utf-8"
        assert header(request, b"content-length") == b"15"


def test_a_broken_site_builds_the_error_site_and_a_good_one_the_site(tmp_path: Path) -> None:
    reactor = MemoryReactorClock()
    broken = write_site(tmp_path / "broken", {".py/init.py": "1/0\n"})
    config, factory = build_site_or_error_page(str(broken), reactor=reactor, access_log=None)
    assert isinstance(factory.resource, StartErrorResource)
    assert config.routes == ()
    assert b"ZeroDivisionError" in factory.resource.page
    good = write_site(tmp_path / "good", {"index.html": "hi"})
    _, factory = build_site_or_error_page(str(good), reactor=reactor, access_log=None)
    assert not isinstance(factory.resource, StartErrorResource)
