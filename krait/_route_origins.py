"""Where the site's code made each route, for the start-up checks to name file and line.

``krait.config.Route`` records its caller when it is made, and ``route_ctrl_decorator`` notes
the routes it appends, so that ``_site_checks`` can tell which of them a later assignment to
``krait.config.routes`` dropped. Frames of krait itself are skipped: the line named is the
site's (``init.py``, a controller module), never krait's.
"""

from __future__ import annotations

import os
import sys
import weakref
from dataclasses import dataclass

_KRAIT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@dataclass(frozen=True)
class Origin:
    """A place in the site's code: a file and a 1-based line."""

    filename: str
    line: int


_origins: weakref.WeakKeyDictionary[object, Origin] = weakref.WeakKeyDictionary()
_decorated: list[object] = []


def record_caller(route: object) -> None:
    """Remember the first caller outside krait as where ``route`` was made."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_KRAIT_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is not None:
        _origins[route] = Origin(frame.f_code.co_filename, frame.f_lineno)


def origin_of(route: object) -> Origin | None:
    """Where ``route`` was made, if it was recorded."""
    return _origins.get(route)


def note_decorated(route: object) -> None:
    """``route_ctrl_decorator`` appended ``route`` to ``krait.config.routes``."""
    _decorated.append(route)


def decorated_routes() -> list[object]:
    """The routes decorators appended since :func:`forget_decorated`."""
    return list(_decorated)


def forget_decorated() -> None:
    """Start over: a site is being loaded."""
    _decorated.clear()
