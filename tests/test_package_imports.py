"""``import krait`` alone gives the whole Krait API, as the original's package did."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import REPO, Server, start_server, write_site

SUBMODULES = ("config", "cookie", "mvc", "websockets")


def run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter that imports krait from this checkout."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


@pytest.mark.parametrize("name", SUBMODULES)
def test_import_krait_alone_makes_each_submodule_usable(name: str) -> None:
    result = run_fresh(f"import krait\nprint(krait.{name}.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"krait.{name}"


def test_star_import_of_krait_gives_the_submodules() -> None:
    result = run_fresh(
        "from krait import *\n"
        "print(config.routes, cookie.get_cookie.__name__, mvc.CtrlBase.__name__,\n"
        "      websockets.WebsocketsCtrlBase.__name__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "get_cookie", "CtrlBase", "WebsocketsCtrlBase"]


def test_submodules_are_listed_by_dir_and_all() -> None:
    result = run_fresh(
        f"import krait\nprint(all(n in dir(krait) and n in krait.__all__ for n in {SUBMODULES!r}))"
    )
    assert result.stdout.strip() == "True", result.stderr


# The controller of the original's database page, as the bug report shows it.
CTRL = """\
import krait


class DbController(object):
    def __init__(self):
        self.nr_comments = int(krait.cookie.get_cookie("comment_count", 0))
        self.ws_base = krait.websockets.WebsocketsCtrlBase.__name__

    def get_view(self):
        return ".view/db.html"
"""

VIEW = "<p>@ctrl.nr_comments comments, @ctrl.ws_base@</p>\n"

SCRIPT = """\
import krait
import ctrl.db
krait.mvc.set_init_ctrl(ctrl.db.DbController())
"""

TEMPLATE = "<p>@(krait.cookie.get_cookie('comment_count', 'none')) @(krait.mvc.curr_ctrl)@</p>\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = write_site(
        tmp_path_factory.mktemp("imports-site"),
        {
            ".py/init.py": "import krait\nkrait.config.cache_no_store = [r'.*\\.css']\n",
            ".py/ctrl/__init__.py": "",
            ".py/ctrl/db.py": CTRL,
            ".view/db.html": VIEW,
            "db.py": SCRIPT,
            "page.html": TEMPLATE,
        },
    )
    server = start_server(root, tmp_path_factory.mktemp("imports-logs"))
    yield server
    server.stop()


def test_a_controller_using_krait_cookie_works_on_the_first_request(site: Server) -> None:
    response = requests.get(site.url + "/db", cookies={"comment_count": "3"}, timeout=10)
    assert response.status_code == 200, site.stderr()
    assert response.text == "<p>3 comments, WebsocketsCtrlBase</p>\n"


def test_a_template_using_krait_submodules_works(site: Server) -> None:
    response = requests.get(site.url + "/page.html", timeout=10)
    assert response.status_code == 200, site.stderr()
    assert response.text == "<p>none None</p>\n"
