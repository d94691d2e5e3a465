"""MVC on the wire: controller routes, views, Content-Type, nesting, Jinja2 views, reloads.

One server for the module serves a site whose controllers come from ``import_ctrls_from``
(decorated routes) and from explicit ``Route(ctrl_class=...)`` entries in ``init.py``. Tests
that edit files start a server of their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import Server, start_server, write_site

INIT = """\
import krait
from krait.config import Route
from krait.mvc import SimpleCtrl, import_ctrls_from

import plain_ctrls as p

import_ctrls_from("ctrls")
krait.config.routes += [
    Route(url="/plain", ctrl_class=p.PlainCtrl),
    Route(url="/html", ctrl_class=p.HtmlCtrl),
    Route(url="/data.json", ctrl_class=p.DataCtrl),
    Route(url="/thing.txt", ctrl_class=p.JsonViewCtrl),
    Route(url="/missing-view", ctrl_class=p.MissingViewCtrl),
    Route(url="/rooted", ctrl_class=p.RootedViewCtrl),
    Route(url="/full-path", ctrl_class=p.FullPathCtrl),
    Route(url="/simple", ctrl_class=lambda: SimpleCtrl(".view/simple.html", {"who": "<simple>"})),
    Route(regex=r"/items/[0-9]+", ctrl_class=p.ItemCtrl),
    Route(url="/custom", ctrl_class=p.CustomResponseCtrl),
    Route(url="/nested", ctrl_class=p.NestedCtrl),
    Route(url="/echo", ctrl_class=p.EchoCtrl),
    Route(url="/routes", ctrl_class=p.RoutesCtrl),
    Route(url="/jinja", ctrl_class=p.JinjaCtrl),
    Route(url="/jinja-error", ctrl_class=p.JinjaErrorCtrl),
    Route(url="/broken-view", ctrl_class=p.BrokenViewCtrl),
    Route(),
]
"""

PLAIN_CTRLS = """\
import time

import krait
from krait.mvc import CtrlBase, SimpleCtrl


class PlainCtrl(CtrlBase):
    who = "<plain>"

    def get_view(self):
        return ".view/simple.html"


class HtmlCtrl(CtrlBase):
    def get_view(self):
        return ".view/html.html"


class DataCtrl(CtrlBase):
    stats = {"pages": 3, "name": "<b>"}

    def get_view(self):
        return ".view/data.pyml"


class JsonViewCtrl(DataCtrl):
    def get_view(self):
        return ".view/stats.json.pyml"


class MissingViewCtrl(CtrlBase):
    def get_view(self):
        return ".view/no-such-view.html"


class RootedViewCtrl(PlainCtrl):
    who = "rooted"

    def get_view(self):
        return "/.view/simple.html"


class FullPathCtrl(PlainCtrl):
    who = "full path"

    def get_view(self):
        return krait.get_full_path(".view/simple.html")


class ItemCtrl(CtrlBase):
    def __init__(self):
        self.item = krait.request.url.rsplit("/", 1)[1]

    def get_view(self):
        return ".view/item.html"


class CustomResponseCtrl(PlainCtrl):
    def __init__(self):
        krait.response = krait.Response("HTTP/1.1", 201, [("X-Made", "ctrl")], "custom body")
        krait.extra_headers.append(("X-Extra", "yes"))


class NestedCtrl(CtrlBase):
    name = "outer"

    def __init__(self):
        self.child = SimpleCtrl(".view/child.html", {"name": "child"})

    def get_view(self):
        return ".view/nested.html"


class EchoCtrl(CtrlBase):
    def __init__(self):
        self.n = krait.request.query["n"]
        time.sleep(0.01)  # let the other requests' threads run in between

    def get_view(self):
        return ".view/echo.html"


class RoutesCtrl(CtrlBase):
    def get_view(self):
        return ".view/routes.html"


class JinjaCtrl(CtrlBase):
    title = "Jinja & co"
    items = ["<one>", "two"]

    def get_view(self):
        return ".view/page.j2"


class JinjaErrorCtrl(CtrlBase):
    def get_view(self):
        return ".view/broken.jinja"


class BrokenViewCtrl(CtrlBase):
    def get_view(self):
        return ".view/broken.html"
"""

DECORATED_A = """\
from krait.mvc import CtrlBase, route_ctrl_decorator


@route_ctrl_decorator(url="/order")
class First(CtrlBase):
    name = "a_first"

    def get_view(self):
        return ".view/order.html"


