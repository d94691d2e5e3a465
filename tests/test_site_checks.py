"""Start-up checks: a site with a mistake that would not work still starts, with a warning
naming the file, the line and the fix."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import start_server, write_site

from krait._errors import SiteWarning
from krait._route_origins import origin_of
from krait._site import load_site
from krait._site_checks import last_routes_assignment, literal_view
from krait.config import Route
from krait.mvc import CtrlBase


def warnings_of(site: Path) -> list[SiteWarning]:
    return list(load_site(str(site)).warnings)


def controllers_site(tmp_path: Path, init: str, ctrls: str, files: dict[str, str]) -> Path:
    """A site whose controllers live in a package of a unique name (imports are cached)."""
    package = f"ctrls_{uuid.uuid4().hex}"
    return write_site(
        tmp_path / "site",
        {
            ".py/init.py": init.replace("CTRLS", package),
            f".py/{package}/__init__.py": "",
            f".py/{package}/pages.py": ctrls,
            **files,
        },
    )


DECORATED = """\
from krait.mvc import CtrlBase, route_ctrl_decorator


@route_ctrl_decorator(url="/")
class HomeCtrl(CtrlBase):
    def get_view(self):
        return ".view/home.html"
"""


def test_a_route_remembers_the_line_of_the_site_code_that_made_it() -> None:
    route, line = Route(url="/x"), sys._getframe().f_lineno
    origin = origin_of(route)
    assert origin is not None
    assert (origin.filename, origin.line) == (__file__, line)


def test_a_clean_site_has_no_warnings(tmp_path: Path) -> None:
    init = (
        "import krait\n"
        "krait.mvc.import_ctrls_from('CTRLS')\n"
        "krait.config.routes.append(krait.config.Route())\n"
    )
    site = controllers_site(tmp_path, init, DECORATED, {".view/home.html": "<p>home</p>"})
    assert warnings_of(site) == []


def test_a_route_to_a_missing_file_names_the_line_of_the_route(tmp_path: Path) -> None:
    init = (
        "from krait.config import Route\n"
        "krait.config.routes = [\n"
        "    Route(url='/about', target='about.html'),\n"
        "    Route(url='/secret', target='.private/x.html'),\n"
        "]\n"
    )
    site = write_site(tmp_path / "site", {".py/init.py": init, ".private/x.html": "x"})
    missing, hidden = warnings_of(site)
    assert (missing.filename, missing.line) == (str(site / ".py/init.py"), 3)
    assert "'about.html'" in missing.message and "404" in missing.message
    assert "create the file" in missing.hint
    assert hidden.line == 4


def test_routes_dropped_by_a_later_assignment_name_the_assignment_and_the_controllers(
    tmp_path: Path,
) -> None:
    init = (
        "import krait\n"
        "from krait.config import Route\n"
        "krait.mvc.import_ctrls_from('CTRLS')\n"
        "\n"
        "krait.config.routes = [Route()]\n"
    )
    site = controllers_site(tmp_path, init, DECORATED, {".view/home.html": "<p>home</p>"})
    (warning,) = warnings_of(site)
    assert (warning.filename, warning.line) == (str(site / ".py/init.py"), 5)
    assert "HomeCtrl (" in warning.message and "pages.py:4)" in warning.message
    assert "krait.config.routes.append" in warning.hint
    assert "fix: add to the list" in str(warning)


def test_an_untyped_view_behind_an_untyped_url_is_reported_at_get_view(tmp_path: Path) -> None:
    ctrls = DECORATED.replace(".view/home.html", ".view/home.pyml")
    init = "import krait\nkrait.mvc.import_ctrls_from('CTRLS')\n"
    site = controllers_site(tmp_path, init, ctrls, {".view/home.pyml": "<p>home</p>"})
    (warning,) = warnings_of(site)
    assert warning.filename is not None and warning.filename.endswith("pages.py")
    assert warning.line == 7
    assert "application/octet-stream" in warning.message
    assert "home.html.pyml" in warning.hint


def test_a_view_that_sets_its_type_or_a_typed_url_is_fine(tmp_path: Path) -> None:
    ctrls = DECORATED.replace(".view/home.html", ".view/home.pyml") + (
        "\n\n@route_ctrl_decorator(url='/feed.json')\n"
        "class FeedCtrl(CtrlBase):\n"
        "    def get_view(self):\n"
        "        return '.view/feed.pyml'\n"
    )
    init = "import krait\nkrait.mvc.import_ctrls_from('CTRLS')\n"
    files = {
        ".view/home.pyml": '@{ krait.set_content_type(ext="html") }<p>home</p>',
        ".view/feed.pyml": "[]",
    }
    assert warnings_of(controllers_site(tmp_path, init, ctrls, files)) == []


def test_a_missing_view_is_reported(tmp_path: Path) -> None:
    init = "import krait\nkrait.mvc.import_ctrls_from('CTRLS')\n"
    site = controllers_site(tmp_path, init, DECORATED, {})
    (warning,) = warnings_of(site)
    assert "'.view/home.html', which is no file of the site" in warning.message
    assert warning.line == 7


class Literal(CtrlBase):
    def get_view(self) -> str:
        """The view."""
        return ".view/a.html"


class Computed(CtrlBase):
    def get_view(self) -> str:
        return f".view/{type(self).__name__}.html"


def test_only_a_literal_view_is_read_from_the_source() -> None:
    found = literal_view(Literal)
    assert found is not None and found[0] == ".view/a.html"
    assert found[1].line == Literal.get_view.__code__.co_firstlineno + 2
    assert literal_view(Computed) is None
    assert literal_view(CtrlBase) is None
    assert literal_view(lambda: Literal()) is None


def test_the_last_assignment_to_routes_is_found(tmp_path: Path) -> None:
    init = tmp_path / "init.py"
    init.write_text("a = 1\nkrait.config.routes = []\nconfig.routes = [1]\nroutes = []\n")
    assert last_routes_assignment(str(init)) == 3
    assert last_routes_assignment(str(tmp_path / "missing.py")) is None


def test_the_site_starts_and_the_log_has_the_warning(tmp_path: Path) -> None:
    init = "from krait.config import Route\nkrait.config.routes = [Route(target='gone.html')]\n"
    site = write_site(tmp_path / "site", {".py/init.py": init, "index.html": "home"})
    server = start_server(site, tmp_path / "log")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(server.url + "/", timeout=10)
    assert answer.value.code == 404  # as the warning says
    assert server.stop() == 0
    log = server.stderr()
    assert f"[krait#warn] {site / '.py/init.py'}:2: Route('GET', target='gone.html')" in log
    assert "fix: create the file" in log
