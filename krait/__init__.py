"""The root of the Krait API.

As a package it holds :mod:`krait.config`, :mod:`krait.mvc`, :mod:`krait.cookie` and
:mod:`krait.websockets`. As a (pseudo-)module it holds the request being handled
(``krait.request``), the response override (``krait.response``), extra headers, the
content type and the session (``krait.session``). Those look like module globals, as in the
original Krait, but are request-scoped: each request, in whatever thread it runs, sees only
its own values. Outside a request (at import time, or in a thread of your own) they read as
the original's defaults (``None``, an empty list), and setting them raises
:class:`NoActiveRequestError`.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from krait import _context, config, cookie, mvc
from krait._context import NoActiveRequestError, RequestScoped
from krait._mime import content_type_for_ext
from krait._request import Request
from krait._responses import (
    Response,
    ResponseBadRequest,
    ResponseJson,
    ResponseNotFound,
    ResponseRedirect,
)
from krait._session import session

__all__ = [
    "NoActiveRequestError",
    "Request",
    "Response",
    "ResponseBadRequest",
    "ResponseJson",
    "ResponseNotFound",
    "ResponseRedirect",
    "config",
    "cookie",
    "extra_headers",
    "get_full_path",
    "mvc",
    "request",
    "response",
    "session",
    "set_content_type",
    "site_root",
    "websockets",  # imported on first use, see _KraitModule.__getattr__
]

__version__ = "0.2.0"
"""krait's version (the distribution ``krait-server`` takes it from here)."""

site_root: str | None = None
"""The site root, exactly as given on the command line."""


def get_full_path(filename: str) -> str:
    """Convert a filename relative to the site root to its full path.

    Args:
        filename: a path relative to the site root.

    Returns:
        ``os.path.join(krait.site_root, filename)``; not necessarily absolute.
    """
    return os.path.join(site_root or "", filename)


def set_content_type(raw: str | None = None, ext: str | None = None) -> None:
    """Set the response Content-Type, when the route target's extension does not tell it.

    Args:
        raw: a full MIME type, e.g. ``"application/json"``; wins over ``ext``.
        ext: a file extension to derive the type from, e.g. ``"json"``.
    """
    state = _context.current()
    if raw is not None:
        state.content_type = raw
    elif ext is not None:
        state.content_type = content_type_for_ext(ext.lstrip("."))
    else:
        state.content_type = None


class _KraitModule(_context.RequestScopedModule):
    """Routes the request-scoped attributes of ``krait`` to the active request's state."""

    request = RequestScoped[Request | None]("request")
    response = RequestScoped[Any]("response")
    extra_headers = RequestScoped[list[tuple[str, str]]]("extra_headers")
    _content_type = RequestScoped[str | None]("content_type")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), "websockets"})

    def __getattr__(self, name: str) -> Any:
        # The original's krait/__init__.py imported its submodules, and real sites use
        # krait.websockets after a bare `import krait`. It needs Twisted, so it is imported on
        # first use: a pure core (krait._ranges, ...) stays importable without Twisted.
        if name == "websockets":
            return importlib.import_module("krait.websockets")
        raise AttributeError(f"module 'krait' has no attribute {name!r}")


sys.modules[__name__].__class__ = _KraitModule
