"""RequestScoped: a module attribute that lives in the active request's state."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from krait import _context
from krait._context import NoActiveRequestError, RequestScoped, RequestState


class _Module(_context.RequestScopedModule):
    curr_ctrl = RequestScoped[object]("curr_ctrl")
    ctrl_stack = RequestScoped[list[object]]("ctrl_stack")
    _hidden = RequestScoped[str | None]("content_type")


def make_module() -> _Module:
    module = types.ModuleType("scoped_example")
    module.__class__ = _Module
    return module  # type: ignore[return-value]


def test_outside_a_request_reads_the_defaults() -> None:
    module = make_module()
    assert module.curr_ctrl is None
    assert module.ctrl_stack == []
    assert hasattr(module, "curr_ctrl")


def test_setting_outside_a_request_raises_no_active_request() -> None:
    module = make_module()
    with pytest.raises(NoActiveRequestError):
        module.curr_ctrl = "ctrl"


def test_inside_a_request_reads_and_writes_that_request_state() -> None:
    module = make_module()
    state = RequestState()
    with _context.activate(state):
        module.curr_ctrl = "ctrl"
        assert module.curr_ctrl == "ctrl"
    assert state.curr_ctrl == "ctrl"
    assert module.curr_ctrl is None


def test_public_scoped_names_show_in_dir_and_private_ones_do_not() -> None:
    names = dir(make_module())
    assert {"curr_ctrl", "ctrl_stack"} <= set(names)
    assert "_hidden" not in names


def test_a_field_the_state_does_not_have_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"no field 'curr_ctl'.*'curr_ctrl'"):
        RequestScoped[object]("curr_ctl")


def test_the_class_attribute_is_the_descriptor_itself() -> None:
    assert isinstance(_Module.curr_ctrl, RequestScoped)


def test_enter_makes_a_state_active_until_leave_restores_the_one_before() -> None:
    outer, inner = RequestState(), RequestState()
    with _context.activate(outer):
        token = _context.enter(inner)
        assert _context.current() is inner
        _context.leave(token)
        assert _context.current() is outer
    with pytest.raises(NoActiveRequestError):
        _context.current()


def test_a_page_that_raises_leaves_no_state_behind(tmp_path: Path) -> None:
    from krait._pages import PageJob, PageRenderer
    from krait._request import RawRequest

    (tmp_path / "boom.py").write_text("raise ValueError('boom')\n")
    job = PageJob(kind="script", path=str(tmp_path / "boom.py"), base_filename="boom.py")
    raw = RawRequest(b"GET", "/boom", b"/boom", b"HTTP/1.1", [], None)
    with pytest.raises(ValueError, match="boom"):
        PageRenderer(str(tmp_path)).run(job, raw)
    with pytest.raises(NoActiveRequestError):
        _context.current()
