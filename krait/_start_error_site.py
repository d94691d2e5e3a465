"""Under ``--reload``, a site that cannot start serves its error instead of ending the process.

Without ``--reload`` a broken ``init.py`` ends start-up with one message and exit status 1
(and a SIGHUP reload with it leaves the old workers serving). While developing, the
developer is looking at the browser: the worker process of ``--reload`` logs the error once
and answers every request with a 500 page that names the file, shows the line at fault with
the code around it and says how to fix it, until a saved change restarts the process with
a site that starts. The listening sockets are the supervisor's all along, so the browser
never meets a refused connection.
"""

from __future__ import annotations

import os
from typing import Any, cast

from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Request

from krait._answers import write_start_error
from krait._app import build_site
from krait._caching import CacheRules
from krait._debug_page import start_error_page
from krait._drain import DEFAULT_SHUTDOWN_TIMEOUT, Drainer
from krait._errors import SiteConfigError
from krait._http import KraitSite
from krait._site import SiteConfig
from krait._tracebacks import CONTEXT_LINES, source_frame

__all__ = ["StartErrorResource", "build_site_or_error_page", "error_page_for"]

log = Logger(namespace="krait")

_SITE_SETTINGS = (
    "access_log",
    "access_format",
    "trusted_proxies",
    "max_body_size",
    "http2",
    "client_limits",
    "max_connections",
)
"""The settings of :func:`krait._app.build_site` that the error site uses as well."""


def build_site_or_error_page(site_root: str, **settings: Any) -> tuple[SiteConfig, KraitSite]:
    """:func:`krait._app.build_site`, or a site that answers every request with its error.

    Args:
        site_root: the site folder.
        settings: the keyword arguments of :func:`krait._app.build_site`.
    """
    try:
        return build_site(site_root, **settings)
    except SiteConfigError as error:
        log.error(
            "the site cannot start; every request gets this error until a change fixes it "
            "(--reload):\n{error}",
            error=str(error),
        )
        reactor = settings["reactor"]
        shutdown_timeout = settings.get("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT)
        site = KraitSite(
            StartErrorResource(error_page_for(error)),
            reactor=reactor,
            drainer=Drainer(reactor, shutdown_timeout),
            **{name: settings[name] for name in _SITE_SETTINGS if name in settings},
        )
        root = os.path.realpath(site_root)
        config = SiteConfig(root=site_root, real_root=root, routes=(), cache_rules=CacheRules())
        return config, site


def error_page_for(error: SiteConfigError) -> bytes:
    """The page of ``error``: its message, the line at fault among its neighbours, the fix."""
    frames = []
    if error.filename and error.line:
        frames.append(source_frame(error.filename, error.line, "", CONTEXT_LINES))
    return start_error_page(error.message, frames, error.filename or "", error.hint)


class StartErrorResource(Resource):
    """Answers every request, whatever its path and method, with the start-up error's 500.

    Args:
        page: the page, made once by :func:`error_page_for`.
    """

    isLeaf = True

    def __init__(self, page: bytes) -> None:
        cast(Any, super()).__init__()
        self.page = page

    def render(self, request: Request) -> bytes:
        return write_start_error(request, self.page)
