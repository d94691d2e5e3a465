"""MVC support: controllers, the request-scoped controller stack and controller routes.

A controller is any object with a ``get_view()`` method returning a template path relative to
the site root. Templates see the active controller as ``ctrl``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import types
from collections.abc import Callable
from typing import Any, TypeVar

from krait import _context, _route_origins, config

__all__ = [
    "CtrlBase",
    "SimpleCtrl",
    "ctrl_stack",  # noqa: F822 (a property of the module's class)
    "curr_ctrl",  # noqa: F822 (a property of the module's class)
    "import_ctrls_from",
    "init_ctrl",  # noqa: F822 (a property of the module's class)
    "pop_ctrl",
    "push_ctrl",
    "route_ctrl_decorator",
    "set_init_ctrl",
]

T = TypeVar("T")


class CtrlBase:
    """The base of an MVC controller; subclasses override :meth:`get_view`."""

    def get_view(self) -> str:
        """The template this controller renders with.

        Returns:
            A path relative to the site root, e.g. ``".view/index.html"``.
        """
        raise NotImplementedError(
            f"{type(self).__name__}.get_view() must return the path of its template, relative "
            "to the site root (e.g. '.view/index.html')"
        )


class SimpleCtrl(CtrlBase):
    """A controller built from a view path and a dict of attributes.

    Args:
        view: the template this controller renders with.
        members: attributes set on the instance.
    """

    def __init__(self, view: str, members: dict[str, Any]) -> None:
        self.view = view
        for name, value in members.items():
            setattr(self, name, value)

    def get_view(self) -> str:
        """The view given to the constructor."""
        return self.view


def set_init_ctrl(ctrl: Any) -> None:
    """Render ``ctrl``'s view after the route target has finished.

    Args:
        ctrl: the controller object to render.
    """
    _context.current().init_ctrl = ctrl


def push_ctrl(new_ctrl: T) -> T:
    """Make ``new_ctrl`` the current controller, keeping the previous one on the stack.

    Args:
        new_ctrl: the new current controller.

    Returns:
        ``new_ctrl`` itself.
    """
    state = _context.current()
    if state.curr_ctrl is not None:
        state.ctrl_stack.append(state.curr_ctrl)
    state.curr_ctrl = new_ctrl
    return new_ctrl


def pop_ctrl() -> Any:
    """Restore the previous controller from the stack.

    Returns:
        The new current controller, or None when the stack was empty.
    """
    state = _context.current()
    state.curr_ctrl = state.ctrl_stack.pop() if state.ctrl_stack else None
    return state.curr_ctrl


def route_ctrl_decorator(
    verb: str = "GET", url: str | None = None, regex: str | None = None
) -> Callable[[T], T]:
    """A class decorator that routes requests to the decorated controller.

    Args:
        verb: the routing verb (``WEBSOCKET`` is not allowed).
        url: the exact path to match, or None.
        regex: a regex that must fully match the path, or None.

    Returns:
        A decorator that appends ``Route(verb, url, regex, ctrl_class=cls)`` to
        ``krait.config.routes`` and returns the class unchanged.
    """

    def decorate(cls: T) -> T:
        route = config.Route(verb, url, regex, ctrl_class=cls)  # type: ignore[arg-type]
        if config.routes is None:
            config.routes = []
        config.routes.append(route)
        _route_origins.note_decorated(route)
        return cls

    return decorate


def import_ctrls_from(package_name: str) -> None:
    """Import every module of a package, recursively, in a deterministic order.

    Importing runs the modules' :func:`route_ctrl_decorator` calls, so their routes are added
    in that order. Modules are imported depth first: the package, then its modules in sorted
    order, each sub-package followed at once by its own modules. A package whose ``__all__``
    names some of its modules has just those imported, in the listed order (as the original
    Krait did); an ``__all__`` that names none of them (only classes, say) is ignored.

    Args:
        package_name: a package importable as ``import <package_name>`` (the site's ``.py``
            folder is on ``sys.path``).

    Raises:
        ImportError: the package or one of its modules cannot be imported.
    """
    _import_modules_of(importlib.import_module(package_name))


def _import_modules_of(package: types.ModuleType) -> None:
    paths = [os.fspath(path) for path in getattr(package, "__path__", [])]
    if not paths:
        return
    found = {info.name: info.ispkg for info in pkgutil.iter_modules(paths)}
    listed = getattr(package, "__all__", None) or []
    names = [name for name in listed if isinstance(name, str) and name in found]
    for name in names or sorted(found):
        module = importlib.import_module(f"{package.__name__}.{name}")
        if found[name]:
            _import_modules_of(module)


class _MvcModule(_context.RequestScopedModule):
    """Routes the controller stack attributes to the active request's state."""

    init_ctrl = _context.RequestScoped[Any]("init_ctrl")
    curr_ctrl = _context.RequestScoped[Any]("curr_ctrl")
    ctrl_stack = _context.RequestScoped[list[Any]]("ctrl_stack")


sys.modules[__name__].__class__ = _MvcModule
