"""krait.mvc as plain Python: the controller stack, controllers, route decorators and imports.

The request-scoped attributes are exercised inside an activated request state, the way the
page runner activates one for every request; end-to-end behaviour is in ``test_mvc_e2e.py``.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from krait import _context, config, mvc
from krait._context import NoActiveRequestError, RequestState
from krait.config import ConfigError, Route


class Named(mvc.CtrlBase):
    def __init__(self, name: str) -> None:
        self.name = name

    def get_view(self) -> str:
        return f".view/{self.name}.html"


def in_request() -> AbstractContextManager[RequestState]:
    """A fresh request state, active in the test's own context while the block runs."""
    return _context.activate(RequestState())


@pytest.fixture
def routes() -> Iterator[list[Route]]:
    """``krait.config.routes`` as a fresh list, restored after the test."""
    saved = config.routes
    config.routes = []
    yield config.routes
    config.routes = saved


def test_push_ctrl_makes_the_controller_current_and_returns_it() -> None:
    with in_request():
        outer = Named("outer")
        assert mvc.push_ctrl(outer) is outer
        assert mvc.curr_ctrl is outer
        assert mvc.ctrl_stack == []


def test_push_ctrl_keeps_the_previous_controller_on_the_stack() -> None:
    with in_request():
        outer, inner = Named("outer"), Named("inner")
        mvc.push_ctrl(outer)
        mvc.push_ctrl(new_ctrl=inner)  # the documented parameter name
        assert mvc.curr_ctrl is inner
        assert mvc.ctrl_stack == [outer]


def test_pop_ctrl_restores_and_returns_the_previous_controller() -> None:
    with in_request():
        outer = mvc.push_ctrl(Named("outer"))
        mvc.push_ctrl(Named("inner"))
        assert mvc.pop_ctrl() is outer
        assert mvc.curr_ctrl is outer
        assert mvc.ctrl_stack == []


def test_pop_ctrl_on_an_empty_stack_clears_the_current_controller() -> None:
    with in_request():
        mvc.push_ctrl(Named("only"))
        assert mvc.pop_ctrl() is None
        assert mvc.curr_ctrl is None
        assert mvc.pop_ctrl() is None


def test_set_init_ctrl_sets_init_ctrl() -> None:
    with in_request() as state:
        ctrl = Named("page")
        mvc.set_init_ctrl(ctrl)
        assert mvc.init_ctrl is ctrl
        assert state.init_ctrl is ctrl


def test_controller_state_belongs_to_the_active_request() -> None:
    first, second = RequestState(), RequestState()
    with _context.activate(first):
        mvc.push_ctrl(Named("first"))
        with _context.activate(second):
            assert mvc.curr_ctrl is None
            mvc.curr_ctrl = Named("second")
        assert mvc.curr_ctrl.name == "first"
    assert second.curr_ctrl.name == "second"


def test_the_stack_attributes_can_be_assigned_as_in_the_original() -> None:
    with in_request() as state:
        mvc.ctrl_stack = [Named("a")]
        mvc.init_ctrl = Named("b")
        assert [c.name for c in state.ctrl_stack] == ["a"]
        assert state.init_ctrl.name == "b"


def test_controller_state_outside_a_request_reads_as_the_documented_defaults() -> None:
    assert (mvc.init_ctrl, mvc.curr_ctrl, mvc.ctrl_stack) == (None, None, [])


def test_setting_controller_state_outside_a_request_raises_a_clear_error() -> None:
    with pytest.raises(NoActiveRequestError, match="only while a request is handled"):
        mvc.curr_ctrl = object()
    with pytest.raises(NoActiveRequestError, match="only while a request is handled"):
        mvc.set_init_ctrl(object())


def test_star_import_of_krait_mvc_works_outside_a_request() -> None:
    names: dict[str, object] = {}
    exec("from krait.mvc import *", names)
    assert names["curr_ctrl"] is None
    assert names["CtrlBase"] is mvc.CtrlBase


def test_simple_ctrl_has_its_view_and_members_as_attributes() -> None:
    ctrl = mvc.SimpleCtrl(".view/simple.html", {"title": "Hi", "items": [1, 2]})
    assert ctrl.get_view() == ".view/simple.html"
    assert ctrl.view == ".view/simple.html"
    assert (ctrl.title, ctrl.items) == ("Hi", [1, 2])  # type: ignore[attr-defined]
    assert isinstance(ctrl, mvc.CtrlBase)


def test_ctrl_base_get_view_says_what_to_override() -> None:
    class Forgetful(mvc.CtrlBase):
        pass

    with pytest.raises(NotImplementedError, match=r"Forgetful\.get_view\(\) must return"):
        Forgetful().get_view()


