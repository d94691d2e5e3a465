"""Start-up checks: mistakes in a site that do not stop it, but would not work as meant.

Each finding is a :class:`SiteWarning` naming the file and line to change and the fix; the
site starts anyway. The checks:

* a route whose ``target`` names no file krait serves;
* routes that ``route_ctrl_decorator`` added and that a later assignment to
  ``krait.config.routes`` dropped (the assignment replaced the list they were in);
* a controller whose view (a ``get_view`` that returns a string literal) is missing, or whose
  name gives no Content-Type while its URL gives none either: the page would go out as
  ``application/octet-stream``, which browsers download.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from collections.abc import Sequence
from typing import Any

from krait._errors import SiteWarning, TargetNotFound
from krait._mime import DEFAULT_TYPE, content_type_for
from krait._route_origins import Origin, origin_of
from krait._targets import resolve_target, resolve_view
from krait.config import Route
from krait.mvc import CtrlBase

JINJA_SUFFIXES = (".j2", ".jinja")


def check_site(
    real_root: str, routes: Sequence[Route], decorated: Sequence[object], init_path: str
) -> list[SiteWarning]:
    """Every warning about a loaded site, in route order.

    Args:
        real_root: the site root's real path.
        routes: ``krait.config.routes`` as ``init.py`` left it.
        decorated: the routes ``route_ctrl_decorator`` added while ``init.py`` ran.
        init_path: the path of ``init.py`` (which may not exist).
    """
    warnings = dropped_routes(routes, decorated, init_path)
    for route in routes:
        if route.target is not None:
            warnings.extend(_missing_target(real_root, route))
        if route.ctrl_class is not None:
            warnings.extend(_view_problems(real_root, route))
    return warnings


def _where(route: object) -> dict[str, Any]:
    origin = origin_of(route)
    return {"filename": origin.filename, "line": origin.line} if origin else {}


def _missing_target(real_root: str, route: Route) -> list[SiteWarning]:
    try:
        resolve_target(real_root, str(route.target))
    except TargetNotFound as error:
        return [
            SiteWarning(
                f"{route!r} targets a file krait cannot serve, so it answers 404: {error.reason}",
                hint="create the file, or correct target= (a path relative to the site "
                "root, outside hidden folders such as .py/ and .private/)",
                **_where(route),
            )
        ]
    return []


def dropped_routes(
    routes: Sequence[Route], decorated: Sequence[object], init_path: str
) -> list[SiteWarning]:
    """One warning when decorated routes are missing from the final ``krait.config.routes``."""
    kept = {id(route) for route in routes}
    dropped = [route for route in decorated if id(route) not in kept]
    if not dropped:
        return []
    names = ", ".join(_decorated_name(route) for route in dropped)
    line = last_routes_assignment(init_path)
    where: dict[str, Any] = {"filename": init_path, "line": line} if line else _where(dropped[0])
    return [
        SiteWarning(
            "krait.config.routes was assigned after controllers added their routes with "
            f"@route_ctrl_decorator, so these routes are gone: {names}",
            hint="add to the list instead of replacing it (krait.config.routes.append(Route("
            "...)) or krait.config.routes += [...]), or assign krait.config.routes before "
            "importing the controllers",
            **where,
        )
    ]


def _decorated_name(route: Any) -> str:
    name = getattr(route.ctrl_class, "__qualname__", repr(route.ctrl_class))
    origin = origin_of(route)
    return f"{name} ({origin.filename}:{origin.line})" if origin else name


def last_routes_assignment(init_path: str) -> int | None:
    """The line of the last ``<...>.routes = ...`` in ``init.py``, if any."""
    return last_assignment(init_path, "routes")


def last_assignment(init_path: str, name: str) -> int | None:
    """The line of the last ``<...>.name = ...`` or ``<...>.name[key] = ...`` in ``init.py``."""
    try:
        with open(init_path, "rb") as file:
            tree = ast.parse(file.read(), init_path)
    except (OSError, SyntaxError, ValueError):
        return None
    lines = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(_names(t, name) for t in node.targets)
    ]
    return max(lines, default=None)


def _names(target: ast.expr, name: str) -> bool:
    if isinstance(target, ast.Subscript):
        target = target.value
    return isinstance(target, ast.Attribute) and target.attr == name


def literal_view(ctrl_class: Any) -> tuple[str, Origin] | None:
    """The view of a controller class whose ``get_view`` only returns a string literal."""
    get_view = getattr(ctrl_class, "get_view", None) if isinstance(ctrl_class, type) else None
    if get_view is None or get_view is CtrlBase.get_view:
        return None
    try:
        lines, first = inspect.getsourcelines(get_view)
        filename = inspect.getsourcefile(get_view)
        function = ast.parse(textwrap.dedent("".join(lines))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None
    if not isinstance(function, ast.FunctionDef) or filename is None:
        return None
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    value = body[0].value
    if not isinstance(value, ast.Constant) or not isinstance(value.value, str):
        return None
    return value.value, Origin(filename, first + body[0].lineno - 1)


def _view_problems(real_root: str, route: Route) -> list[SiteWarning]:
    found = literal_view(route.ctrl_class)
    if found is None:
        return []
    view, origin = found
    where: dict[str, Any] = {"filename": origin.filename, "line": origin.line}
    name = getattr(route.ctrl_class, "__qualname__", "the controller")
    try:
        path = resolve_view(real_root, view)
    except TargetNotFound as error:
        return [
            SiteWarning(
                f"{name}.get_view() returns {view!r}, which is no file of the site, so its "
                f"page answers 500: {error.reason}",
                hint="create the view, or give its path relative to the site root, e.g. "
                "'.view/index.html'",
                **where,
            )
        ]
    typed_by_view = content_type_for(_strip_jinja(view)) != DEFAULT_TYPE
    if typed_by_view or route.url is None or content_type_for(route.url) != DEFAULT_TYPE:
        return []
    if _mentions_set_content_type(path) or _mentions_set_content_type(origin.filename):
        return []
    stem = os.path.basename(_strip_jinja(view)).removesuffix(".pyml")
    return [
        SiteWarning(
            f"the page of {name} at {route.url!r} has no Content-Type: neither its view "
            f"{view!r} nor its URL has an extension that names one, so it goes out as "
            "application/octet-stream and browsers download it",
            hint=f"name the view after what it renders ({stem}.html.pyml for HTML), or call "
            "krait.set_content_type(ext='html') in it",
            **where,
        )
    ]


def _strip_jinja(view: str) -> str:
    for suffix in JINJA_SUFFIXES:
        view = view.removesuffix(suffix)
    return view


def _mentions_set_content_type(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return b"set_content_type" in file.read()
    except OSError:
        return False