@route_ctrl_decorator(url="/outer")
@route_ctrl_decorator(regex=r"/inner/.*")
class Stacked(First):
    name = "stacked"
"""

DECORATED_B = """\
from krait.mvc import CtrlBase, route_ctrl_decorator


@route_ctrl_decorator(url="/order")
class Second(CtrlBase):
    name = "b_second"

    def get_view(self):
        return ".view/order.html"


@route_ctrl_decorator("POST", url="/form")
class Form(Second):
    name = "posted"
"""

SUB_INIT = """\
from krait.mvc import route_ctrl_decorator
from ctrls.a_first import First


@route_ctrl_decorator(url="/sub-init")
class SubInit(First):
    name = "sub package"
"""

SUB_LEAF = """\
from krait.mvc import route_ctrl_decorator
from ctrls.a_first import First


@route_ctrl_decorator(url="/sub-leaf")
class SubLeaf(First):
    name = "sub module"
"""

SITE: dict[str, str | bytes] = {
    ".py/init.py": INIT,
    ".py/plain_ctrls.py": PLAIN_CTRLS,
    ".py/ctrls/__init__.py": "",
    ".py/ctrls/b_second.py": DECORATED_B,
    ".py/ctrls/a_first.py": DECORATED_A,
    ".py/ctrls/m_sub/__init__.py": SUB_INIT,
    ".py/ctrls/m_sub/leaf.py": SUB_LEAF,
    ".view/simple.html": "<p>@ctrl.who@</p>\n",
    ".view/html.html": '@{ krait.set_content_type(ext="html") }<p>html</p>\n',
    ".view/data.pyml": "@{ import json }@!json.dumps(ctrl.stats)@",
    ".view/stats.json.pyml": "@{ import json }@!json.dumps(ctrl.stats)@",
    ".view/item.html": "<p>item @ctrl.item@ of @krait.request.url@</p>",
    ".view/order.html": "@ctrl.name@ @krait.request.http_method@",
    ".view/nested.html": (
        "<p>@ctrl.name@ stack=@len(krait.mvc.ctrl_stack)@</p>\n"
        "@import-ctrl ctrl.child@\n"
        "<p>back in @ctrl.name@, current @krait.mvc.curr_ctrl.name@</p>\n"
        '@{ ctrl = krait.mvc.push_ctrl(krait.mvc.SimpleCtrl("", {"name": "pushed"})) }'
        "<p>@ctrl.name@ stack=@len(krait.mvc.ctrl_stack)@</p>\n"
        "@{ ctrl = krait.mvc.pop_ctrl() }<p>@ctrl.name@ stack=@len(krait.mvc.ctrl_stack)@</p>\n"
    ),
    ".view/child.html": (
        "<p>@ctrl.name@ stack=@len(krait.mvc.ctrl_stack)@ "
        "under @krait.mvc.ctrl_stack[-1].name@</p>\n"
        '@import ".view/child-part.html"'
    ),
    ".view/child-part.html": "<p>part sees @ctrl.name@</p>",
    ".view/echo.html": (
        "n=@ctrl.n@ current=@krait.mvc.curr_ctrl.n@ stack=@len(krait.mvc.ctrl_stack)@"
    ),
    ".view/routes.html": (
        "@for r in krait.config.routes:[@r.verb@ @(r.url or r.regex or '*')@]@/for@"
    ),
    ".view/page.j2": (
        '{{ krait.set_content_type(ext="html") or "" }}<h1>{{ ctrl.title }}</h1>\n'
        "<ul>{% for item in ctrl.items %}<li>{{ item }}</li>{% endfor %}</ul>\n"
        "<p>{{ krait.request.url }}</p>\n"
    ),
    ".view/broken.jinja": "<p>\n{% for x in %}\n</p>\n",
    ".view/broken.html": "<ul>\n  <li>@ctrl.item</li>\n</ul>\n",
    "from-script.py": (
        "from krait import mvc\n"
        'who = krait.request.query.get("who", "script")\n'
        'mvc.set_init_ctrl(mvc.SimpleCtrl(".view/simple.html", {"who": who}))\n'
    ),
    ".view/sees-init.html": (
        '@(krait.mvc.init_ctrl is ctrl)@ @import "plain-script.py"@ @(ctrl.n)@'
    ),
    "plain-script.py": "x = 1\n",
    "init-visible.py": (
        'krait.mvc.set_init_ctrl(krait.mvc.SimpleCtrl(".view/sees-init.html", {"n": 7}))\n'
    ),
    "script-view-type.py": (
        'krait.set_content_type(ext="html")\n'
        'krait.mvc.set_init_ctrl(krait.mvc.SimpleCtrl(".view/simple.html", {"who": 1}))\n'
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("mvc")
    running = start_server(write_site(root / "site", SITE), root / "logs")
    yield running
    running.stop()


def test_controller_route_renders_the_controllers_view(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/plain")
    assert response.status_code == 200
    assert response.text == "<p>&lt;plain&gt;</p>\n"


def test_content_type_comes_from_the_view_then_from_the_url(
    server: Server, http: requests.Session
) -> None:
    """A browser shows /plain (view simple.html) instead of downloading it."""
    assert http.get(server.url + "/plain").headers["Content-Type"] == "text/html; charset=utf-8"
    view_says_json = http.get(server.url + "/thing.txt")
    assert view_says_json.headers["Content-Type"] == "application/json; charset=utf-8"
    untyped_view = http.get(server.url + "/data.json")  # .view/data.pyml names no type
    assert untyped_view.headers["Content-Type"] == "application/json; charset=utf-8"
    assert untyped_view.json() == {"pages": 3, "name": "<b>"}


def test_view_may_set_the_content_type(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/html")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.text == "<p>html</p>\n"


def test_controller_pages_are_not_cached(server: Server, http: requests.Session) -> None:
    response = http.get(server.url + "/plain")
    assert "no-store" in response.headers["Cache-Control"]
    assert "ETag" not in response.headers


def test_head_of_a_controller_route_has_the_length_and_no_body(
    server: Server, http: requests.Session
) -> None:
    response = http.head(server.url + "/plain")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(b"<p>&lt;plain&gt;</p>\n"))
    assert response.content == b""


def test_missing_view_is_a_server_error_that_names_the_controller(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/missing-view")
    assert response.status_code == 500
    assert "no-such-view" not in response.text
    log = server.stderr()
    assert "MissingViewCtrl.get_view() names '.view/no-such-view.html'" in log
    assert "relative to the site root" in log


@pytest.mark.parametrize(("path", "who"), [("/rooted", "rooted"), ("/full-path", "full path")])
def test_views_are_found_from_the_site_root_however_spelled(
    server: Server, http: requests.Session, path: str, who: str
) -> None:
    assert http.get(server.url + path).text == f"<p>{who}</p>\n"


def test_views_folder_itself_is_never_served(server: Server, http: requests.Session) -> None:
    assert http.get(server.url + "/.view/simple.html").status_code == 404


def test_simple_ctrl_serves_its_members(server: Server, http: requests.Session) -> None:
    assert http.get(server.url + "/simple").text == "<p>&lt;simple&gt;</p>\n"


def test_regex_route_builds_a_controller_per_request(
    server: Server, http: requests.Session
) -> None:
    assert http.get(server.url + "/items/42").text == "<p>item 42 of /items/42</p>"
    assert http.get(server.url + "/items/7").text == "<p>item 7 of /items/7</p>"


def test_controller_may_answer_with_its_own_response(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/custom")
    assert response.status_code == 201
    assert response.text == "custom body"
    assert response.headers["X-Made"] == "ctrl"
    assert response.headers["X-Extra"] == "yes"


def test_set_init_ctrl_in_a_script_renders_the_controllers_view(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/from-script.py", params={"who": "<me>"})
    assert response.status_code == 200
    assert response.text == "<p>&lt;me&gt;</p>\n"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"  # simple.html's


def test_init_ctrl_stays_set_while_its_view_renders_and_imports_scripts(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/init-visible")
    assert response.status_code == 200
    assert response.text == "True  7"


def test_script_chooses_the_content_type_of_its_controller_page(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/script-view-type")
    assert response.text == "<p>1</p>\n"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_nested_controllers_push_and_pop_around_their_views(
    server: Server, http: requests.Session
) -> None:
    assert http.get(server.url + "/nested").text == (
        "<p>outer stack=0</p>\n"
        "<p>child stack=1 under outer</p>\n"
        "<p>part sees child</p>\n"
        "<p>back in outer, current outer</p>\n"
        "<p>pushed stack=1</p>\n"
        "<p>outer stack=0</p>\n"
    )


def test_routes_follow_import_ctrls_from_order_then_init_py(
    server: Server, http: requests.Session
) -> None:
    """Modules sorted, a sub-package right after its turn, stacked decorators innermost first."""
    listing = http.get(server.url + "/routes").text
    assert listing.startswith(
        "[GET /order][GET /inner/.*][GET /outer]"
        "[GET /order][POST /form]"
        "[GET /sub-init][GET /sub-leaf]"
        "[GET /plain]"
    )
    assert listing.endswith("[GET *]")


def test_first_decorated_route_wins_and_each_decorator_routes(
    server: Server, http: requests.Session
) -> None:
    assert http.get(server.url + "/order").text == "a_first GET"
    assert http.get(server.url + "/outer").text == "stacked GET"
    assert http.get(server.url + "/inner/x").text == "stacked GET"
    assert http.post(server.url + "/form").text == "posted POST"
    assert http.get(server.url + "/sub-leaf").text == "sub module GET"


def test_concurrent_requests_each_see_their_own_controller(server: Server) -> None:
    def fetch(number: int) -> str:
        with requests.Session() as session:
            return session.get(server.url + "/echo", params={"n": str(number)}).text

    with ThreadPoolExecutor(max_workers=50) as pool:
        pages = list(pool.map(fetch, range(50)))
    assert pages == [f"n={n} current={n} stack=0" for n in range(50)]


def test_jinja2_view_renders_with_autoescape_ctrl_and_krait(
    server: Server, http: requests.Session
) -> None:
    response = http.get(server.url + "/jinja")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.text == (
        "<h1>Jinja &amp; co</h1>\n<ul><li>&lt;one&gt;</li><li>two</li></ul>\n<p>/jinja</p>"
    )


def test_jinja2_syntax_error_is_a_server_error_naming_the_view_line(
    server: Server, http: requests.Session
) -> None:
    assert http.get(server.url + "/jinja-error").status_code == 500
    log = server.stderr()
    assert "TemplateSyntaxError" in log
    assert 'broken.jinja", line 2' in log


def test_pyml_view_syntax_error_teaches_the_closing_at_sign(
    server: Server, http: requests.Session
) -> None:
    assert http.get(server.url + "/broken-view").status_code == 500
    log = server.stderr()
    assert "broken.html:2:17: @ctrl.item</li> is not a Python expression" in log
    assert "end the expression with @ when text follows it directly: @ctrl.item@" in log


def bump_mtime(path: Path) -> None:
    """Move the file's mtime forward, so a reload never depends on the clock's resolution."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