def test_route_ctrl_decorator_appends_a_route_and_returns_the_class(routes: list[Route]) -> None:
    @mvc.route_ctrl_decorator("POST", url="/form")
    class Form(Named):
        pass

    assert isinstance(Form, type)
    (route,) = config.routes or []
    assert (route.verb, route.url, route.regex, route.ctrl_class) == ("POST", "/form", None, Form)
    assert route.target is None


def test_route_ctrl_decorator_defaults_to_get() -> None:
    saved = config.routes
    config.routes = None
    try:
        mvc.route_ctrl_decorator(regex=r"/x/.*")(Named)
        assert [(r.verb, r.regex) for r in config.routes or []] == [("GET", r"/x/.*")]
    finally:
        config.routes = saved


def test_stacked_route_ctrl_decorators_append_the_innermost_first(routes: list[Route]) -> None:
    @mvc.route_ctrl_decorator(url="/http")
    @mvc.route_ctrl_decorator(regex=r"/http\+.*")
    class Http(Named):
        pass

    assert [(r.url, r.regex) for r in routes] == [(None, r"/http\+.*"), ("/http", None)]


def test_route_ctrl_decorator_refuses_websocket(routes: list[Route]) -> None:
    with pytest.raises(ConfigError, match="cannot serve a WEBSOCKET route"):
        mvc.route_ctrl_decorator("WEBSOCKET", url="/ws")(Named)
    assert routes == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verb": "GETT", "ctrl_class": Named}, "Route verb 'GETT' is not one of GET, POST"),
        ({"target": "a.html", "ctrl_class": Named}, "either target= or ctrl_class=, not both"),
        ({"verb": "WEBSOCKET", "ctrl_class": Named}, "route the upgrade to a .py target"),
    ],
)
def test_route_with_a_controller_validates_its_arguments(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Route(**kwargs)


def test_route_accepts_any_callable_as_controller_factory() -> None:
    def factory() -> Named:
        return Named("made")

    assert Route(url="/", ctrl_class=factory).ctrl_class is factory


def write_package(root: Path, files: dict[str, str]) -> str:
    """Write a uniquely named package under ``root``; returns its name."""
    name = f"ctrls_{uuid.uuid4().hex[:12]}"
    for relative, source in files.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return name


RECORD = "import krait.config as c; c.routes.append(__name__.split('.', 1)[-1])\n"
"""A module body that records its own import in ``krait.config.routes``."""


@pytest.fixture
def imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, routes: list[Route]
) -> Iterator[Path]:
    """A folder on sys.path; the test's packages are unloaded afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_import_ctrls_from_imports_modules_sorted_and_sub_packages_depth_first(
    imported: Path,
) -> None:
    package = write_package(
        imported,
        {
            "__init__.py": "",
            "b_second.py": RECORD,
            "a_first.py": RECORD,
            "m_sub/__init__.py": RECORD,
            "m_sub/z_inner.py": RECORD,
            "m_sub/deeper/__init__.py": RECORD,
            "m_sub/deeper/leaf.py": RECORD,
            "m_sub/a_inner.py": RECORD,
            "n_after.py": RECORD,
            "not_python.txt": "ignored",
        },
    )
    mvc.import_ctrls_from(package)
    assert config.routes == [
        "a_first",
        "b_second",
        "m_sub",
        "m_sub.a_inner",
        "m_sub.deeper",
        "m_sub.deeper.leaf",
        "m_sub.z_inner",
        "n_after",
    ]


def test_import_ctrls_from_follows_an_all_that_names_modules(imported: Path) -> None:
    package = write_package(
        imported,
        {
            "__init__.py": "__all__ = ['zeta', 'alpha']\n",
            "alpha.py": RECORD,
            "zeta.py": RECORD,
            "unlisted.py": RECORD,
        },
    )
    mvc.import_ctrls_from(package)
    assert config.routes == ["zeta", "alpha"]


def test_import_ctrls_from_ignores_an_all_that_names_no_module(imported: Path) -> None:
    package = write_package(
        imported,
        {
            "__init__.py": "from .alpha import Alpha\n__all__ = ['Alpha']\n",
            "alpha.py": RECORD + "class Alpha: pass\n",
            "beta.py": RECORD,
        },
    )
    mvc.import_ctrls_from(package)
    assert config.routes == ["alpha", "beta"]


def test_import_ctrls_from_a_plain_module_imports_just_that_module(imported: Path) -> None:
    (imported / "lonely_ctrl_module.py").write_text(RECORD)
    mvc.import_ctrls_from("lonely_ctrl_module")
    assert config.routes == ["lonely_ctrl_module"]


def test_import_ctrls_from_lets_import_errors_through(imported: Path) -> None:
    package = write_package(imported, {"__init__.py": "", "broken.py": "import no_such_mod\n"})
    with pytest.raises(ModuleNotFoundError, match="no_such_mod"):
        mvc.import_ctrls_from(package)
