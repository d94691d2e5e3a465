"""Answers a 404 or 500 with the site's own error page (``krait.config.error_pages``).

The page is rendered like any page of the site: in the page pool, under the page guard's
limits, with ``krait.request`` describing the request that failed, so a Pyml page can show the
path. Its answer keeps the error's status and is never cached. It is never told why a 500
happened: the traceback stays in the server log (the ``--debug`` page shows it instead of the
site's page). When the page itself fails, the log says so and krait's built-in page is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request

from krait._answers import write_error
from krait._error_pages import accepts_html
from krait._errors import BadRequestPath
from krait._page_guard import PageGuard
from krait._page_writer import PageWriter, is_answered_or_gone
from krait._pages import PageJob, PageRenderer
from krait._raw_requests import raw_request
from krait._request import RawRequest
from krait._targets import decode_path, target_path
from krait._tracebacks import user_traceback

log = Logger(namespace="krait")

# Whatever the page's file is called (a bare errors/404.pyml, say), an error page is HTML
# unless it calls krait.set_content_type.
_TYPED_AS = "error.html"


class ErrorPageWriter:
    """Sends the site's error pages.

    Args:
        pages: the real path of the site's page for each status that has one.
        guard: runs the page in the pool within the page limits.
        renderer: renders the page's file.
        writer: writes the rendered page.
    """

    def __init__(
        self,
        pages: Mapping[int, str],
        guard: PageGuard,
        renderer: PageRenderer,
        writer: PageWriter,
    ) -> None:
        self.pages = dict(pages)
        self.guard = guard
        self.renderer = renderer
        self.writer = writer

    def answer(self, request: Request, status: int) -> bool:
        """Start answering ``request`` with the site's page for ``status``.

        Returns:
            False when the built-in page is to be sent: the site has no page for the status,
            or the client does not accept HTML.
        """
        path = self.pages.get(status)
        if path is None:
            return False
        accept = b", ".join(request.requestHeaders.getRawHeaders(b"accept") or [])
        if not accepts_html(accept.decode("latin-1")):
            return False
        job = PageJob(kind="file", path=path, base_filename=_TYPED_AS)
        self.guard.run(
            request,
            f"the error page {path} ({status})",
            self.renderer.run,
            (job, error_request(request)),
            partial(self._rendered, request, status, job),
        )
        return True

    def _rendered(
        self, request: Request, status: int, job: PageJob, succeeded: bool, value: Any
    ) -> None:
        if is_answered_or_gone(request):
            return
        if succeeded:
            try:
                self.writer.write_page(replace(value, status=status), request, job, b"no-store")
                return
            except Exception:
                value = Failure()
        error = value.value if isinstance(value, Failure) else value
        log.error(
            "the error page {path} failed, so krait's own {status} page was sent:\n{traceback}",
            path=job.path,
            status=status,
            traceback=user_traceback(error) if isinstance(error, BaseException) else error,
        )
        body = write_error(request, status)
        request.write(body)
        request.finish()


def error_request(request: Request) -> RawRequest:
    """The request an error page sees: the one that failed, with no route parameters."""
    raw_path = target_path(request.path) or request.path
    try:
        path = decode_path(raw_path)
    except BadRequestPath:
        path = raw_path.decode("latin-1")
    return raw_request(request, path, {})