EDITABLE_INIT = """\
import krait
from krait.config import Route
from krait.mvc import SimpleCtrl

krait.config.routes = [
    Route(url="/pyml", ctrl_class=lambda: SimpleCtrl(".view/page.html", {"who": "A"})),
    Route(url="/jinja", ctrl_class=lambda: SimpleCtrl(".view/page.j2", {"who": "A"})),
]
"""


@pytest.mark.parametrize(
    ("url", "view", "edited"),
    [
        ("/pyml", ".view/page.html", "<b>now @ctrl.who@</b>"),
        ("/jinja", ".view/page.j2", "<b>now {{ ctrl.who }}</b>"),
    ],
)
def test_edited_view_is_served_on_the_next_request(
    serve: Callable[..., Server], tmp_path: Path, url: str, view: str, edited: str
) -> None:
    site = write_site(
        tmp_path / "site",
        {
            ".py/init.py": EDITABLE_INIT,
            ".view/page.html": "<i>@ctrl.who@</i>",
            ".view/page.j2": "<i>{{ ctrl.who }}</i>",
        },
    )
    running = serve(site)
    assert requests.get(running.url + url).text == "<i>A</i>"
    (site / view).write_text(edited)
    bump_mtime(site / view)
    assert requests.get(running.url + url).text == "<b>now A</b>"


def test_websocket_controller_route_stops_the_site_with_init_line(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    init = (
        "from krait.mvc import CtrlBase, route_ctrl_decorator\n"
        "\n"
        "@route_ctrl_decorator('WEBSOCKET', url='/ws')\n"
        "class Chat(CtrlBase):\n"
        "    pass\n"
    )
    site = write_site(tmp_path / "site", {".py/init.py": init})
    running = serve(site, wait=False)
    assert running.process.wait(30) == 1
    log = running.stderr()
    assert "init.py:3" in log
    assert "cannot serve a WEBSOCKET route" in log
